//! The watchers and the [`Observer`] the load engine's collector reads.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::State;
use crate::track::{Feed, Tracker};
use scalebench_core::kubernetes::{ConfigError, Target};

/// Why a kube client could not be made for a [`Target`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig could not be read, or has no such context.
    #[error("kubeconfig{}: {source}", .context.as_deref().map(|c| format!(" (context {c:?})")).unwrap_or_default())]
    Kubeconfig {
        /// The context asked for.
        context: Option<String>,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The in-cluster configuration is missing (not in a pod) or broken.
    #[error("in-cluster configuration: {0}")]
    InCluster(#[from] kube::config::InClusterError),
    /// The client could not be built from the configuration.
    #[error("building the kube client: {0}")]
    Client(#[from] kube::Error),
}

/// A kube client for the target: in-cluster, or from its kubeconfig (`kubeconfig`, else
/// `$KUBECONFIG` or `~/.kube/config`) and `context` (else the current one). The client's own
/// retries of 429/503/504 are turned off: a watcher retries with its backoff and records each
/// error instead of waiting minutes inside the client. Call it inside a tokio runtime.
pub async fn connect(target: &Target) -> Result<kube::Client, ConnectError> {
    Ok(kube::Client::try_from(kube_config(target).await?)?)
}

/// The kube configuration [`connect`] makes its client from (kept by an
/// [`UndoGuard`](crate::UndoGuard) to undo on a runtime of its own).
pub async fn kube_config(target: &Target) -> Result<kube::Config, ConnectError> {
    kube_config_from(
        target.in_cluster,
        target.kubeconfig.as_deref(),
        target.context.as_deref(),
    )
    .await
}

/// The kube configuration of the pod's service account (`in_cluster`), or of `context` (the
/// current one when `None`) in the `kubeconfig` file (`$KUBECONFIG`, else `~/.kube/config`,
/// when `None`), without kube's retries.
pub async fn kube_config_from(
    in_cluster: bool,
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<kube::Config, ConnectError> {
    let mut config = if in_cluster {
        kube::Config::incluster()?
    } else {
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let failed = |source| ConnectError::Kubeconfig {
            context: context.map(str::to_string),
            source,
        };
        match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path).map_err(failed)?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(failed)?
            }
            None => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(failed)?,
        }
    };
    config.default_retry = false;
    Ok(config)
}

struct Shared {
    tracker: Mutex<Tracker>,
    /// Bumped after every event or error the watchers fold in.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Observes the serving workload of a [`Target`] through kube-runtime watchers on the
/// Deployment (`metadata.name=`), the HPA (if the autoscaler has one), the selected Pods and
/// the Nodes, and answers from memory ([`live::Observer`], [`Observer::state`]).
///
/// Watch errors are never fatal: each watcher resumes from its last resourceVersion (or lists
/// again after a 410 Gone) with kube-runtime's default backoff, the error is recorded
/// ([`State::errors`]) and marked, and the last known state keeps answering
/// ([`State::stale`] says for how long it may have been behind).
///
/// The watch tasks run on the runtime given to [`Observer::start`]; the observer itself is
/// `Sync` and reads a mutex, so plain threads (the load engine's collector) call it. Dropping
/// it, or [`Observer::stop`], aborts the tasks.
pub struct Observer {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// Validates the target and starts its watchers on `runtime`, the run starting now.
    pub fn start(
        client: kube::Client,
        target: &Target,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Observer, ConfigError> {
        Self::start_at(client, target, runtime, Timestamp::now())
    }

    /// [`start`](Self::start) with the run's start given: nodes are billed and pods counted as
    /// cold starts from it.
    pub fn start_at(
        client: kube::Client,
        target: &Target,
        runtime: &tokio::runtime::Handle,
        run_start: Timestamp,
    ) -> Result<Observer, ConfigError> {
        target.validate()?;
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            tracker: Mutex::new(Tracker::new(target.clone(), run_start)),
            changed,
        });
        let ns = target.namespace.as_str();
        let by_name =
            |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut tasks = vec![
            runtime.spawn(follow(
                Api::<Deployment>::namespaced(client.clone(), ns),
                by_name(&target.deployment),
                shared.clone(),
                Feed::Deployment,
                Tracker::on_deployment,
            )),
            runtime.spawn(follow(
                Api::<Pod>::namespaced(client.clone(), ns),
                watcher::Config::default().labels(&target.selector),
                shared.clone(),
                Feed::Pods,
                Tracker::on_pod,
            )),
        ];
        let nodes = match &target.node_selector {
            Some(s) => watcher::Config::default().labels(s),
            None => watcher::Config::default(),
        };
        tasks.push(runtime.spawn(follow(
            Api::<Node>::all(client.clone()),
            nodes,
            shared.clone(),
            Feed::Nodes,
            Tracker::on_node,
        )));
        if let Some(hpa) = target.hpa_name() {
            tasks.push(runtime.spawn(follow(
                Api::<HorizontalPodAutoscaler>::namespaced(client, ns),
                by_name(&hpa),
                shared.clone(),
                Feed::Hpa,
                Tracker::on_hpa,
            )));
        }
        Ok(Observer { shared, tasks })
    }

    /// Waits until every watcher has completed its first list, at most `timeout`; whether
    /// they have.
    pub async fn synced(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.synced).await
    }

    /// Waits until `done` holds for the state (checked after each event), at most `timeout`;
    /// whether it held.
    pub async fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&State) -> bool) -> bool {
        let mut changed = self.shared.changed.subscribe();
        let wait = async {
            loop {
                if done(&self.state()) {
                    return;
                }
                if changed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// The richer snapshot: pods by phase and pending reason, nodes by pool and capacity type,
    /// cordoned and tainted nodes, cold starts, watch errors.
    pub fn state(&self) -> State {
        self.shared.lock().state(Timestamp::now())
    }

    /// Aborts the watch tasks.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl live::Observer for Observer {
    /// Replicas, pods pending, nodes per pool, GPUs and cost now; `None` until every watcher
    /// has listed once.
    fn observe(&self) -> Option<live::Observed> {
        self.shared.lock().observed(Timestamp::now())
    }

    /// Watch errors and relists (`watch-error:pods@1m2s`, `relist:pods@1m2s`), pods evicted
    /// or deleted (`pod-eviction@…`, `pod-deleted@…`) since the last call.
    fn markers(&self) -> Vec<String> {
        self.shared.lock().take_markers()
    }
}

/// One watcher, folded into the tracker until aborted.
async fn follow<K>(
    api: Api<K>,
    config: watcher::Config,
    shared: Arc<Shared>,
    feed: Feed,
    fold: fn(&mut Tracker, watcher::Event<K>, Timestamp),
) where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut events = watcher(api, config).default_backoff().boxed();
    while let Some(item) = events.next().await {
        let now = Timestamp::now();
        {
            let mut tracker = shared.lock();
            match item {
                Ok(event) => {
                    tracker.ok(feed, now);
                    fold(&mut tracker, event, now);
                }
                Err(e) => tracker.error(feed, &e, now),
            }
        }
        shared.changed.send_modify(|n| *n += 1);
    }
}
