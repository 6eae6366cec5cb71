//! The testbed as a [`Driver`] (`scalebench run --driver testbed`): for each setup, an
//! in-process testbed on 127.0.0.1 runs the service model with the scenario's faults at their
//! times; the live load engine sends the scenario's arrivals to it over real HTTP, each with
//! its class and its own service time, the simulator's draw, so that both serve the same
//! requests for the same time (or, with `executor = "users"`, Goose runs its closed-loop users
//! against it, and the testbed draws their service times); the timeline's service
//! side comes from its `/metrics`, the fault markers and the final accounting (bill per pool,
//! cold starts, idle share, scale-up reaction, fault records) from the model itself; all
//! `time_scale` times faster than scenario time. Setups run one after the other.
//!
//! A scenario with a token model (`[service.llm]`) is served as an LLM: its arrivals go to the
//! testbed's `/v1/completions` as streaming completions (model `scalebench-testbed`, with the
//! usage chunk), each with a prompt of its prompt tokens and `max_tokens` its output tokens,
//! or as its `[traffic.openai]` says; the engine reads each answer as it streams, so TTFT,
//! inter-token gaps and TPOT are measured over real HTTP.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;

use live::{LoadConfig, Observed, Observer, Progress, PrometheusObserver, Target};
use scalebench_core::drive::{Control, DriveError, Driver};
use scalebench_core::run::SetupRun;
use scalebench_core::{Plan, Setup};

use crate::{Testbed, TestbedConfig};

/// What the testbed driver sends to `/predict` for a request, unless its class has a body of
/// its own: its class and its service time in scenario milliseconds.
pub(crate) const DEFAULT_BODY: &str = r#"{"class": "{{class}}", "service_ms": {{service_ms}}}"#;

/// The OpenAI requests the driver sends to a testbed with a token model when the scenario has
/// no `[traffic.openai]`: streaming completions with the usage chunk.
pub(crate) fn default_openai() -> openai::RequestSpec {
    openai::RequestSpec {
        api: openai::Api::Completions,
        model: crate::llm::MODEL.to_string(),
        stream: true,
        include_usage: true,
        ignore_eos: true,
        temperature: None,
        encoding: openai::Encoding::default(),
        extra: Default::default(),
    }
}

/// Each setup on its own testbed, in real time (or `time_scale` times faster).
#[derive(Debug)]
pub struct TestbedDriver {
    time_scale: f64,
    rt: tokio::runtime::Runtime,
}

impl TestbedDriver {
    /// A driver running scenario time `time_scale` times faster than real time.
    pub fn new(time_scale: f64) -> Result<TestbedDriver, DriveError> {
        if !(time_scale > 0.0 && time_scale.is_finite()) {
            return Err(DriveError::input(format!(
                "the time scale must be above zero, found {time_scale}"
            )));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| DriveError::env(format!("cannot start the testbed's runtime: {e}")))?;
        Ok(TestbedDriver { time_scale, rt })
    }
}

impl Driver for TestbedDriver {
    fn name(&self) -> &'static str {
        "testbed"
    }

    fn parallel(&self) -> usize {
        1
    }

    fn run(
        &self,
        plan: &Plan,
        setups: &[&Setup],
        control: Control<'_>,
    ) -> Result<Vec<SetupRun>, DriveError> {
        let mut runs = Vec::with_capacity(setups.len());
        for setup in setups {
            let mut config = TestbedConfig::from_plan(plan, setup, self.time_scale);
            config.faults = plan.faults.clone();
            let listen = SocketAddr::from(([127, 0, 0, 1], 0));
            let bed = self
                .rt
                .block_on(crate::start(config, listen))
                .map_err(|e| match e {
                    crate::TestbedError::Config(_) => DriveError::input(e),
                    _ => DriveError::env(e),
                })?;
            let run = drive(plan, setup, &bed, self.time_scale, control.cancel);
            self.rt.block_on(bed.shutdown());
            runs.push(run?);
        }
        control.reach(plan.duration.as_nanos());
        Ok(runs)
    }
}

/// Reads the service side from the testbed's `/metrics`, and the markers of the faults that
/// struck from the model.
struct BedObserver<'a> {
    metrics: PrometheusObserver,
    bed: &'a Testbed,
}

impl Observer for BedObserver<'_> {
    fn observe(&self) -> Option<Observed> {
        self.metrics.observe()
    }

    fn markers(&self) -> Vec<String> {
        self.bed.take_markers()
    }
}

/// One setup: its load against the testbed, observed.
fn drive(
    plan: &Plan,
    setup: &Setup,
    bed: &Testbed,
    time_scale: f64,
    cancel: &AtomicBool,
) -> Result<SetupRun, DriveError> {
    let llm = plan.service.llm.is_some() && plan.traffic.closed_loop().is_none();
    if plan.traffic.openai.is_some() && plan.service.llm.is_none() {
        return Err(DriveError::input(
            "[traffic.openai] needs a token model on the testbed: give the scenario [service.llm]",
        ));
    }
    // An LLM's requests go to the API's path (`/v1/completions`, `/v1/chat/completions`).
    let url = if llm {
        format!("http://{}/", bed.addr())
    } else {
        format!("http://{}/predict", bed.addr())
    };
    let observer = BedObserver {
        metrics: PrometheusObserver::new(&format!("http://{}/metrics", bed.addr()))
            .map_err(DriveError::env)?,
        bed,
    };
    // The testbed serves POST /predict (and the OpenAI routes) only: a class's path and
    // method are for real endpoints; its headers and body still go.
    let mut on_testbed = plan.clone();
    for c in &mut on_testbed.traffic.classes {
        if let Some(r) = &mut c.request {
            r.path = None;
            r.method = None;
        }
    }
    if llm && on_testbed.traffic.openai.is_none() {
        on_testbed.traffic.openai = Some(default_openai());
    }
    let before = std::time::SystemTime::now();
    let mut run = if plan.traffic.closed_loop().is_some() {
        // Closed-loop users through Goose, against the same testbed, into the same Run.
        let users = users::UsersConfig::new(&url).time_scale(time_scale);
        users::run_users_with(&on_testbed, &users, &setup.name, cancel, &observer).map_err(|e| {
            match e {
                users::UsersError::Request { .. } => DriveError::input(e),
                _ => DriveError::env(e),
            }
        })?
    } else {
        let target = Target::new(
            &url,
            None,
            &[],
            // The testbed gives each request its class's priority, and serves it for its
            // arrival's service time (before the setup's and the pod's speeds), the one the
            // simulator serves it for. A class's own `request` body replaces this one; without
            // `{{service_ms}}` the testbed draws that class's service times itself.
            Some(bytes::Bytes::from_static(DEFAULT_BODY.as_bytes())),
            |_| None,
        )
        .map_err(DriveError::env)?;
        let mut config = LoadConfig::new(target);
        config.time_scale = time_scale;
        let progress = Progress::default();
        live::run_observed(
            &on_testbed,
            &setup.name,
            &config,
            cancel,
            &progress,
            &observer,
        )
        .map_err(|e| match e {
            live::LoadError::Target(_) => DriveError::input(e),
            _ => DriveError::env(e),
        })?
    };
    // The service's accounting at the scenario's end (or now, for a run cut short), from the
    // model itself.
    let outcome = bed.outcome();
    run.policy = setup.policy.kind().to_string();
    run.pools = Some(outcome.pools);
    run.idle_fraction = Some(outcome.idle_fraction);
    run.max_ready = Some(outcome.max_ready);
    run.cold_starts = Some(outcome.cold_starts);
    run.scale_up_reaction_s = outcome.scale_up_reaction_s;
    run.budget = outcome.budget;
    run.faults = outcome.faults;
    run.waited = outcome.waited;
    if let Some(spec) = plan.prometheus.as_ref().filter(|_| !run.interrupted) {
        // The fields it has queries for, from Prometheus (which scrapes this testbed, or
        // whatever the queries name) rather than from the direct scrapes.
        let clock = live::promql::RunClock::of(&run, plan.window, time_scale, before);
        live::promql::fill(&mut run, spec, clock, &live::TlsOptions::default());
    }
    Ok(run)
}
