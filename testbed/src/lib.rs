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
//! - `POST /predict`: any body (a JSON object may name its `"class"`); waits for a slot,
//!   answers `200 {"replica", "queued_ms", "service_ms", "class"}` (real milliseconds), `503`
//!   when the queue is full, `502` when its replica is killed while serving it.
//! - `GET /metrics`: Prometheus text (see [`metrics`]).
//! - `POST /admin/faults`: one `chaos::Fault` as JSON (`at` is ignored: it strikes now),
//!   answers its [`FaultEvent`] record; `GET /admin/faults` lists the records so far (their
//!   counts grow as a fault plays out); `GET /admin/snapshot`: the [`Snapshot`] as JSON.

mod cluster;
mod config;
mod control;
mod faults;
mod http;
pub mod metrics;
mod model;
#[cfg(test)]
mod model_tests;
mod router;
mod shared;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use harness::report::FaultEvent;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::TestbedConfig;
pub use faults::FaultError;

use model::{Model, Phase};
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
    /// Share (0-1) of the allocated pods' slots that are busy.
    pub gpu_utilization: f64,
    /// Cost so far, in USD.
    pub cost_usd: f64,
    /// Requests served.
    pub requests_ok: u64,
    /// Requests refused because the queue was full.
    pub requests_rejected: u64,
    /// Requests that failed because their replica was killed.
    pub requests_killed: u64,
    /// Replicas that loaded the model during the run (cold starts).
    pub cold_starts: u64,
    /// Share (0-1) of the pod capacity paid so far that served no request.
    pub idle_fraction: f64,
    /// The faults injected so far, with their effects.
    pub faults: Vec<FaultEvent>,
}

impl Model {
    fn snapshot(&self, now: f64) -> Snapshot {
        let c = self.pod_counts();
        let allocated = self
            .replicas
            .values()
            .filter(|r| r.phase != Phase::Pending)
            .count() as u32;
        let busy = self.in_flight.value.max(0.0) / f64::from(self.p.concurrency);
        Snapshot {
            scenario_seconds: now,
            replicas_desired: self.desired + self.p.warm,
            replicas_ready: c.ready,
            pods_pending: c.pending,
            pods_loading: c.loading,
            pods_draining: c.draining,
            queue_depth: self.queue_len() as u32,
            in_flight: self.in_flight.value.max(0.0).round() as u32,
            nodes: self
                .cluster
                .as_ref()
                .map(|c| c.nodes_by_pool())
                .unwrap_or_default(),
            gpus_allocated: allocated * self.p.gpus,
            gpu_utilization: if allocated == 0 {
                0.0
            } else {
                (busy / f64::from(allocated)).clamp(0.0, 1.0)
            },
            cost_usd: self.cost(now),
            requests_ok: self.stats.ok,
            requests_rejected: self.stats.rejected,
            requests_killed: self.stats.killed,
            cold_starts: self.stats.cold_starts,
            idle_fraction: self.idle_fraction(now),
            faults: self.faults.clone(),
        }
    }
}

/// A running testbed. Dropping it stops the server and the control loop (without waiting);
/// [`Testbed::shutdown`] stops them gracefully.
pub struct Testbed {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    control: Option<JoinHandle<()>>,
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
    let clock = Clock::new(config.time_scale);
    let shared = Shared::new(clock, |weak| Model::new(&config, weak));
    let (stop, stop_rx) = watch::channel(false);
    let control = tokio::spawn(control_loop(
        shared.clone(),
        stop_rx.clone(),
        config.time_scale,
    ));
    let server = tokio::spawn(http::serve(listener, shared.clone(), stop_rx));
    tracing::info!(%addr, "testbed listening");
    Ok(Testbed {
        addr,
        shared,
        stop,
        server: Some(server),
        control: Some(control),
    })
}

/// Advances the model a few times per scenario second (at most every 50 ms, at least every
/// 2 ms of real time) until told to stop.
async fn control_loop(shared: Arc<Shared>, stop: watch::Receiver<bool>, scale: f64) {
    let tick = std::time::Duration::from_secs_f64((0.25 / scale).clamp(0.002, 0.05));
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopping = http::stopped(stop);
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            _ = every.tick() => {
                let now = shared.clock.now();
                shared.lock().advance(now);
            }
            _ = &mut stopping => break,
        }
    }
}

impl Testbed {
    /// The address it listens on (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state now.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.shared.clock.now();
        self.shared.lock().snapshot(now)
    }

    /// Injects a fault now (its `at` is ignored), as `POST /admin/faults` does.
    pub fn inject(&self, fault: &chaos::Fault) -> Result<FaultEvent, FaultError> {
        let now = self.shared.clock.now();
        self.shared.lock().inject(fault, now)
    }

    /// Stops taking requests (new and queued ones get 503), lets those in service finish for
    /// at most a few seconds, and stops the control loop.
    pub async fn shutdown(mut self) {
        let now = self.shared.clock.now();
        self.shared.lock().close(now);
        let _ = self.stop.send(true);
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
            {
                tracing::warn!("requests still open after the grace period: cut off");
                server.abort();
            }
        }
        if let Some(control) = self.control.take() {
            let _ = control.await;
        }
        tracing::info!(addr = %self.addr, "testbed stopped");
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let now = self.shared.clock.now();
        self.shared.lock().close(now);
        let _ = self.stop.send(true);
    }
}
