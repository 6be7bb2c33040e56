//! Every poll_oneoff call opens a trace-level span `poll_oneoff` with the fields timeout_ms,
//! fd_guards (fd subscriptions) and seen (events reported).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use waitset_wasi::abi::{
    clockid, Errno, Subscription, SubscriptionClock, SubscriptionFdReadwrite, SubscriptionKind,
};
use waitset_wasi::{poll_oneoff, WasiCtx};

/// One recorded span: name, level, fields.
type SpanRecord = (String, tracing::Level, BTreeMap<String, String>);

/// Records the name, level and fields of every span.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push((
            attrs.metadata().name().to_string(),
            *attrs.metadata().level(),
            fields,
        ));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let idx = id.into_u64() as usize - 1;
        values.record(&mut Fields(&mut spans[idx].2));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn each_call_has_a_trace_span_with_timeout_fd_guards_and_seen() {
    let rec = Recorder::default();
    let spans = rec.spans.clone();
    tracing::subscriber::with_default(rec, || {
        let mut ctx = WasiCtx::builder().build().unwrap();
        let subs = [
            Subscription {
                userdata: 1,
                kind: SubscriptionKind::Clock(SubscriptionClock {
                    id: clockid::MONOTONIC,
                    timeout: 20_000_000,
                    precision: 0,
                    flags: 0,
                }),
            },
            Subscription {
                userdata: 2,
                kind: SubscriptionKind::FdRead(SubscriptionFdReadwrite { fd: 77 }),
            },
            Subscription {
                userdata: 3,
                kind: SubscriptionKind::FdWrite(SubscriptionFdReadwrite { fd: 78 }),
            },
        ];
        let mut mem = vec![0u8; 4096];
        for (i, s) in subs.iter().enumerate() {
            let slot: &mut [u8; 48] = (&mut mem[i * 48..i * 48 + 48]).try_into().unwrap();
            s.encode(slot);
        }
        assert_eq!(
            poll_oneoff(&mut ctx, &mut mem, 0, 1024, 3, 2048),
            Errno::SUCCESS
        );
    });
    let spans = spans.lock().unwrap();
    let (name, level, fields) = spans
        .iter()
        .find(|(n, _, _)| n == "poll_oneoff")
        .expect("a poll_oneoff span");
    assert_eq!(name, "poll_oneoff");
    assert_eq!(*level, tracing::Level::TRACE);
    assert_eq!(fields.get("timeout_ms").map(String::as_str), Some("20"));
    assert_eq!(fields.get("fd_guards").map(String::as_str), Some("2"));
    // both fds are not in the table: two BADF events, returned at once
    assert_eq!(fields.get("seen").map(String::as_str), Some("2"));
}
