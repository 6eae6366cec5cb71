//! The local testbed: a real HTTP inference emulator on 127.0.0.1 that runs the service model
//! the simulator runs (replicas with cold starts, concurrency slots, a bounded queue, node
//! pools with provisioning delays and prices, the cluster autoscaler, faults), in real time,
//! with the setup's own autoscaler policy (the `autoscale` crate) deciding every interval.
//! A live load engine pointed at it exercises every real code path (HTTP, timeouts, chaos,
//! observers) on one machine.
//!
//! Scenario time runs `time_scale` times faster than real time: service times, pod phases,
//! node provisioning, policy intervals, scrape delays and metric sampling all shrink, and the
//! policy sees scenario time.
//!
//! Routes:
//! - `POST /predict`: any body (a JSON object may name its `"class"`, and its `"service_ms"`,
//!   the scenario milliseconds to serve it for on a speed-1 replica; without it the testbed
//!   draws one); waits for a slot, answers `200 {"replica", "queued_ms", "service_ms",
//!   "class"}` (real milliseconds), `503` when the queue is full (or sheds it), `504` when it
//!   waited past the timeout, `502` when its replica is killed while serving it, `400` for a
//!   bad `service_ms`.
//! - `GET /metrics`: Prometheus text (see [`metrics`]).
//! - `POST /admin/faults`: one `scalebench_core::fault::Fault` as JSON (`at` is ignored: it strikes now),
//!   answers its [`FaultEvent`] record; `GET /admin/faults` lists the records so far (their
//!   counts grow as a fault plays out); `GET /admin/snapshot`: the [`Snapshot`] as JSON.
//!
//! With [`TestbedConfig::kube`] set it also serves a Kubernetes API on 127.0.0.1 (the
//! `kubeapi` crate's server, [`Testbed::kube_addr`]) whose Pods, Nodes, Deployment and HPA
//! are the model's, kept current, and which carries out what its clients ask (scale, evict,
//! cordon, taint, delete a node) on the model: kubectl and the cluster driver work against
//! the testbed as against a cluster (see the `kube` module).

mod bed;
mod config;
mod driver;
mod http;
mod kube;
mod llm;
pub mod metrics;
mod shared;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use scalebench_core::report::FaultEvent;
use scalebench_core::run::PoolRun;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::TestbedConfig;
pub use driver::TestbedDriver;
pub use kube::{KUBECONFIG_NAME, KubeMirror, ModelNode, ModelPod, SYNC_EVERY, kubeconfig};
pub use model::FaultError;

use bed::Bed;
use shared::{Clock, Shared};

/// How long [`Testbed::shutdown`] lets open requests finish before it cuts them off.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the testbed could not start.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    /// The configuration cannot be run.
    #[error("invalid testbed configuration: {0}")]
    Config(String),
    /// The listening socket could not be bound.
    #[error("failed to bind the testbed to {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket's address could not be read.
    #[error("failed to read the testbed's listening address")]
    LocalAddr(#[source] std::io::Error),
    /// The Kubernetes API could not be served.
    #[error("failed to serve the testbed's Kubernetes API")]
    KubeApi(#[source] std::io::Error),
}

/// The testbed's state at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// Scenario seconds since the start.
    pub scenario_seconds: f64,
    /// Replicas the policy asks for plus the warm pool.
    pub replicas_desired: u32,
    /// Replicas ready to serve.
    pub replicas_ready: u32,
    /// Pods waiting for a node or starting (image pull, container start).
    pub pods_pending: u32,
    /// Pods loading the model.
    pub pods_loading: u32,
    /// Pods terminating.
    pub pods_draining: u32,
    /// Requests waiting for a slot.
    pub queue_depth: u32,
    /// Requests being served.
    pub in_flight: u32,
    /// Nodes per pool (provisioning or up); empty under replica billing.
    pub nodes: BTreeMap<String, u32>,
    /// GPUs held by pods bound to nodes (or existing, under replica billing).
    pub gpus_allocated: u32,
    /// Share (0-1) of the allocated pods' slots that are busy now.
    pub gpu_utilization: f64,
    /// Requests in service x time so far, in slot-seconds (a counter: its rate over a window
    /// divided by the concurrency, over that of `allocated_pod_seconds`, is the window's GPU
    /// utilisation).
    pub busy_slot_seconds: f64,
    /// Pods holding capacity x time so far, in pod-seconds (a counter).
    pub allocated_pod_seconds: f64,
    /// Cost so far, in USD.
    pub cost_usd: f64,
    /// Cost so far per pool (`replicas` under replica billing), with node-seconds,
    /// GPU-seconds and the most nodes at once.
    pub pools: BTreeMap<String, PoolRun>,
    /// Requests served.
    pub requests_ok: u64,
    /// Requests refused because the queue was full (or shed from it).
    pub requests_rejected: u64,
    /// Requests that failed because their replica was killed.
    pub requests_killed: u64,
    /// Requests dropped from the queue because their client left or waited past the timeout.
    pub requests_expired: u64,
    /// Replicas that loaded the model during the run (cold starts).
    pub cold_starts: u32,
    /// Seconds from the scenario's first spike or burst to the first replica created after it
    /// becoming ready, once one has.
    pub scale_up_reaction_s: Option<f64>,
    /// Share (0-1) of the pod capacity paid so far that served no request.
    pub idle_fraction: f64,
    /// The faults so far (the plan's, random spot interruptions, injected ones), with their
    /// effects.
    pub faults: Vec<FaultEvent>,
    /// The token model's batches, when the service is an LLM (`[service.llm]`): exported
    /// under vLLM's metric names.
    pub llm: Option<LlmSnapshot>,
}

/// The token model's state and token counts, as vLLM exports them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LlmSnapshot {
    /// Sequences decoding (`vllm:num_requests_running`).
    pub running: u32,
    /// Requests waiting to join a batch (`vllm:num_requests_waiting`).
    pub waiting: u32,
    /// KV-cache tokens reserved over the cache of the pods that are up, 0-1
    /// (`vllm:kv_cache_usage_perc`, a fraction despite its name).
    pub kv_cache_usage: f64,
    /// Prompt tokens of the requests that produced a first token (`vllm:prompt_tokens_total`).
    pub prompt_tokens: u64,
    /// Tokens generated (`vllm:generation_tokens_total`).
    pub generation_tokens: u64,
}

impl Bed {
    fn snapshot(&self) -> Snapshot {
        let now = self.now();
        let s = self.model.state(now);
        let c = self.side.counts;
        Snapshot {
            scenario_seconds: now as f64 / 1e9,
            replicas_desired: s.replicas_desired,
            replicas_ready: s.ready,
            pods_pending: s.pending + s.creating,
            pods_loading: s.running,
            pods_draining: s.terminating,
            queue_depth: s.queue_depth,
            in_flight: s.in_flight,
            nodes: s.nodes,
            gpus_allocated: s.gpus_allocated,
            gpu_utilization: s.utilization,
            busy_slot_seconds: s.busy_slot_seconds,
            allocated_pod_seconds: s.allocated_pod_seconds,
            cost_usd: s.bill.usd(),
            idle_fraction: s.bill.idle_fraction(),
            pools: s.bill.pools,
            requests_ok: c.ok,
            requests_rejected: c.rejected,
            requests_killed: c.killed,
            requests_expired: c.expired,
            cold_starts: s.cold_starts,
            scale_up_reaction_s: s.scale_up_reaction_s,
            faults: s.faults,
            llm: s.llm.map(|l| LlmSnapshot {
                running: l.running,
                waiting: l.waiting,
                kv_cache_usage: l.kv_cache_usage,
                prompt_tokens: c.prompt_tokens,
                generation_tokens: c.generation_tokens,
            }),
        }
    }
}

/// A running testbed. Dropping it stops the server and the control loop (without waiting);
/// [`Testbed::shutdown`] stops them gracefully.
pub struct Testbed {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Stops the HTTP server (it lets open connections finish).
    stop: watch::Sender<bool>,
    /// Stops the clock task: only after the server, since requests in service end as events
    /// the clock task handles.
    stop_clock: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    control: Option<JoinHandle<()>>,
    /// The Kubernetes API, when it is served.
    kube: Option<kube::Mirror>,
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed").field("addr", &self.addr).finish()
    }
}

/// Binds `listen`, then spawns the HTTP server and the control loop on the current tokio
/// runtime. The service starts at scenario time zero with the setup's initial replicas and
/// warm pool ready.
#[tracing::instrument(skip(config), fields(setup = %config.setup.name, time_scale = config.time_scale), err)]
pub async fn start(config: TestbedConfig, listen: SocketAddr) -> Result<Testbed, TestbedError> {
    config.validate()?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| TestbedError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(TestbedError::LocalAddr)?;
    let bed = Bed::new(&config);
    let shared = Arc::new(Shared::new(
        bed,
        Clock::new(config.time_scale),
        config.encoding,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let (stop_clock, stop_clock_rx) = watch::channel(false);
    let control = tokio::spawn(clock_task(shared.clone(), stop_clock_rx));
    let server = tokio::spawn(http::serve(listener, shared.clone(), stop_rx));
    tracing::info!(%addr, "testbed listening");
    let mut bed = Testbed {
        addr,
        shared,
        stop,
        stop_clock,
        server: Some(server),
        control: Some(control),
        kube: None,
    };
    if let Some(mirror) = &config.kube {
        // On an error, dropping the testbed stops what was started.
        bed.kube = Some(kube::start(bed.shared.clone(), mirror, &config).await?);
    }
    Ok(bed)
}

/// Steps the model when its next event is due, until told to stop: sleeps until the next
/// event's real instant, or until a handler sets an earlier one.
async fn clock_task(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let stopping = http::stopped(stop);
    tokio::pin!(stopping);
    loop {
        let due = shared.now().next_due();
        let sleep = async {
            match due {
                Some(t) => tokio::time::sleep_until(shared.clock.instant(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = shared.wake.notified() => {}
            _ = &mut stopping => break,
        }
    }
}

impl Testbed {
    /// The address it listens on (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of its Kubernetes API, when it serves one ([`TestbedConfig::kube`]).
    pub fn kube_addr(&self) -> Option<SocketAddr> {
        self.kube.as_ref().map(|k| k.addr)
    }

    /// A kubeconfig for its Kubernetes API ([`kubeconfig`]), when it serves one.
    pub fn kubeconfig(&self) -> Option<String> {
        self.kube.as_ref().map(|k| kubeconfig(k.addr, &k.namespace))
    }

    /// Every pod the model has created, in id order, gone ones included: what the
    /// Kubernetes API mirrors (pod `<deployment>-<id>`).
    pub fn model_pods(&self) -> Vec<ModelPod> {
        self.shared.now().model_pods()
    }

    /// Every node the model has requested, in id order, gone ones included (node
    /// `<pool>-<id>`).
    pub fn model_nodes(&self) -> Vec<ModelNode> {
        self.shared.now().model_nodes()
    }

    /// The wall-clock time of scenario time `ns`: the start's plus `ns` / `time_scale`, as
    /// the Kubernetes API writes the model's instants.
    pub fn wall_time(&self, ns: u64) -> std::time::SystemTime {
        self.shared.clock.wall(ns)
    }

    /// The state now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.now().snapshot()
    }

    /// The markers (`pod-eviction@6m`) of the faults that struck since the last call.
    pub fn take_markers(&self) -> Vec<String> {
        self.shared.now().model.take_markers()
    }

    /// The service's accounting (bill per pool, cold starts, faults...) when the scenario's
    /// time ran out, or now when it has not yet.
    pub fn outcome(&self) -> model::Outcome {
        self.shared.now().outcome()
    }

    /// Injects a fault now (its `at` is ignored), as `POST /admin/faults` does.
    pub fn inject(&self, fault: &scalebench_core::fault::Fault) -> Result<FaultEvent, FaultError> {
        http::inject_now(&self.shared, fault)
    }

    /// Stops taking requests (new and queued ones get 503), lets those in service finish for
    /// at most a few seconds (their service ends as events the clock task handles, so it stops
    /// last), and stops the clock task.
    pub async fn shutdown(mut self) {
        if let Some(kube) = self.kube.take() {
            kube.shutdown().await;
        }
        self.shared.now().close();
        let _ = self.stop.send(true);
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            tracing::warn!("requests still open after the grace period: cut off");
            server.abort();
        }
        let _ = self.stop_clock.send(true);
        if let Some(control) = self.control.take() {
            let _ = control.await;
        }
        tracing::info!(addr = %self.addr, "testbed stopped");
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.shared.now().close();
        let _ = self.stop.send(true);
        let _ = self.stop_clock.send(true);
    }
}
