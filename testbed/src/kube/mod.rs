//! The testbed's Kubernetes API: a `kubeapi` server on 127.0.0.1 whose objects are the
//! model's pods, nodes, Deployment and HPA, kept current, and which carries out what its
//! clients ask (scale, evict, cordon, taint, delete a node) on the model, so that kubectl and
//! the cluster driver work against the testbed as against a cluster.
//!
//! There is one model, behind the testbed's one lock and clock: the mirror task reads it
//! ([`frame`]), writes what changed into the store ([`sync`]) and hands clients' requests to
//! it ([`follow`]). It syncs every [`SYNC_EVERY`] of real time and right after each request
//! it carries out, not after each step of the model: the model steps on every HTTP request
//! of the load, and building and comparing objects there would slow the path the testbed
//! measures. Watchers see a change at most that late; the times the objects carry (creation,
//! conditions, `startedAt`) are the model's own instants mapped to the wall clock, so what is
//! measured from them does not depend on the tick. A phase shorter than a tick may not be
//! seen by a watcher, only its instants.

mod build;
mod follow;
mod frame;
mod pod;
mod sync;
#[cfg(test)]
mod sync_tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kubeapi::{Handle, OwnerMessage, Server, Store};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::TestbedError;
use crate::shared::Shared;

pub use frame::{ModelNode, ModelPod};

use build::Static;
use sync::Writer;

/// How often the mirror writes the model's changes into the store, at most this long after
/// they happen (real time).
pub const SYNC_EVERY: Duration = Duration::from_millis(50);

/// The name of the cluster, context and user of [`kubeconfig`].
pub const KUBECONFIG_NAME: &str = "scalebench-testbed";

/// How the testbed mirrors its service into a Kubernetes API: where the objects go and how
/// the pods are labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeMirror {
    /// The namespace of the Deployment, its HPA and its pods (default `default`).
    pub namespace: String,
    /// The Deployment's name, also the HPA's and the pods' prefix (`<deployment>-<id>`)
    /// (default `model`).
    pub deployment: String,
    /// The pods' labels, also the Deployment's selector; empty: `app=<deployment>`.
    pub labels: BTreeMap<String, String>,
}

impl Default for KubeMirror {
    fn default() -> KubeMirror {
        KubeMirror {
            namespace: "default".into(),
            deployment: "model".into(),
            labels: BTreeMap::new(),
        }
    }
}

impl KubeMirror {
    /// The pods' labels: the ones given, else `app=<deployment>`.
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        if self.labels.is_empty() {
            BTreeMap::from([("app".to_string(), self.deployment.clone())])
        } else {
            self.labels.clone()
        }
    }

    /// Checks the names: the namespace and the Deployment must be DNS-1123 labels (at most 63
    /// characters, lower-case letters, digits and `-`, starting and ending with a letter or
    /// digit), short enough for the pods' names.
    pub(crate) fn validate(&self) -> Result<(), TestbedError> {
        let label = |what: &str, v: &str, max: usize| {
            let ok = !v.is_empty()
                && v.len() <= max
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-');
            if ok {
                Ok(())
            } else {
                Err(TestbedError::Config(format!(
                    "kube {what} {v:?} must be a DNS-1123 label of at most {max} characters \
                     (lower-case letters, digits, '-')"
                )))
            }
        };
        label("namespace", &self.namespace, 63)?;
        // Room for "-<pod id>".
        label("deployment", &self.deployment, 52)?;
        if self.labels.keys().any(String::is_empty) {
            return Err(TestbedError::Config("kube labels: a key is empty".into()));
        }
        Ok(())
    }
}

/// A kubeconfig with one cluster, context and user named [`KUBECONFIG_NAME`], for the API at
/// `addr` (plain HTTP, no credentials: anyone on loopback may use it), in `namespace`.
pub fn kubeconfig(addr: SocketAddr, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {n}\n  cluster:\n    server: http://{addr}\n\
         users:\n- name: {n}\n  user: {{}}\ncontexts:\n- name: {n}\n  context:\n    cluster: {n}\n    \
         user: {n}\n    namespace: {namespace}\ncurrent-context: {n}\n",
        n = KUBECONFIG_NAME
    )
}

/// The running mirror: the server and the task that keeps its store equal to the model.
pub(crate) struct Mirror {
    pub(crate) addr: SocketAddr,
    pub(crate) namespace: String,
    server: Option<kubeapi::Shutdown>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Fills a store with the model's objects, serves it on 127.0.0.1 at a free port, and spawns
/// the task that keeps it current and carries out what clients ask.
pub(crate) async fn start(
    shared: Arc<Shared>,
    mirror: &KubeMirror,
    config: &crate::TestbedConfig,
) -> Result<Mirror, TestbedError> {
    let pin = sync::PinClock::default();
    let handle = Handle::new(Store::with_clock(Box::new(pin.clone())));
    let owner = handle.take_owner();
    let statics = Static::new(mirror, config, shared.clock);
    let mut writer = Writer::new(handle.clone(), pin, statics);
    sync_now(&shared, &mut writer);
    let (addr, server) = Server::start(handle).await.map_err(TestbedError::KubeApi)?;
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(shared, writer, owner, stop_rx));
    tracing::info!(%addr, "testbed's Kubernetes API serving");
    Ok(Mirror {
        addr,
        namespace: mirror.namespace.clone(),
        server: Some(server),
        stop,
        task: Some(task),
    })
}

impl Mirror {
    /// Stops the server (its watches end, requests in flight finish: the task still answers
    /// them), then the task.
    pub(crate) async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Reads the model and writes what changed.
fn sync_now(shared: &Shared, writer: &mut Writer) {
    let frame = shared.now().frame(|id| writer.shows_pod(id));
    writer.sync(&frame);
}

/// The mirror task: carries out each client's request or change as it comes (then syncs, and
/// only then answers, so the client reads the result), and syncs every [`SYNC_EVERY`].
async fn run(
    shared: Arc<Shared>,
    mut writer: Writer,
    mut owner: mpsc::UnboundedReceiver<OwnerMessage>,
    stop: watch::Receiver<bool>,
) {
    let stopping = crate::http::stopped(stop);
    tokio::pin!(stopping);
    let mut tick = tokio::time::interval(SYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let answer = tokio::select! {
            _ = &mut stopping => break,
            message = owner.recv() => match message {
                Some(m) => follow::follow(&shared, &mut writer, m),
                None => break,
            },
            _ = tick.tick() => None,
        };
        sync_now(&shared, &mut writer);
        if let Some((reply, outcome)) = answer {
            match outcome {
                Ok(()) => reply.accept(),
                Err(why) => reply.refuse(why),
            }
        }
    }
}
