//! Where a live run's timeline can take its service side from a Prometheus server: the
//! `[prometheus]` table of a scenario (and `scalebench load --prometheus`), resolved into a
//! [`PrometheusSpec`]: the server, the token's environment variable, and one PromQL query per
//! timeline field, presets first and the user's own queries over them. No I/O here: the
//! `live` crate's `promql` module asks the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::TimelineSample;
use crate::units::Duration;

/// The environment variable a bearer token is read from unless `token_env` names another.
pub const DEFAULT_TOKEN_ENV: &str = "SCALEBENCH_PROMETHEUS_TOKEN";

/// The scrape interval assumed unless `scrape_interval` says otherwise (Prometheus' default
/// is 1 minute; 15 s is what most installations, kube-prometheus among them, configure).
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);

/// The timeline fields a query may fill, as named in report.json.
pub const FIELDS: [&str; 9] = [
    "replicas_desired",
    "replicas_ready",
    "pods_pending",
    "gpus_allocated",
    "gpu_util",
    "queue_depth",
    "cost_usd",
    "running",
    "kv_cache_usage",
];

/// A named set of queries for a common exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// NVIDIA's DCGM exporter: GPU utilisation.
    Dcgm,
    /// vLLM's own `/metrics`: queue depth, running requests, KV-cache usage.
    Vllm,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 2] = [Preset::Dcgm, Preset::Vllm];

    /// Its name, as written in files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Dcgm => "dcgm",
            Preset::Vllm => "vllm",
        }
    }

    /// The preset named `name`.
    pub fn parse(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Its queries: (timeline field, PromQL). Where two metrics can give a field, `or` takes
    /// the first where it has a value at that instant and the second otherwise.
    pub fn queries(self) -> &'static [(&'static str, &'static str)] {
        match self {
            // DCGM_FI_PROF_GR_ENGINE_ACTIVE (0-1, the profiling counter: the share of time the
            // graphics engine was busy) wins where the exporter has it; DCGM_FI_DEV_GPU_UTIL
            // (percent, coarser: any kernel running counts as busy) otherwise.
            Preset::Dcgm => &[(
                "gpu_util",
                "avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE) or avg(DCGM_FI_DEV_GPU_UTIL) / 100",
            )],
            // vLLM renamed gpu_cache_usage_perc to kv_cache_usage_perc (0-1 despite the name).
            Preset::Vllm => &[
                ("queue_depth", "sum(vllm:num_requests_waiting)"),
                ("running", "sum(vllm:num_requests_running)"),
                (
                    "kv_cache_usage",
                    "avg(vllm:kv_cache_usage_perc) or avg(vllm:gpu_cache_usage_perc)",
                ),
            ],
        }
    }
}

/// Where the timeline's service side comes from on a real cluster, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusSpec {
    /// The server's base URL (`http://prometheus:9090`, or with a path prefix).
    pub url: String,
    /// The environment variable holding a bearer token, sent when it is set and not empty.
    pub token_env: String,
    /// The presets asked for, in the order given.
    pub presets: Vec<Preset>,
    /// Timeline field -> PromQL: the presets' queries, then the user's over them.
    pub queries: BTreeMap<String, String>,
    /// How often Prometheus scrapes the service.
    pub scrape_interval: Duration,
    /// How long after the run's end to wait for the last windows' samples.
    pub settle: Duration,
}

impl PrometheusSpec {
    /// Checks and resolves the settings: an http(s) URL with a host, known field names, a
    /// query for at least one field. `settle` defaults to two scrape intervals and 2 s. The
    /// error says what is wrong and what was expected.
    pub fn new(
        url: &str,
        token_env: Option<&str>,
        presets: &[Preset],
        queries: &BTreeMap<String, String>,
        scrape_interval: Option<Duration>,
        settle: Option<Duration>,
    ) -> Result<PrometheusSpec, String> {
        check_url(url)?;
        let token_env = token_env.unwrap_or(DEFAULT_TOKEN_ENV);
        if token_env.is_empty() || token_env.contains(['=', '\0']) {
            return Err(format!(
                "token_env must name an environment variable, found {token_env:?}"
            ));
        }
        let mut resolved = BTreeMap::new();
        for p in presets {
            for (field, q) in p.queries() {
                resolved.insert((*field).to_string(), (*q).to_string());
            }
        }
        for (field, q) in queries {
            check_field(field)?;
            if q.trim().is_empty() {
                return Err(format!("the query for {field} is empty"));
            }
            resolved.insert(field.clone(), q.clone());
        }
        if resolved.is_empty() {
            return Err(format!(
                "no query: give presets ({}) or queries (a field of {} = PromQL)",
                Preset::ALL.map(Preset::name).join(", "),
                FIELDS.join(", ")
            ));
        }
        let scrape_interval = scrape_interval.unwrap_or(DEFAULT_SCRAPE_INTERVAL);
        if scrape_interval.is_zero() {
            return Err("scrape_interval must be longer than zero".into());
        }
        let settle = settle.unwrap_or_else(|| {
            Duration::from_nanos(2 * scrape_interval.as_nanos() + 2_000_000_000)
        });
        Ok(PrometheusSpec {
            url: url.to_string(),
            token_env: token_env.to_string(),
            presets: presets.to_vec(),
            queries: resolved,
            scrape_interval,
            settle,
        })
    }
}

/// An http or https URL with a host (checked again, fully, when the client is built).
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("expected an http:// or https:// URL of the Prometheus server, found {url:?}")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') || url.contains(char::is_whitespace) {
        return Err(format!(
            "expected an http:// or https:// URL with a host (http://prometheus:9090), found {url:?}"
        ));
    }
    Ok(())
}

/// A timeline field a query may fill.
pub fn check_field(field: &str) -> Result<(), String> {
    if FIELDS.contains(&field) {
        Ok(())
    } else {
        Err(format!(
            "unknown timeline field {field:?}; expected one of {}",
            FIELDS.join(", ")
        ))
    }
}

/// Sets `field` of `sample` to `value` (counts rounded, negatives as 0); `None` leaves it
/// unobserved. Returns false for a field not in [`FIELDS`].
pub fn set_field(sample: &mut TimelineSample, field: &str, value: Option<f64>) -> bool {
    let count = value.map(|v| v.max(0.0).round().min(f64::from(u32::MAX)) as u32);
    match field {
        "replicas_desired" => sample.replicas_desired = count,
        "replicas_ready" => sample.replicas_ready = count,
        "pods_pending" => sample.pods_pending = count,
        "gpus_allocated" => sample.gpus_allocated = count,
        "gpu_util" => sample.gpu_util = value,
        "queue_depth" => sample.queue_depth = count,
        "cost_usd" => sample.cost_usd = value,
        "running" => sample.running = count,
        "kv_cache_usage" => sample.kv_cache_usage = value,
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queries(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn user_queries_override_presets_per_field() -> Result<(), String> {
        let spec = PrometheusSpec::new(
            "http://prom:9090",
            None,
            &[Preset::Dcgm, Preset::Vllm],
            &queries(&[("queue_depth", "sum(my_queue)")]),
            None,
            None,
        )?;
        assert_eq!(spec.queries["queue_depth"], "sum(my_queue)");
        assert_eq!(spec.queries["running"], "sum(vllm:num_requests_running)");
        assert!(spec.queries["gpu_util"].starts_with("avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE) or"));
        assert_eq!(spec.token_env, DEFAULT_TOKEN_ENV);
        assert_eq!(spec.settle, Duration::from_secs(32));
        Ok(())
    }

    #[test]
    fn bad_input_says_what_was_expected() {
        let new = |url: &str, q: &[(&str, &str)], p: &[Preset]| {
            PrometheusSpec::new(url, None, p, &queries(q), None, None).err()
        };
        let e = new("http://p:9090", &[("replicas", "x")], &[]);
        assert!(e.is_some_and(|e| e.contains("unknown timeline field \"replicas\"")));
        for url in [
            "prom:9090",
            "ftp://p",
            "http://",
            "http://:9090/",
            "http://a b",
        ] {
            let e = new(url, &[("gpu_util", "x")], &[]);
            assert!(e.is_some_and(|e| e.contains("http://")), "{url}");
        }
        assert!(new("http://p", &[], &[]).is_some_and(|e| e.contains("no query")));
        assert!(new("https://u:p@p/prefix", &[], &[Preset::Vllm]).is_none());
    }

    #[test]
    fn fields_are_set_by_name_and_counts_rounded() {
        let mut s = TimelineSample::default();
        for f in FIELDS {
            assert!(set_field(&mut s, f, Some(2.6)), "{f}");
        }
        assert_eq!((s.replicas_ready, s.running), (Some(3), Some(3)));
        assert_eq!(s.kv_cache_usage, Some(2.6));
        assert!(set_field(&mut s, "queue_depth", Some(-1.0)));
        assert_eq!(s.queue_depth, Some(0));
        assert!(set_field(&mut s, "gpu_util", None));
        assert_eq!(s.gpu_util, None);
        assert!(!set_field(&mut s, "nodes", Some(1.0)));
    }
}
