//! What a run on a real cluster did that may have skewed a setup's figures, in words: the
//! terminal's warning line per setup ([`cluster_warnings`](crate::cluster_warnings)) is made
//! of these.

use scalebench_core::report::SetupReport;

use crate::format::duration;

/// What in `setup`'s `cluster` section may have skewed its figures: the watchers not synced
/// before the load, watch errors (with the relists and the longest stale stretch), evictions a
/// PodDisruptionBudget refused, taints or cordons not undone. Empty for a setup without the
/// section and for a clean one; relists, API calls and a dry run alone are no trouble.
pub fn troubles(setup: &SetupReport) -> Vec<String> {
    let Some(c) = &setup.cluster else {
        return Vec::new();
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut out = Vec::new();
    if !c.synced {
        out.push("the watchers had not listed everything when the load started".to_owned());
    }
    if let Some(first) = c.watch_errors.first() {
        let n = c.watch_errors.len();
        let mut line = format!(
            "{n} watch error{} (first at {}: {} {})",
            plural(n),
            duration(first.t_s),
            first.resource,
            first.kind
        );
        if c.relists > 0 {
            line.push_str(&format!(
                ", {} relist{}",
                c.relists,
                plural(c.relists as usize)
            ));
        }
        if let Some(stale) = c.stale_s {
            line.push_str(&format!(", figures up to {} stale", duration(stale)));
        }
        out.push(line);
    }
    if let Some(first) = c.eviction_refusals.first() {
        let n = c.eviction_refusals.len();
        out.push(format!(
            "{n} eviction{} refused by a PodDisruptionBudget (first at {}: {})",
            plural(n),
            duration(first.t_s),
            first.pod
        ));
    }
    if let Some(first) = c.undo.as_ref().and_then(|u| u.failed.first()) {
        let n = c.undo.as_ref().map_or(0, |u| u.failed.len());
        let what = if n == 1 {
            format!("1 taint or cordon not undone ({first})")
        } else {
            format!("{n} taints or cordons not undone (first: {first})")
        };
        out.push(format!(
            "{what}: put back with `scalebench cluster undo JOURNAL`"
        ));
    }
    out
}
