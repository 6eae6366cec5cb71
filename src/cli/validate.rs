//! `scalebench validate SCENARIO`: parse and check only.

use std::path::PathBuf;

use scalebench_core::Plan;

use super::Failure;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
}

/// Checks the scenario and prints what it would run.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let plan = Plan::load(&args.scenario).map_err(Failure::input)?;
    let faults = &plan.faults;
    let names: Vec<&str> = plan.setups.iter().map(|s| s.name.as_str()).collect();
    let load = match plan.traffic.closed_loop() {
        Some(u) => format!(
            "{} closed-loop users (mean think {:.3} s, ramp {})",
            u.count,
            u.think.mean_secs(),
            u.ramp
        ),
        None => format!(
            "about {:.0} requests",
            scalebench_core::arrivals::ArrivalStream::new(&plan).expected_count()
        ),
    };
    super::print(&format!(
        "{}: ok: {} over {}, {load}, capacity {:.1} rps, windows of {}, setups: {}\n",
        args.scenario.display(),
        plan.name,
        plan.duration,
        plan.capacity_rps,
        plan.window,
        names.join(", ")
    ));
    if let (Some(spec), Some(t)) = (&plan.traffic.trace, &plan.trace) {
        let tokens = t.mean_tokens.map_or_else(
            || "no token counts".to_string(),
            |(p, o)| format!("mean {p:.0} prompt and {o:.0} output tokens"),
        );
        let skipped = if t.skipped > 0 {
            format!(", {} malformed rows skipped", t.skipped)
        } else {
            String::new()
        };
        super::print(&format!(
            "  trace {} ({}): {} requests over {:.1} s, {tokens}{skipped}\n",
            spec.file.display(),
            spec.format.name(),
            t.requests,
            t.span_s
        ));
    }
    if let Some(m) = &plan.service.llm {
        let (p, o) = match (plan.trace.and_then(|t| t.mean_tokens), plan.traffic.tokens) {
            (Some(means), _) => means,
            (None, Some(t)) => (t.prompt.mean(), t.output.mean()),
            (None, None) => (0.0, 1.0),
        };
        super::print(&format!(
            "  token model: batch {}, KV cache {} tokens; one replica sustains about {:.2} requests/s at the mean lengths\n",
            m.max_batch,
            m.kv_cache_tokens,
            m.capacity_rps(p, o)
        ));
    }
    let slo = &plan.slo;
    if slo.ttft.is_some() || slo.tpot.is_some() {
        let show = |d: Option<scalebench_core::Duration>| {
            d.map_or_else(|| "-".to_string(), |d| d.to_string())
        };
        super::print(&format!(
            "  per-request SLO bounds: TTFT {}, TPOT {}\n",
            show(slo.ttft),
            show(slo.tpot)
        ));
    }
    for f in &faults.faults {
        super::print(&format!(
            "  fault at {}: {} on {}\n",
            f.at(),
            f.kind(),
            f.target()
        ));
    }
    for s in &plan.setups {
        let Some(k) = &s.kubernetes else { continue };
        let t = &k.target;
        super::print(&format!(
            "  setup {} on a cluster: deployment {}/{} ({}), load at {}{}\n",
            s.name,
            t.namespace,
            t.deployment,
            t.context
                .as_deref()
                .map_or_else(|| "current context".to_string(), |c| format!("context {c}")),
            k.url,
            k.manifests
                .as_ref()
                .map_or_else(String::new, |m| format!(", applies {}", m.display()))
        ));
    }
    for t in &plan.gate.thresholds {
        let scope = t.setup.as_deref().unwrap_or("every setup");
        super::print(&format!("  threshold {} ({scope})\n", t.text));
    }
    for l in &plan.gate.max_regression {
        let scope = l.setup.as_deref().unwrap_or("every setup");
        super::print(&format!(
            "  max regression against a baseline {} ({scope})\n",
            l.text
        ));
    }
    Ok(())
}
