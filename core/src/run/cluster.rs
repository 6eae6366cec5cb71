//! What the Kubernetes side did to a measurement on a real cluster (`--driver cluster`): watch
//! errors and relists (the observer's figures may have been stale), PodDisruptionBudget
//! refusals of evictions, the writes scalebench made, and whether the faults' taints and cordons
//! were undone. The cluster driver fills it; every other driver leaves
//! [`SetupRun::cluster`](super::SetupRun::cluster) `None`, so the report's `cluster` is `null`.
//!
//! Plain data, no kube types (core does not depend on kube): times are seconds since the run's
//! start, the timeline's time zero. The report writes these types as they are
//! (`setups[].cluster` in `report.json`).

use serde::{Deserialize, Serialize};

/// One setup's run on a real cluster, as `report.json`'s `setups[].cluster`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterRun {
    /// The kubeconfig context the run used, as the target named it; `None` (`null`): the
    /// kubeconfig's current context, or the pod's service account (in-cluster configuration).
    pub context: Option<String>,
    /// The namespace of the setup's objects.
    pub namespace: String,
    /// The Deployment the setup's replicas belong to.
    pub deployment: String,
    /// Every watcher (the Deployment, its HPA, the pods, the nodes) completed its first list
    /// before the load started. `false`: the observer's first figures were incomplete (pods or
    /// nodes missing from them) until the lists came in.
    pub synced: bool,
    /// Lists after each watcher's first: restarts after a 410 Gone or a lost resourceVersion,
    /// during which events may have been missed (the relist put the state right).
    pub relists: u32,
    /// Every error a watcher yielded (it retried after a backoff and kept its state), oldest
    /// first; empty when there was none.
    pub watch_errors: Vec<WatchErrorRecord>,
    /// The longest stretch, in seconds, during which the observer may have been behind: from a
    /// watcher's first error until it delivered an event again. `None` (`null`): never behind.
    pub stale_s: Option<f64>,
    /// Every time a PodDisruptionBudget refused an eviction (answered 429), oldest first: an
    /// eviction retried three times before the budget let it through appears three times.
    /// Empty when no budget refused one (or no fault evicted).
    pub eviction_refusals: Vec<RefusalRecord>,
    /// The writes scalebench sent to the API server for this setup (server-side applies, scales,
    /// evictions, taints, cordons, their undoing) through its one write path; reads (lists,
    /// watches, gets) are not counted. Under `dry_run`, the writes it would have sent.
    pub api_calls: u32,
    /// `--dry-run`: scalebench wrote nothing to the cluster (`api_calls` were only recorded), so
    /// the faults struck nothing.
    pub dry_run: bool,
    /// How the faults' taints and cordons were put back at the end of the run; `None` (`null`):
    /// there was nothing to undo (no fault tainted or cordoned a node, or a dry run).
    pub undo: Option<UndoRecord>,
}

/// One error a watcher yielded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WatchErrorRecord {
    /// When it came, in seconds since the run's start (the timeline's time zero); negative for
    /// an error before it (while the setup was applied or settled).
    pub t_s: f64,
    /// The watched resource: `deployment`, `hpa`, `pods` or `nodes`.
    pub resource: String,
    /// What failed: `initial-list-failed`, `watch-start-failed`, `watch-error-<code>` (an ERROR
    /// event, such as `watch-error-410` before a relist), `watch-failed`,
    /// `no-resource-version`.
    pub kind: String,
    /// The error with its causes.
    pub message: String,
}

/// One eviction a PodDisruptionBudget refused.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RefusalRecord {
    /// When, in seconds since the run's start (the timeline's time zero).
    pub t_s: f64,
    /// The pod; `namespace/name` when it is not in the section's `namespace`.
    pub pod: String,
    /// The budget's message, as the API server gave it.
    pub message: String,
}

/// How the faults' taints and cordons were undone at the end of the run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UndoRecord {
    /// Journal entries undone (a taint removed, a node uncordoned, or found already so).
    pub undone: u32,
    /// The entries that could not be undone, each with its error; empty when all were. They
    /// stay pending in the run's journal: `scalebench cluster undo JOURNAL` puts them back.
    pub failed: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Plan;
    use crate::record::Recorder;
    use crate::report::Report;
    use crate::run::SetupRun;
    use serde_json::{Value, json};

    fn plan() -> Plan {
        Plan::parse(
            std::path::Path::new("t.toml"),
            "duration = \"1s\"\n[slo]\nlatency = \"1s\"\n[traffic]\n[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n[service]\ntime = \"1ms\"\n[cluster]\nbilling = \"replica\"\nprice_per_replica_hour = 1\n[[setup]]\nname = \"a\"\n[setup.fixed]\nreplicas = 1\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A run of nothing, with `cluster` as given: what a driver hands to the score.
    fn run(plan: &Plan, name: &str, cluster: Option<ClusterRun>) -> SetupRun {
        SetupRun {
            cluster,
            ..Recorder::new(plan).into_run(name, "fixed", 1.0)
        }
    }

    fn observed() -> ClusterRun {
        ClusterRun {
            context: Some("kind-scalebench".to_owned()),
            namespace: "bench".to_owned(),
            deployment: "llm".to_owned(),
            synced: false,
            relists: 2,
            watch_errors: vec![
                WatchErrorRecord {
                    t_s: -3.25,
                    resource: "nodes".to_owned(),
                    kind: "initial-list-failed".to_owned(),
                    message: "connection refused".to_owned(),
                },
                WatchErrorRecord {
                    t_s: 120.5,
                    resource: "pods".to_owned(),
                    kind: "watch-error-410".to_owned(),
                    message: "too old resource version".to_owned(),
                },
            ],
            stale_s: Some(4.5),
            eviction_refusals: vec![RefusalRecord {
                t_s: 300.0,
                pod: "llm-7d9f-abcde".to_owned(),
                message: "Cannot evict pod as it would violate the pod's disruption budget."
                    .to_owned(),
            }],
            api_calls: 14,
            dry_run: false,
            undo: Some(UndoRecord {
                undone: 3,
                failed: vec!["cordon node-2: 403 Forbidden".to_owned()],
            }),
        }
    }

    #[test]
    fn the_section_is_null_without_a_cluster_and_written_whole_with_one() {
        let plan = plan();
        let runs = [
            run(&plan, "blind", None),
            run(&plan, "kube", Some(observed())),
        ];
        let report = crate::score::score(&plan, "cluster", &runs);
        let v = serde_json::to_value(&report).unwrap_or_else(|e| panic!("{e}"));
        let setup = |name: &str| -> &Value {
            let setups = v["setups"].as_array().map_or(&[][..], Vec::as_slice);
            setups
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("no setup {name}"))
        };
        // Absent: written as null, not left out.
        let blind = setup("blind");
        assert_eq!(blind.get("cluster"), Some(&Value::Null), "{blind}");
        // Present: every field, the nulls of a field nothing set included.
        assert_eq!(
            setup("kube")["cluster"],
            json!({
                "context": "kind-scalebench",
                "namespace": "bench",
                "deployment": "llm",
                "synced": false,
                "relists": 2,
                "watch_errors": [
                    {"t_s": -3.25, "resource": "nodes", "kind": "initial-list-failed",
                     "message": "connection refused"},
                    {"t_s": 120.5, "resource": "pods", "kind": "watch-error-410",
                     "message": "too old resource version"}
                ],
                "stale_s": 4.5,
                "eviction_refusals": [
                    {"t_s": 300.0, "pod": "llm-7d9f-abcde",
                     "message": "Cannot evict pod as it would violate the pod's disruption budget."}
                ],
                "api_calls": 14,
                "dry_run": false,
                "undo": {"undone": 3, "failed": ["cordon node-2: 403 Forbidden"]}
            })
        );
        let quiet = ClusterRun {
            namespace: "bench".to_owned(),
            deployment: "llm".to_owned(),
            synced: true,
            dry_run: true,
            ..ClusterRun::default()
        };
        let v = serde_json::to_value(&quiet).unwrap_or_else(|e| panic!("{e}"));
        for field in ["context", "stale_s", "undo"] {
            assert_eq!(v.get(field), Some(&Value::Null), "{field}: {v}");
        }
        assert_eq!(v["watch_errors"], json!([]));
        // And back: the report reads as it was written.
        let text = serde_json::to_string(&report).unwrap_or_else(|e| panic!("{e}"));
        let back: Report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, report);
        let kube = back.setups.iter().find(|s| s.name == "kube");
        assert_eq!(kube.and_then(|s| s.cluster.clone()), Some(observed()));
    }

    #[test]
    fn a_report_written_before_the_section_reads_as_null() {
        let plan = plan();
        let report = crate::score::score(&plan, "sim", &[run(&plan, "a", None)]);
        let mut v = serde_json::to_value(&report).unwrap_or_else(|e| panic!("{e}"));
        let removed = v["setups"][0]
            .as_object_mut()
            .and_then(|s| s.remove("cluster"));
        assert_eq!(removed, Some(Value::Null));
        let back: Report = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.setups[0].cluster, None);
    }
}
