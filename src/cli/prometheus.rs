//! The `--prometheus` flags of `load`: after the run, the timeline's service side from a
//! Prometheus server's `query_range` (see `live::promql`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use anyhow::anyhow;
use scalebench_core::prometheus::{Preset, PrometheusSpec};
use scalebench_core::run::SetupRun;
use scalebench_core::{Duration, Plan};

use super::Failure;

/// Flags that fill the timeline from Prometheus.
#[derive(Debug, clap::Args)]
pub struct PrometheusArgs {
    /// After the run, fill the timeline's service side from this Prometheus server (its base
    /// URL, e.g. http://prometheus:9090), one query_range per field.
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// A timeline field and the PromQL that gives it, e.g. `replicas_ready=sum(kube_deployment_status_replicas_ready{deployment="llm"})`
    /// (repeatable; overrides a preset's query for that field). The query must return one
    /// series: aggregate it with sum() or avg().
    #[arg(long = "query", value_name = "FIELD=PROMQL", requires = "prometheus")]
    queries: Vec<String>,
    /// Queries for a known exporter: dcgm (GPU utilisation) or vllm (queue depth, running
    /// requests, KV-cache usage) (repeatable).
    #[arg(
        long = "prometheus-preset",
        value_name = "NAME",
        requires = "prometheus"
    )]
    presets: Vec<String>,
    /// The environment variable holding a bearer token for Prometheus (default
    /// SCALEBENCH_PROMETHEUS_TOKEN; sent only when set).
    #[arg(long, value_name = "VAR", requires = "prometheus")]
    prometheus_token_env: Option<String>,
    /// How often Prometheus scrapes the service (default 15s).
    #[arg(long, value_name = "DURATION", requires = "prometheus")]
    prometheus_scrape_interval: Option<Duration>,
    /// How long after the run to wait for the last window's samples (default two scrape
    /// intervals and 2s); what has not come then stays null.
    #[arg(long, value_name = "DURATION", requires = "prometheus")]
    prometheus_settle: Option<Duration>,
}

impl PrometheusArgs {
    /// The flags checked and resolved; `None` without `--prometheus`. Bad input is exit 2.
    pub fn spec(&self) -> Result<Option<PrometheusSpec>, Failure> {
        let Some(url) = &self.prometheus else {
            return Ok(None);
        };
        let mut presets = Vec::new();
        for name in &self.presets {
            let p = Preset::parse(name).ok_or_else(|| {
                Failure::input(anyhow!(
                    "--prometheus-preset: unknown preset {name:?}; expected one of {}",
                    Preset::ALL.map(Preset::name).join(", ")
                ))
            })?;
            presets.push(p);
        }
        let mut queries = BTreeMap::new();
        for q in &self.queries {
            let (field, promql) = q.split_once('=').ok_or_else(|| {
                Failure::input(anyhow!(
                    "--query: expected FIELD=PROMQL (e.g. queue_depth=sum(vllm:num_requests_waiting)), found {q:?}"
                ))
            })?;
            queries.insert(field.trim().to_string(), promql.trim().to_string());
        }
        PrometheusSpec::new(
            url,
            self.prometheus_token_env.as_deref(),
            &presets,
            &queries,
            self.prometheus_scrape_interval,
            self.prometheus_settle,
        )
        .map(Some)
        .map_err(|e| Failure::input(anyhow!("--prometheus: {e}")))
    }
}

/// Fills `run`'s timeline from `spec` after a run of `plan` in real time that began (by the
/// caller's clock) at `before`, unless it was interrupted.
pub fn fill(
    run: &mut SetupRun,
    spec: &PrometheusSpec,
    plan: &Plan,
    before: SystemTime,
    tls: &live::TlsOptions,
) {
    if run.interrupted {
        eprintln!("interrupted: the timeline is not read from Prometheus");
        return;
    }
    eprintln!(
        "reading the timeline from Prometheus (waiting up to {} for the last samples)",
        spec.settle
    );
    let clock = live::promql::RunClock::of(run, plan.window, 1.0, before);
    live::promql::fill(run, spec, clock, tls);
}
