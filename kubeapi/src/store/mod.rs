//! The sans-IO core: objects by kind, namespace and name under one resourceVersion counter,
//! and the bounded event log that watches resume from. No I/O and no async: the HTTP server
//! and the owner drive it through [`crate::Handle`], tests drive it directly. Time comes from
//! an injected [`Clock`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::kind::Kind;
use crate::merge::merge_patch;
use crate::select::{Fields, Labels};

mod error;
mod event;

pub use error::StoreError;
pub use event::{Clock, Event, EventType, SystemClock};

/// Which objects a list or watch selects.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// The `labelSelector`.
    pub labels: Labels,
    /// The `fieldSelector`.
    pub fields: Fields,
}

impl Filter {
    /// Whether the object (of the filter's kind) is selected.
    pub fn matches(&self, object: &Value) -> bool {
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| namespace_of(object) == ns);
        ns_ok && self.labels.matches_object(object) && self.fields.matches_object(object)
    }
}

type Key = (Kind, String, String);

/// Objects, the resourceVersion counter and the event log.
pub struct Store {
    objects: BTreeMap<Key, Arc<Value>>,
    rv: u64,
    uids: u64,
    log: VecDeque<Event>,
    log_capacity: usize,
    compacted_through: u64,
    clock: Box<dyn Clock>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("objects", &self.objects.len())
            .field("rv", &self.rv)
            .field("log", &self.log.len())
            .finish()
    }
}

/// An object's `metadata.namespace` ("" when absent).
pub fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// An object's `metadata.name` ("" when absent).
pub fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// An object's `metadata.resourceVersion`, if it has one that is a number.
pub fn rv_of(object: &Value) -> Option<u64> {
    object
        .pointer("/metadata/resourceVersion")?
        .as_str()?
        .parse()
        .ok()
}

impl Store {
    /// An empty store on the system clock, keeping the last 1,000 events.
    pub fn new() -> Store {
        Store::with_clock(Box::new(SystemClock))
    }

    /// An empty store on the given clock.
    pub fn with_clock(clock: Box<dyn Clock>) -> Store {
        Store {
            objects: BTreeMap::new(),
            rv: 0,
            uids: 0,
            log: VecDeque::new(),
            log_capacity: 1000,
            compacted_through: 0,
            clock,
        }
    }

    /// Keeps at most `events` events for watches to resume from (at least one).
    pub fn with_log_capacity(mut self, events: usize) -> Store {
        self.log_capacity = events.max(1);
        self
    }

    /// The current instant of the store's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The resourceVersion of the latest write.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch can resume from.
    pub fn oldest_resumable(&self) -> u64 {
        self.compacted_through
    }

    /// The object, if it exists. `namespace` is ignored for cluster-scoped kinds.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects.get(&key(kind, namespace, name)).cloned()
    }

    /// The selected objects of a kind, in namespace and name order, and the resourceVersion
    /// the list is current at.
    pub fn list(&self, kind: Kind, filter: &Filter) -> (Vec<Arc<Value>>, u64) {
        let items = self
            .objects
            .range((kind, String::new(), String::new())..)
            .take_while(|((k, _, _), _)| *k == kind)
            .filter(|(_, o)| filter.matches(o))
            .map(|(_, o)| o.clone())
            .collect();
        (items, self.rv)
    }

    /// Creates an object (namespace from `namespace` when the object has none).
    pub fn create(
        &mut self,
        kind: Kind,
        namespace: &str,
        object: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let k = key_of(kind, namespace, &object);
        if self.objects.contains_key(&k) {
            return Err(StoreError::AlreadyExists { kind, name: k.2 });
        }
        self.write(kind, k, object, None)
    }

    /// Creates or replaces an object. With `check_rv`, a `metadata.resourceVersion` in the
    /// object must be the stored one (a client's PUT); the owner's writes pass `false`.
    pub fn replace(
        &mut self,
        kind: Kind,
        namespace: &str,
        object: Value,
        check_rv: bool,
    ) -> Result<(Arc<Value>, bool), StoreError> {
        let k = key_of(kind, namespace, &object);
        let old = self.objects.get(&k).cloned();
        if check_rv {
            check_precondition(kind, &k.2, &object, old.as_deref())?;
        }
        let created = old.is_none();
        Ok((self.write(kind, k, object, old)?, created))
    }

    /// Applies a JSON merge patch to an existing object.
    pub fn patch(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Arc<Value>, StoreError> {
        let k = key(kind, namespace, name);
        let old = self
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| not_found(kind, name))?;
        check_precondition(kind, name, patch, Some(&old))?;
        let mut new = (*old).clone();
        merge_patch(&mut new, patch);
        self.write(kind, k, new, Some(old))
    }

    /// Server-side apply, simplified: creates the object, or merges the applied configuration
    /// into it (maps recurse, lists and scalars replace; fields a manager stops applying are
    /// kept). Returns the object and whether it was created.
    pub fn apply(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        applied: &Value,
    ) -> Result<(Arc<Value>, bool), StoreError> {
        let k = key(kind, namespace, name);
        let old = self.objects.get(&k).cloned();
        let mut new = old.as_deref().cloned().unwrap_or_else(|| json!({}));
        let mut applied = applied.clone();
        if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("uid");
            meta.remove("creationTimestamp");
        }
        merge_patch(&mut new, &applied);
        let created = old.is_none();
        Ok((self.write(kind, k, new, old)?, created))
    }

    /// Deletes an object; its DELETED event carries the deletion's resourceVersion.
    pub fn delete(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, StoreError> {
        let k = key(kind, namespace, name);
        let old = self
            .objects
            .remove(&k)
            .ok_or_else(|| not_found(kind, name))?;
        self.rv += 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let last = Arc::new(last);
        self.log_event(kind, k.1, EventType::Deleted, last.clone(), Some(old));
        Ok(last)
    }

    /// The events after `rv` of one kind, or [`StoreError::Expired`] when the log no longer
    /// reaches back to `rv`.
    pub fn events_since(
        &self,
        kind: Kind,
        rv: u64,
    ) -> Result<impl Iterator<Item = &Event>, StoreError> {
        if rv < self.compacted_through {
            return Err(StoreError::Expired {
                requested: rv,
                oldest: self.compacted_through,
            });
        }
        let start = self.log.partition_point(|e| e.rv <= rv);
        Ok(self.log.range(start..).filter(move |e| e.kind == kind))
    }

    /// Forgets the whole event log, as etcd compaction does: every watch from an older
    /// resourceVersion gets a 410 and must list again.
    pub fn compact(&mut self) {
        self.log.clear();
        self.compacted_through = self.rv;
    }

    fn write(
        &mut self,
        kind: Kind,
        k: Key,
        mut new: Value,
        old: Option<Arc<Value>>,
    ) -> Result<Arc<Value>, StoreError> {
        let name = k.2.clone();
        if !new.is_object() {
            return Err(invalid(
                kind,
                &name,
                "an object must be a JSON object".into(),
            ));
        }
        if name.is_empty() {
            return Err(invalid(kind, &name, "metadata.name: Required value".into()));
        }
        new["apiVersion"] = json!(kind.api_version());
        new["kind"] = json!(kind.name());
        if !new.get("metadata").is_some_and(Value::is_object) {
            new["metadata"] = json!({});
        }
        let generation = match &old {
            None => 1,
            Some(old) => {
                let was = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                if old.get("spec") != new.get("spec") {
                    was + 1
                } else {
                    was
                }
            }
        };
        let (uid, created) = match &old {
            Some(old) => (
                old["metadata"]["uid"].clone(),
                old["metadata"]["creationTimestamp"].clone(),
            ),
            None => {
                self.uids += 1;
                let now = Timestamp::from_second(self.clock.now().as_second())
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                (
                    json!(format!("00000000-0000-4000-8000-{:012x}", self.uids)),
                    json!(now.to_string()),
                )
            }
        };
        let meta = &mut new["metadata"];
        meta["name"] = json!(name);
        if kind.namespaced() {
            meta["namespace"] = json!(k.1);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        meta["uid"] = uid;
        meta["creationTimestamp"] = created;
        meta["generation"] = json!(generation);
        meta["resourceVersion"] = json!((self.rv + 1).to_string());
        kind.validate(&new)
            .map_err(|e| invalid(kind, &name, e.to_string()))?;
        self.rv += 1;
        let new = Arc::new(new);
        self.objects.insert(k.clone(), new.clone());
        let event_type = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.log_event(kind, k.1, event_type, new.clone(), old);
        Ok(new)
    }

    fn log_event(
        &mut self,
        kind: Kind,
        namespace: String,
        event_type: EventType,
        object: Arc<Value>,
        old: Option<Arc<Value>>,
    ) {
        self.log.push_back(Event {
            rv: self.rv,
            kind,
            namespace,
            event_type,
            object,
            old,
        });
        while self.log.len() > self.log_capacity {
            if let Some(e) = self.log.pop_front() {
                self.compacted_through = e.rv;
            }
        }
    }
}

fn key(kind: Kind, namespace: &str, name: &str) -> Key {
    let ns = if kind.namespaced() { namespace } else { "" };
    (kind, ns.to_string(), name.to_string())
}

fn key_of(kind: Kind, namespace: &str, object: &Value) -> Key {
    let ns = match namespace_of(object) {
        "" if namespace.is_empty() => "default",
        "" => namespace,
        ns => ns,
    };
    key(kind, ns, name_of(object))
}

fn not_found(kind: Kind, name: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        name: name.to_string(),
    }
}

fn invalid(kind: Kind, name: &str, why: String) -> StoreError {
    StoreError::Invalid {
        kind,
        name: name.to_string(),
        why,
    }
}

fn check_precondition(
    kind: Kind,
    name: &str,
    body: &Value,
    old: Option<&Value>,
) -> Result<(), StoreError> {
    let want = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match (want, old) {
        (Some(want), Some(old))
            if Some(want)
                != old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str) =>
        {
            Err(StoreError::Conflict {
                kind,
                name: name.to_string(),
            })
        }
        (Some(_), None) => Err(not_found(kind, name)),
        _ => Ok(()),
    }
}
