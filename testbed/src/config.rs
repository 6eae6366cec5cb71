//! What a testbed emulates: one setup of a scenario (its service model, pools, lifecycle and
//! autoscaler) and how much faster than scenario time it runs. Kept apart from the running
//! state so the CLI can build it from a scenario file or use the built-in demo.

use std::path::PathBuf;

use scalebench_core::dist::DurationDist;
use scalebench_core::policy::{Behavior, HpaConfig, HpaMetric, PolicyConfig};
use scalebench_core::scenario::{Billing, CapacityType, Lifecycle, Pool, Service, Slo};
use scalebench_core::traffic::Traffic;
use scalebench_core::{Duration, Plan, Setup};

use crate::{KubeMirror, TestbedError};

/// Everything a testbed needs to run: the scenario, the setup it emulates, the time scale and
/// the seed of its random draws (service times, lifecycle phases, fault targets).
#[derive(Debug, Clone)]
pub struct TestbedConfig {
    /// The scenario (its service model, cluster autoscaler settings and SLO).
    pub plan: Plan,
    /// The setup whose policy, pools, warm pool and lifecycle the testbed runs.
    pub setup: Setup,
    /// Scenario seconds per real second: 10.0 runs everything ten times faster than written
    /// (service times, pod phases, node provisioning, policy intervals, metric sampling).
    pub time_scale: f64,
    /// The seed of every random draw; the scenario's by default.
    pub seed: u64,
    /// Faults that strike at their times (none by default; the testbed driver gives the
    /// scenario's). Faults can also be injected at any time through the admin API.
    pub faults: scalebench_core::fault::FaultPlan,
    /// Also serve a Kubernetes API that mirrors the service (pods, nodes, the Deployment and
    /// its HPA) and carries out what its clients ask; none by default.
    pub kube: Option<KubeMirror>,
    /// The tokenizer that counts the prompts of OpenAI requests (token model); cl100k_base by
    /// default.
    pub encoding: openai::Encoding,
}

impl TestbedConfig {
    /// A testbed for one setup of a plan, `time_scale` times faster than scenario time. Its
    /// prompts are counted in the encoding of the plan's `[traffic.openai]`, if it has one.
    pub fn from_plan(plan: &Plan, setup: &Setup, time_scale: f64) -> TestbedConfig {
        TestbedConfig {
            plan: plan.clone(),
            setup: setup.clone(),
            time_scale,
            seed: plan.seed,
            faults: scalebench_core::fault::FaultPlan::default(),
            kube: None,
            encoding: plan
                .traffic
                .openai
                .as_ref()
                .map_or_else(openai::Encoding::default, |o| o.encoding),
        }
    }

    /// A standalone testbed without a scenario, in real time: service time lognormal (median
    /// 80 ms, p99 300 ms), 4 requests per replica, a queue of 1000, pods that start in 5 s and
    /// load in 10 s, one on-demand pool of 4-GPU nodes (provisioned in 30 s, at most 5), and an
    /// HPA on requests in service per pod (target 3, 1 to 10 replicas, scrape delay 15 s).
    pub fn default_demo() -> TestbedConfig {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let pool = Pool {
            name: "gpu-on-demand".into(),
            capacity_type: CapacityType::OnDemand,
            gpu: Some("L4".into()),
            gpus_per_node: 4,
            pods_per_node: None,
            price_per_hour: 3.20,
            provision: DurationDist::fixed(secs(30)),
            min_nodes: 0,
            max_nodes: 5,
            interruption_rate: 0.0,
            interruption_notice: secs(120),
            speed: 1.0,
        };
        let lifecycle = Lifecycle {
            schedule: DurationDist::fixed(ms(500)),
            start: DurationDist::fixed(secs(5)),
            load: DurationDist::fixed(secs(10)),
            grace_period: secs(30),
        };
        let service = Service {
            concurrency: 4,
            queue: 1000,
            time: DurationDist::Lognormal {
                median: ms(80),
                p99: ms(300),
            },
            gpus: 1,
            lifecycle: lifecycle.clone(),
            llm: None,
        };
        let setup = Setup {
            name: "demo-hpa".into(),
            policy: PolicyConfig::Hpa(HpaConfig {
                min_replicas: 1,
                max_replicas: 10,
                metric: HpaMetric::Concurrency,
                target: 3.0,
                tolerance: 0.1,
                sync_period: secs(15),
                behavior: Behavior::default(),
            }),
            warm_pool: 0,
            scrape_delay: secs(15),
            lifecycle,
            billing: Billing::Node,
            price_per_replica_hour: 0.0,
            pools: vec![pool],
            speed: 1.0,
            initial_replicas: 1,
            retry_killed: false,
            kubernetes: None,
        };
        let capacity_rps = 10.0 * 4.0 / service.time.mean_secs();
        let plan = Plan {
            name: "testbed-demo".into(),
            description: Some("the testbed's built-in demo service".into()),
            path: PathBuf::from("(built in)"),
            duration: secs(3600),
            seed: 1,
            window: secs(1),
            slo: Slo {
                latency: secs(1),
                percentile: 99.0,
                ttft: None,
                tpot: None,
            },
            traffic: Traffic {
                arrival: Default::default(),
                cv: None,
                capacity: Some(capacity_rps),
                capacity_replicas: None,
                timeout: secs(60),
                shapes: Vec::new(),
                classes: Vec::new(),
                executor: Default::default(),
                users: None,
                tokens: None,
                trace: None,
                openai: None,
            },
            capacity_rps,
            service,
            scan_interval: secs(10),
            scale_down_unneeded: secs(600),
            setups: vec![setup.clone()],
            faults: Default::default(),
            gate: Default::default(),
            prometheus: None,
            trace: None,
        };
        TestbedConfig {
            plan,
            setup,
            time_scale: 1.0,
            seed: 1,
            faults: scalebench_core::fault::FaultPlan::default(),
            kube: None,
            encoding: openai::Encoding::default(),
        }
    }

    /// Checks what the model cannot run with.
    pub(crate) fn validate(&self) -> Result<(), TestbedError> {
        let bad = |m: String| Err(TestbedError::Config(m));
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return bad(format!(
                "time_scale must be a positive number, found {}",
                self.time_scale
            ));
        }
        if self.plan.service.concurrency == 0 {
            return bad("service concurrency must be at least 1".into());
        }
        if !(self.setup.speed.is_finite() && self.setup.speed > 0.0) {
            return bad(format!(
                "setup speed must be above zero, found {}",
                self.setup.speed
            ));
        }
        if self.setup.billing == Billing::Node && self.setup.pools.is_empty() {
            return bad(format!(
                "setup {:?} uses node billing but has no node pool",
                self.setup.name
            ));
        }
        if let Some(k) = &self.kube {
            k.validate()?;
        }
        if let Some(p) = self
            .setup
            .pools
            .iter()
            .find(|p| !(p.speed.is_finite() && p.speed > 0.0))
        {
            return bad(format!(
                "pool {:?} has speed {}; it must be above zero",
                p.name, p.speed
            ));
        }
        Ok(())
    }
}
