//! Every WaitSet::wait opens a trace-level span `wait` with the fields timeout_ms, entries and
//! seen.

mod util;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use util::*;
use waitset::{Deadline, Error, Signals, WaitResult};

/// (name, level, fields) of every span opened.
type Spans = Arc<Mutex<Vec<(String, tracing::Level, BTreeMap<String, String>)>>>;

struct Recorder(Spans);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push((
            attrs.metadata().name().to_string(),
            *attrs.metadata().level(),
            fields,
        ));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().unwrap();
        values.record(&mut Fields(&mut spans[id.into_u64() as usize - 1].2));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn each_wait_has_a_trace_span_with_timeout_entries_and_seen() {
    each_backend(|k| {
        let spans = Spans::default();
        tracing::subscriber::with_default(Recorder(spans.clone()), || {
            let s = set(k);
            let (r, w) = pipe();
            let (r2, _w2) = pipe();
            s.add(1, fd_source(&r), Signals::READABLE).unwrap();
            s.add(2, fd_source(&r2), Signals::READABLE).unwrap();
            let mut out = [WaitResult::default(); 4];
            assert!(matches!(
                s.wait(Deadline::after(Duration::from_millis(20)), &mut out),
                Err(Error::TimedOut)
            ));
            write(&w, b"x");
            assert_eq!(s.wait(Deadline::INFINITE, &mut out).unwrap(), 1);
        });
        let spans = spans.lock().unwrap();
        let waits: Vec<_> = spans.iter().filter(|(name, _, _)| name == "wait").collect();
        assert_eq!(waits.len(), 2, "one span per wait: {spans:?}");
        for (_, level, _) in &waits {
            assert_eq!(*level, tracing::Level::TRACE);
        }
        let f0 = &waits[0].2;
        let t0: i64 = f0["timeout_ms"].parse().unwrap();
        assert!((1..=20).contains(&t0), "timeout_ms {t0}");
        assert_eq!((f0["entries"].as_str(), f0["seen"].as_str()), ("2", "0"));
        let f1 = &waits[1].2;
        assert_eq!(
            (
                f1["timeout_ms"].as_str(),
                f1["entries"].as_str(),
                f1["seen"].as_str()
            ),
            ("-1", "2", "1")
        );
    });
}
