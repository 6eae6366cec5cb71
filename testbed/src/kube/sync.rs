//! Writes the model's state into the store, only what changed: each object is built from a
//! [`Frame`] and written when it differs from what was last written. What clients own is kept:
//! labels and annotations they add to pods and nodes, a Node's `spec.unschedulable` and
//! taints; of the Deployment and the HPA everything but `spec.replicas` and the status (a
//! client may apply its own template or HPA spec). An object a client deleted is not written
//! again: the deletion reaches the model as a `Change` (a pod deleted, a node deleted) and the
//! model's object goes with it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::apps::v1::DeploymentCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kubeapi::{Clock, Handle, Kind, Store, SystemClock};
use model::PodPhase;
use serde::Serialize;
use serde_json::{Value, json};

use super::build::{Static, node_name};
use super::frame::{Frame, ModelNode, ModelPod};
use super::pod::evicted_condition;

/// The store's clock: the system clock, except while the mirror creates an object, when it
/// reads the model's instant of that object's creation, so that `creationTimestamp` (which
/// the store stamps) is the model's (to the whole second, as Kubernetes keeps it).
#[derive(Debug, Clone, Default)]
pub(crate) struct PinClock(Arc<Mutex<Option<Timestamp>>>);

impl Clock for PinClock {
    fn now(&self) -> Timestamp {
        let pinned = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pinned.unwrap_or_else(|| SystemClock.now())
    }
}

impl PinClock {
    /// Runs `f` (a write into the store, whose lock the caller holds) with the clock at `at`.
    pub(crate) fn at<T>(&self, at: Timestamp, f: impl FnOnce() -> T) -> T {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(at);
        let out = f();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
        out
    }
}

/// A condition of the Deployment and since when it holds.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    status: bool,
    reason: &'static str,
    since: Time,
}

/// An object as last written, and what it was built from.
struct Written<T> {
    from: T,
    value: Value,
}

/// The mirror's memory of what it wrote.
pub(crate) struct Writer {
    handle: Handle,
    pin: PinClock,
    pub(crate) s: Static,
    /// Each pod as last written, by model id.
    pods: HashMap<u32, Written<ModelPod>>,
    /// Each node's model side as last written, by model id.
    nodes: HashMap<u32, Written<ModelNode>>,
    /// Node names to model ids, for the nodes written.
    node_ids: HashMap<String, u32>,
    /// Pods a client deleted from the store while the model still has them (they drain).
    deleted: HashSet<u32>,
    /// The Deployment's `spec.replicas` as last written.
    pub(crate) replicas: Option<i32>,
    /// Available and Progressing.
    held: [Option<Held>; 2],
}

fn value(object: &impl Serialize) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The object to write: the model's side `built`, with what clients own kept from the store's
/// `current`: labels and annotations they added (the model's win where both set one) and, on a
/// node, its taints (to which the model's own, `super::build::NOTICE_TAINT`, is added when
/// it is not there) and `spec.unschedulable`.
pub(crate) fn with_client_fields(mut built: Value, current: Option<&Value>) -> Value {
    let Some(current) = current else {
        return built;
    };
    for field in ["labels", "annotations"] {
        if let Some(theirs) = current["metadata"][field].as_object() {
            let mut merged = theirs.clone();
            if let Some(ours) = built["metadata"][field].as_object() {
                merged.extend(ours.clone());
            }
            built["metadata"][field] = Value::Object(merged);
        }
    }
    if current["kind"] != "Node" {
        return built;
    }
    let own: Vec<Value> = built
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut taints: Vec<Value> = current
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in own {
        if !taints
            .iter()
            .any(|x| x["key"] == t["key"] && x["effect"] == t["effect"])
        {
            taints.push(t);
        }
    }
    if let Some(spec) = built["spec"].as_object_mut() {
        spec.remove("taints");
        if !taints.is_empty() {
            spec.insert("taints".into(), Value::Array(taints));
        }
        if let Some(u) = current.pointer("/spec/unschedulable") {
            spec.insert("unschedulable".into(), u.clone());
        }
    }
    built
}

impl Writer {
    pub(crate) fn new(handle: Handle, pin: PinClock, s: Static) -> Writer {
        Writer {
            handle,
            pin,
            s,
            pods: HashMap::new(),
            nodes: HashMap::new(),
            node_ids: HashMap::new(),
            deleted: HashSet::new(),
            replicas: None,
            held: [None, None],
        }
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Whether a gone pod is still to be taken out of the store (the frame must carry it).
    pub(crate) fn shows_pod(&self, id: u32) -> bool {
        self.pods.contains_key(&id) || self.deleted.contains(&id)
    }

    /// The model id of pod `name` in `namespace`, if it is one the mirror wrote.
    pub(crate) fn pod_id(&self, namespace: &str, name: &str) -> Option<u32> {
        if namespace != self.s.namespace {
            return None;
        }
        self.s.pod_id(name).filter(|id| self.shows_pod(*id))
    }

    /// The model id of node `name`, if it is one the mirror wrote.
    pub(crate) fn node_id(&self, name: &str) -> Option<u32> {
        self.node_ids.get(name).copied()
    }

    /// A client deleted pod `id` from the store: it is not written again.
    pub(crate) fn deleted_by_client(&mut self, id: u32) {
        self.deleted.insert(id);
    }

    /// Writes what changed since the last call, in one write (one wake-up of the watches).
    pub(crate) fn sync(&mut self, frame: &Frame) {
        let handle = self.handle.clone();
        handle.write(|store| {
            self.nodes(store, frame);
            self.pods(store, frame);
            self.deployment(store, frame);
            self.hpa(store, frame);
        });
    }

    fn put(&self, store: &mut Store, kind: Kind, object: Value, created: Timestamp) {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let ns = self.s.namespace.clone();
        if let Err(e) = self
            .pin
            .at(created, || store.replace(kind, &ns, object, false))
        {
            tracing::warn!(%kind, name, error = %e, "the mirror could not write an object");
        }
    }

    fn nodes(&mut self, store: &mut Store, frame: &Frame) {
        for n in &frame.nodes {
            if self.nodes.get(&n.id).is_some_and(|w| w.from == *n) {
                continue;
            }
            let built = value(&self.s.node(n));
            if self.nodes.get(&n.id).is_some_and(|w| w.value == built) {
                continue;
            }
            let name = node_name(n);
            let current = store.get(Kind::Node, "", &name);
            if current.is_none() && self.nodes.contains_key(&n.id) {
                continue; // a client deleted it: the model hears of it next
            }
            let object = with_client_fields(built.clone(), current.as_deref());
            self.put(store, Kind::Node, object, self.s.instant(n.created_ns));
            let written = Written {
                from: n.clone(),
                value: built,
            };
            self.nodes.insert(n.id, written);
            self.node_ids.insert(name, n.id);
        }
        let gone: Vec<u32> = self
            .nodes
            .keys()
            .filter(|id| frame.node(**id).is_none())
            .copied()
            .collect();
        for id in gone {
            if let Some(w) = self.nodes.remove(&id) {
                let name = node_name(&w.from);
                let _ = store.delete(Kind::Node, "", &name);
                self.node_ids.remove(&name);
            }
        }
    }

    fn pods(&mut self, store: &mut Store, frame: &Frame) {
        let ns = self.s.namespace.clone();
        for p in &frame.pods {
            let name = self.s.pod_name(p.id);
            if p.phase == PodPhase::Gone {
                self.deleted.remove(&p.id);
                if let Some(last) = self.pods.remove(&p.id)
                    && store.get(Kind::Pod, &ns, &name).is_some()
                {
                    self.last_state(store, last.value, p.deleting_ns, p.evicted);
                    let _ = store.delete(Kind::Pod, &ns, &name);
                }
                continue;
            }
            if self.deleted.contains(&p.id) {
                continue;
            }
            // A pod bound to a node is all its own; one waiting for room also says why.
            let cached = self.pods.get(&p.id);
            if p.scheduled_ns.is_some() && cached.is_some_and(|w| w.from == *p) {
                continue;
            }
            let built = value(&self.s.pod(p, frame));
            if cached.is_some_and(|w| w.value == built) {
                continue;
            }
            let current = store.get(Kind::Pod, &ns, &name);
            if current.is_none() && self.pods.contains_key(&p.id) {
                continue; // a client deleted it: the model hears of it next
            }
            let object = with_client_fields(built.clone(), current.as_deref());
            self.put(store, Kind::Pod, object, self.s.instant(p.created_ns));
            let written = Written {
                from: p.clone(),
                value: built,
            };
            self.pods.insert(p.id, written);
        }
    }

    /// A pod that went without terminating first (killed with its node, deleted before it was
    /// ready, idle when deleted): written once more as deleted, so that a watcher's last state
    /// of it says so (and that it was evicted), as a real pod always goes through it.
    fn last_state(&self, store: &mut Store, mut last: Value, deleting: Option<u64>, evicted: bool) {
        if last.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let at = self.s.time(deleting.unwrap_or(0));
        last["metadata"]["deletionTimestamp"] = value(&at);
        last["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if evicted
            && let Some(c) = last
                .pointer_mut("/status/conditions")
                .and_then(Value::as_array_mut)
        {
            c.push(value(&evicted_condition(at)));
        }
        self.put(store, Kind::Pod, last, Timestamp::UNIX_EPOCH);
    }

    /// Available and Progressing, each with the time it last changed.
    fn conditions(&mut self, frame: &Frame) -> Vec<DeploymentCondition> {
        let (desired, live, ready) = (frame.desired, frame.live(), frame.ready());
        // Kubernetes' default maxUnavailable, 25% rounded down.
        let available = ready >= desired - desired / 4;
        let done = live == desired && ready == desired;
        let now = self.s.time(frame.now_ns);
        let want = [
            (
                "Available",
                available,
                if available {
                    "MinimumReplicasAvailable"
                } else {
                    "MinimumReplicasUnavailable"
                },
            ),
            (
                "Progressing",
                true,
                if done {
                    "NewReplicaSetAvailable"
                } else {
                    "ReplicaSetUpdated"
                },
            ),
        ];
        let mut out = Vec::new();
        for (i, (type_, status, reason)) in want.into_iter().enumerate() {
            let held = match &self.held[i] {
                Some(h) if h.status == status && h.reason == reason => h.clone(),
                Some(h) if h.status == status => Held {
                    reason,
                    ..h.clone()
                },
                _ => Held {
                    status,
                    reason,
                    since: now.clone(),
                },
            };
            out.push(DeploymentCondition {
                type_: Some(type_.into()),
                status: Some(if status { "True" } else { "False" }.into()),
                reason: Some(reason.into()),
                last_transition_time: Some(held.since.clone()),
                last_update_time: Some(held.since.clone()),
                ..DeploymentCondition::default()
            });
            self.held[i] = Some(held);
        }
        out
    }

    /// The Deployment: as first built if there is none, else the store's with the model's
    /// `spec.replicas` and status. Its generation moves when its spec does, as the store
    /// stamps it, and the status has always seen it (the template never rolls).
    fn deployment(&mut self, store: &mut Store, frame: &Frame) {
        let ns = self.s.namespace.clone();
        let current = store.get(Kind::Deployment, &ns, &self.s.deployment);
        let mut object = match &current {
            Some(c) => (**c).clone(),
            None => value(&self.s.deployment()),
        };
        let replicas = i32::try_from(frame.desired).unwrap_or(i32::MAX);
        object["spec"]["replicas"] = json!(replicas);
        let generation = match &current {
            None => 1,
            Some(c) if c.get("spec") != object.get("spec") => generation(c) + 1,
            Some(c) => generation(c),
        };
        let conditions = self.conditions(frame);
        object["status"] = value(&self.s.deployment_status(frame, generation, conditions));
        self.replicas = Some(replicas);
        if current.as_deref() != Some(&object) {
            self.put(store, Kind::Deployment, object, self.s.instant(0));
        }
    }

    /// The HPA (not under a fixed policy), the same way.
    fn hpa(&mut self, store: &mut Store, frame: &Frame) {
        let Some(bounds) = self.s.hpa else {
            return;
        };
        let ns = self.s.namespace.clone();
        let current = store.get(Kind::HorizontalPodAutoscaler, &ns, &self.s.deployment);
        let mut object = match &current {
            Some(c) => (**c).clone(),
            None => value(&self.s.hpa(bounds)),
        };
        let generation = current.as_deref().map_or(1, generation);
        object["status"] = value(&self.s.hpa_status(frame, generation));
        if current.as_deref() != Some(&object) {
            self.put(
                store,
                Kind::HorizontalPodAutoscaler,
                object,
                self.s.instant(0),
            );
        }
    }
}
