//! The event log's entries and the clock the store stamps time from.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::kind::Kind;

/// Where the store reads the time it stamps `creationTimestamp` with and tables show ages from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        let nanos = i32::try_from(since.subsec_nanos()).unwrap_or(0);
        Timestamp::new(secs, nanos).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed; the event carries its last state with the deletion's resourceVersion.
    Deleted,
}

/// One entry of the event log.
#[derive(Clone, Debug)]
pub struct Event {
    /// The resourceVersion of this write.
    pub rv: u64,
    /// The object's kind.
    pub kind: Kind,
    /// Its namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// What happened.
    pub event_type: EventType,
    /// The object after the write (for a deletion: its last state).
    pub object: Arc<Value>,
    /// The object before the write, for watches with selectors (an object that stops matching
    /// is DELETED for them, one that starts matching is ADDED).
    pub old: Option<Arc<Value>>,
}
