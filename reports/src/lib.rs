//! TEMPORARY stand-in.
#![allow(missing_docs)]
use harness::report::Report;
use std::path::{Path, PathBuf};
pub fn ranked_table(r: &Report) -> String {
    let mut s = String::new();
    for x in &r.setups {
        s += &format!(
            "{} {} p50 {:.1} p99 {:.1} att {:.4} viol {} cost {:.3} per1k {:.4} req {:?} max {} cold {} react {:?} rec {:?} idle {:.3}\n",
            x.rank,
            x.name,
            x.latency_ms.p50,
            x.latency_ms.p99,
            x.slo.attainment,
            x.slo.violation_s,
            x.cost.total_usd,
            x.cost.per_1k_requests_usd,
            x.requests,
            x.scaling.max_replicas,
            x.scaling.cold_starts,
            x.scaling.scale_up_reaction_s,
            x.slo.recoveries,
            x.cost.idle_fraction
        );
    }
    s
}
pub fn write_all(r: &Report, dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let p = dir.join("report.json");
    std::fs::write(&p, serde_json::to_string_pretty(r).unwrap_or_default())?;
    Ok(vec![p])
}
