//! Watches: chunked JSON lines from the event log, with bookmarks, `timeoutSeconds`, the 410
//! ERROR event for a resourceVersion the log no longer holds, and the initial events of
//! `sendInitialEvents`.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::WatchEvent;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::error::ApiError;
use super::{Ctx, Reply, table};
use crate::kind::Kind;
use crate::store::{Event, EventType, Filter, StoreError};

struct Watch {
    kind: Kind,
    filter: Filter,
    table: bool,
}

impl Watch {
    fn line(&self, event: WatchEvent<Value>) -> Bytes {
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn render(&self, object: &Value, now: Timestamp) -> Value {
        if self.table {
            let rv = crate::store::rv_of(object).unwrap_or(0);
            table::table(self.kind, &[object], rv, now)
        } else {
            object.clone()
        }
    }

    /// The line an event of the log becomes for this watch, if any: an object that stops
    /// matching the selectors is DELETED for it, one that starts matching is ADDED.
    fn event(&self, e: &Event, now: Timestamp) -> Option<Bytes> {
        let new = self.filter.matches(&e.object);
        let old = e.old.as_deref().is_some_and(|o| self.filter.matches(o));
        let object = self.render(&e.object, now);
        let event = match (e.event_type, old, new) {
            (EventType::Added, _, true) | (EventType::Modified, false, true) => {
                WatchEvent::Added(object)
            }
            (EventType::Modified, true, true) => WatchEvent::Modified(object),
            (EventType::Modified, true, false) | (EventType::Deleted, true, _) => {
                WatchEvent::Deleted(object)
            }
            _ => return None,
        };
        Some(self.line(event))
    }

    /// A bookmark, with the `apiVersion` and `kind` kube-rs needs (k8s-openapi's own bookmark
    /// leaves them out).
    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let event = json!({"type": "BOOKMARK",
                           "object": {"kind": self.kind.name(), "apiVersion": self.kind.api_version(), "metadata": meta}});
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn expired(&self, e: StoreError) -> Bytes {
        self.line(WatchEvent::ErrorStatus(ApiError::from(e).status()))
    }
}

fn flag(query: &HashMap<String, String>, key: &str) -> bool {
    matches!(query.get(key).map(String::as_str), Some("true" | "1"))
}

/// Starts a watch: answers 200 at once and streams from a task until the client goes away,
/// `timeoutSeconds` passes or the server shuts down.
pub(crate) fn start(
    ctx: &Ctx,
    kind: Kind,
    filter: Filter,
    query: &HashMap<String, String>,
    table: bool,
) -> Result<Reply, ApiError> {
    let from = match query.get("resourceVersion").map(String::as_str) {
        None | Some("" | "0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let timeout = match query.get("timeoutSeconds") {
        Some(t) => Some(Duration::from_secs(t.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid timeoutSeconds {t:?}"))
        })?)),
        None => None,
    };
    let bookmarks = flag(query, "allowWatchBookmarks") && !table;
    let initial_events = flag(query, "sendInitialEvents");
    let watch = Watch {
        kind,
        filter,
        table,
    };

    // Without a resourceVersion (or with "0", or with sendInitialEvents) the watch starts with
    // the current state as ADDED events, as the API server's watch cache does.
    let start = ctx.handle.read(|s| {
        let now = s.now();
        match from {
            Some(rv) if !initial_events => s.events_since(kind, rv).map(|_| (Vec::new(), rv)),
            _ => {
                let (items, rv) = s.list(kind, &watch.filter);
                let lines = items
                    .iter()
                    .map(|o| watch.line(WatchEvent::Added(watch.render(o, now))))
                    .collect();
                Ok((lines, rv))
            }
        }
    });
    let (mut initial, mut cur) = match start {
        Ok(start) => start,
        Err(e) => {
            tracing::debug!(%kind, error = %e, "watch from an expired resourceVersion");
            return Ok(Reply::bytes(StatusCode::OK, watch.expired(e)));
        }
    };
    if initial_events {
        initial.push(watch.bookmark(cur, true));
    }

    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let handle = ctx.handle.clone();
    let mut shutdown = ctx.shutdown.clone();
    let interval = ctx.config.bookmark_interval;
    let mut changes = handle.subscribe();
    tokio::spawn(async move {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut next_bookmark = Instant::now() + interval;
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        loop {
            let step = handle.read(|s| {
                let now = s.now();
                match s.events_since(kind, cur) {
                    Ok(events) => Ok((
                        events
                            .filter_map(|e| watch.event(e, now))
                            .collect::<Vec<_>>(),
                        s.resource_version(),
                    )),
                    Err(e) => Err(watch.expired(e)),
                }
            });
            match step {
                Ok((lines, rv)) => {
                    cur = rv;
                    for line in lines {
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
                Err(line) => {
                    let _ = tx.send(line).await;
                    return;
                }
            }
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = sleep_until(deadline.unwrap_or(next_bookmark)), if deadline.is_some() => return,
                _ = sleep_until(next_bookmark), if bookmarks => {
                    next_bookmark = Instant::now() + interval;
                    if tx.send(watch.bookmark(cur, false)).await.is_err() {
                        return;
                    }
                }
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(Reply::stream(rx))
}
