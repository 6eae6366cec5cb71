//! `GET /metrics`: the testbed's state in the Prometheus text exposition format (0.0.4), so a
//! real Prometheus (or the cluster driver's observer) can scrape the testbed like a service.

use std::fmt::Write;

use crate::Snapshot;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders a snapshot as Prometheus text.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(2048);
    let gauges: [(&str, &str, f64); 8] = [
        (
            "scalebench_replicas_desired",
            "Replicas the autoscaler asks for, warm pool included.",
            f64::from(s.replicas_desired),
        ),
        (
            "scalebench_replicas_ready",
            "Replicas ready to serve.",
            f64::from(s.replicas_ready),
        ),
        (
            "scalebench_pods_pending",
            "Pods waiting for a node or starting.",
            f64::from(s.pods_pending),
        ),
        (
            "scalebench_queue_depth",
            "Requests waiting for a free replica slot.",
            f64::from(s.queue_depth),
        ),
        (
            "scalebench_in_flight",
            "Requests being served.",
            f64::from(s.in_flight),
        ),
        (
            "scalebench_gpus_allocated",
            "GPUs held by pods bound to nodes.",
            f64::from(s.gpus_allocated),
        ),
        (
            "scalebench_gpu_utilization",
            "Share (0-1) of the allocated pods' capacity busy serving.",
            s.gpu_utilization,
        ),
        (
            "scalebench_scenario_seconds",
            "Scenario time since the testbed started.",
            s.scenario_seconds,
        ),
    ];
    for (name, help, v) in gauges {
        family(&mut out, name, help, "gauge");
        let _ = writeln!(out, "{name} {}", num(v));
    }
    family(
        &mut out,
        "scalebench_cost_usd_total",
        "Cost accrued so far, in USD.",
        "counter",
    );
    let _ = writeln!(out, "scalebench_cost_usd_total {}", num(s.cost_usd));
    for (name, help, v) in [
        (
            "scalebench_busy_slot_seconds_total",
            "Requests in service x time, in slot-seconds: its rate over a window, divided by the concurrency and by the rate of scalebench_allocated_pod_seconds_total, is the window's utilisation.",
            s.busy_slot_seconds,
        ),
        (
            "scalebench_allocated_pod_seconds_total",
            "Pods holding capacity x time, in pod-seconds.",
            s.allocated_pod_seconds,
        ),
    ] {
        family(&mut out, name, help, "counter");
        let _ = writeln!(out, "{name} {}", num(v));
    }
    family(
        &mut out,
        "scalebench_cold_starts_total",
        "Replicas that loaded the model and became ready during the run.",
        "counter",
    );
    let _ = writeln!(out, "scalebench_cold_starts_total {}", s.cold_starts);
    family(
        &mut out,
        "scalebench_nodes",
        "Nodes per pool, provisioning or up.",
        "gauge",
    );
    for (pool, n) in &s.nodes {
        let _ = writeln!(out, "scalebench_nodes{{pool=\"{}\"}} {n}", escape(pool));
    }
    family(
        &mut out,
        "scalebench_requests_total",
        "Requests by outcome: ok (served), rejected (queue full or shed), killed (with their replica), expired (left the queue: client gone or past the timeout).",
        "counter",
    );
    for (outcome, n) in [
        ("ok", s.requests_ok),
        ("rejected", s.requests_rejected),
        ("killed", s.requests_killed),
        ("expired", s.requests_expired),
    ] {
        let _ = writeln!(
            out,
            "scalebench_requests_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    if let Some(l) = &s.llm {
        vllm(&mut out, l);
    }
    out
}

/// The token model's state under vLLM's metric names (v1 engine), labelled as one served
/// model, so that a Prometheus-driven setup reads the testbed as it reads a real vLLM.
fn vllm(out: &mut String, l: &crate::LlmSnapshot) {
    const LABEL: &str = "model_name=\"scalebench-testbed\"";
    for (name, help, v) in [
        (
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            f64::from(l.running),
        ),
        (
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            f64::from(l.waiting),
        ),
        (
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            l.kv_cache_usage,
        ),
    ] {
        family(out, name, help, "gauge");
        let _ = writeln!(out, "{name}{{{LABEL}}} {}", num(v));
    }
    for (name, help, v) in [
        (
            "vllm:prompt_tokens_total",
            "Number of prefill tokens processed.",
            l.prompt_tokens,
        ),
        (
            "vllm:generation_tokens_total",
            "Number of generation tokens processed.",
            l.generation_tokens,
        ),
    ] {
        family(out, name, help, "counter");
        let _ = writeln!(out, "{name}{{{LABEL}}} {v}");
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A sample value as Prometheus writes it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_help_and_type_and_label_values_are_escaped() {
        let mut s = Snapshot::default();
        s.nodes.insert("a\"b".into(), 2);
        s.cost_usd = 0.5;
        let text = render(&s);
        for name in [
            "scalebench_replicas_desired",
            "scalebench_cost_usd_total",
            "scalebench_nodes",
            "scalebench_requests_total",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert!(text.contains("scalebench_nodes{pool=\"a\\\"b\"} 2"));
        assert!(text.contains("scalebench_cost_usd_total 0.5"));
        assert!(text.contains("scalebench_requests_total{outcome=\"killed\"} 0"));
        assert!(!text.contains("vllm:"), "no token model, no vLLM names");
    }

    #[test]
    fn a_token_model_is_exported_under_vllms_names() {
        let s = Snapshot {
            llm: Some(crate::LlmSnapshot {
                running: 7,
                waiting: 3,
                kv_cache_usage: 0.25,
                prompt_tokens: 1200,
                generation_tokens: 345,
            }),
            ..Snapshot::default()
        };
        let text = render(&s);
        for line in [
            "# TYPE vllm:num_requests_running gauge",
            "vllm:num_requests_running{model_name=\"scalebench-testbed\"} 7",
            "vllm:num_requests_waiting{model_name=\"scalebench-testbed\"} 3",
            "vllm:kv_cache_usage_perc{model_name=\"scalebench-testbed\"} 0.25",
            "# TYPE vllm:prompt_tokens_total counter",
            "vllm:prompt_tokens_total{model_name=\"scalebench-testbed\"} 1200",
            "vllm:generation_tokens_total{model_name=\"scalebench-testbed\"} 345",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }
}
