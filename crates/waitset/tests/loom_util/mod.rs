//! What every loom model of this crate shares: each model runs once per wake-channel kind.

use waitset::BackendKind;

/// Check `f` with the wake channel of each kind: edges (epoll) and tokens (poll(2)).
pub fn model(f: impl Fn() + Sync + Send + Clone + 'static) {
    for kind in [BackendKind::Epoll, BackendKind::Poll] {
        KIND.with(|k| k.set(kind));
        check(f.clone());
    }
}

std::thread_local! {
    /// The kind the current model runs with. Per test thread: the harness runs tests in
    /// parallel, and a model must see the same kind in every execution (loom runs a model's
    /// threads on the test's own thread).
    static KIND: std::cell::Cell<BackendKind> = const { std::cell::Cell::new(BackendKind::Epoll) };
}

/// The backend kind of the model being checked.
pub fn kind() -> BackendKind {
    KIND.with(|k| k.get())
}

/// Explore `f` with loom, preemptions bounded to keep CI inside its time limit.
pub fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b.check(f);
}
