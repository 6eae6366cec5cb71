use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use scalebench_core::Plan;
use scalebench_core::policy::PolicyConfig;

use super::*;
use crate::pod::capacity_order;
use crate::quantity::whole_secs;

/// What the objects do not carry back, and why. The round trip below checks everything else.
const NOT_ROUND_TRIPPED: &[(&str, &str)] = &[
    (
        "sub-second parts of stabilization windows, policy periods, KEDA pollingInterval and cooldownPeriod, terminationGracePeriodSeconds",
        "the API's fields are whole seconds (rounded to the nearest)",
    ),
    (
        "HPA/KPA/KEDA targets beyond f64's shortest decimal",
        "none: targets are written as the shortest decimal that reads back as the same f64",
    ),
    (
        "lifecycle schedule/start/load, billing, prices, pool sizes and provisioning, speed, retry_killed",
        "properties of the cluster and the service, not of the objects: the cluster driver measures them",
    ),
    (
        "pools beyond name and capacity type (GPU model, price, nodes)",
        "node affinity selects by capacity type; names are in scalebench.io/pools",
    ),
];

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("../workloads/scenarios"))
        .expect("the shipped scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.push(root.join("tests/policies.toml"));
    files
}

fn load(path: &Path) -> Plan {
    Plan::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn policies_plan() -> Plan {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies.toml"))
}

fn objects_of(plan: &Plan, setup: &str, labels: Labels) -> Objects {
    let s = plan
        .setups
        .iter()
        .find(|s| s.name == setup)
        .expect("the setup");
    write(
        plan,
        s,
        &Options {
            labels,
            ..Options::default()
        },
    )
}

#[test]
fn every_setup_of_every_scenario_round_trips() {
    assert!(!NOT_ROUND_TRIPPED.is_empty());
    let mut kinds = std::collections::BTreeSet::new();
    for path in scenarios() {
        let plan = load(&path);
        for setup in &plan.setups {
            for labels in [Labels::Karpenter, Labels::Eks, Labels::Gke, Labels::Aks] {
                let what = format!("{} {} {labels:?}", path.display(), setup.name);
                let opts = Options {
                    namespace: Some("bench".into()),
                    labels,
                    ..Options::default()
                };
                let objects = write(&plan, setup, &opts);
                let yaml = to_yaml(&objects).expect(&what);
                let parsed = parse_yaml(&yaml).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(
                    parsed,
                    Objects {
                        notes: Vec::new(),
                        ..objects.clone()
                    },
                    "{what}"
                );
                let r = read(&parsed).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(r.policy, setup.policy, "{what}");
                assert_eq!(r.initial_replicas, setup.initial_replicas, "{what}");
                assert_eq!(r.warm_pool, setup.warm_pool, "{what}");
                assert_eq!(r.setup.as_deref(), Some(setup.name.as_str()), "{what}");
                assert_eq!(r.scrape_delay, Some(setup.scrape_delay), "{what}");
                assert_eq!(
                    r.grace_period.map(|d| d.as_nanos()),
                    Some(whole_secs(setup.lifecycle.grace_period) as u64 * 1_000_000_000),
                    "{what}"
                );
                let gpus = plan.service.gpus;
                assert_eq!(r.gpus, (gpus > 0).then_some(gpus), "{what}");
                assert_eq!(r.capacity_types, capacity_order(setup), "{what}");
                let names: Vec<&str> = setup.pools.iter().map(|p| p.name.as_str()).collect();
                assert_eq!(r.pools, names, "{what}");
                kinds.insert(setup.policy.kind());
            }
        }
    }
    assert_eq!(kinds.len(), 5, "every policy kind is covered: {kinds:?}");
}

#[test]
fn hpa_maps_behavior_field_by_field() {
    let plan = policies_plan();
    let o = objects_of(&plan, "hpa-rps-min-select", Labels::Karpenter);
    let hpa = o.hpa.expect("an HPA");
    assert!(o.scaled_object.is_none() && o.knative.is_none());
    let spec = &hpa.spec;
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 10));
    assert_eq!(spec.scale_target_ref.kind, "Deployment");
    let m = &spec.metrics.as_ref().expect("metrics")[0];
    assert_eq!(m.type_, "Pods");
    let pods = m.pods.as_ref().expect("a Pods metric");
    assert_eq!(pods.metric.name, "requests_per_second");
    assert_eq!(pods.target.type_, "AverageValue");
    assert_eq!(
        pods.target.average_value.as_ref().map(|q| q.0.as_str()),
        Some("12.5")
    );
    let b = spec.behavior.as_ref().expect("behavior");
    let up = b.scale_up.as_ref().expect("scaleUp");
    assert_eq!(up.select_policy.as_deref(), Some("Min"));
    assert_eq!(up.stabilization_window_seconds, None);
    let p = up.policies.as_ref().expect("policies");
    assert_eq!(
        p.iter()
            .map(|p| (p.type_.as_str(), p.value, p.period_seconds))
            .collect::<Vec<_>>(),
        [("Pods", 2, 30), ("Percent", 50, 60)]
    );
    assert_eq!(up.tolerance.as_ref().map(|q| q.0.as_str()), Some("0.05"));
    let down = b.scale_down.as_ref().expect("scaleDown");
    assert_eq!(down.select_policy.as_deref(), Some("Disabled"));
    assert_eq!(
        down.policies, None,
        "empty policies: the API server's defaults"
    );
    let ann = hpa.metadata.annotations.expect("annotations");
    assert_eq!(ann["scalebench.io/sync-period"], "10s");
    assert_eq!(ann["scalebench.io/metric"], "rps");
}

#[test]
fn default_tolerance_is_left_to_the_cluster_and_queue_is_external() {
    let plan = policies_plan();
    let hpa = objects_of(&plan, "hpa-queue-defaults", Labels::Karpenter)
        .hpa
        .expect("an HPA");
    let b = hpa.spec.behavior.expect("behavior");
    assert_eq!(b.scale_up.expect("up").tolerance, None);
    let m = &hpa.spec.metrics.expect("metrics")[0];
    assert_eq!(m.type_, "External");
    assert_eq!(
        m.external.as_ref().map(|e| e.metric.name.as_str()),
        Some("scalebench_queue_depth")
    );
}

#[test]
fn affinity_follows_pool_order_with_the_chosen_labels() {
    let plan = policies_plan();
    let pod = |setup: &str, labels| {
        objects_of(&plan, setup, labels)
            .deployment
            .and_then(|d| d.spec.template.spec)
            .expect("a pod spec")
    };
    // spot first, then on-demand: preferred, weights in pool order.
    let p = pod("hpa-rps-min-select", Labels::Karpenter);
    let na = p
        .affinity
        .and_then(|a| a.node_affinity)
        .expect("node affinity");
    assert!(
        na.required_during_scheduling_ignored_during_execution
            .is_none()
    );
    let pref = na
        .preferred_during_scheduling_ignored_during_execution
        .expect("preferred");
    let terms: Vec<(i32, &NodeSelectorRequirement)> = pref
        .iter()
        .map(|t| {
            (
                t.weight,
                &t.preference.match_expressions.as_ref().expect("terms")[0],
            )
        })
        .collect();
    assert_eq!(terms[0].0, 100);
    assert_eq!(terms[0].1.key, "karpenter.sh/capacity-type");
    assert_eq!(
        terms[0].1.values.as_deref(),
        Some(&["spot".to_string()][..])
    );
    assert_eq!(terms[1].0, 50);
    assert_eq!(
        terms[1].1.values.as_deref(),
        Some(&["on-demand".to_string()][..])
    );
    assert!(
        p.tolerations.is_none(),
        "Karpenter does not taint spot nodes"
    );
    // AKS: spot is tainted; on-demand is the label's absence.
    let p = pod("hpa-rps-min-select", Labels::Aks);
    let t = &p.tolerations.expect("tolerations")[0];
    assert_eq!(
        t.key.as_deref(),
        Some("kubernetes.azure.com/scalesetpriority")
    );
    assert_eq!(t.value.as_deref(), Some("spot"));
    assert_eq!(t.effect.as_deref(), Some("NoSchedule"));
    // One capacity type: required. GKE's on-demand is DoesNotExist.
    let p = pod("Fixed Below Initial", Labels::Gke);
    let na = p
        .affinity
        .and_then(|a| a.node_affinity)
        .expect("node affinity");
    let req = na
        .required_during_scheduling_ignored_during_execution
        .expect("required");
    let r = &req.node_selector_terms[0]
        .match_expressions
        .as_ref()
        .expect("terms")[0];
    assert_eq!(
        (r.key.as_str(), r.operator.as_str()),
        ("cloud.google.com/gke-spot", "DoesNotExist")
    );
    let eks = pod("hpa-queue-defaults", Labels::Eks);
    let na = eks
        .affinity
        .and_then(|a| a.node_affinity)
        .expect("node affinity");
    let req = na
        .required_during_scheduling_ignored_during_execution
        .expect("required");
    let r = &req.node_selector_terms[0]
        .match_expressions
        .as_ref()
        .expect("terms")[0];
    assert_eq!(r.values.as_deref(), Some(&["SPOT".to_string()][..]));
}

#[test]
fn deployment_carries_replicas_gpus_grace_and_placeholders() {
    let plan = policies_plan();
    let d = objects_of(&plan, "Fixed Below Initial", Labels::Karpenter)
        .deployment
        .expect("a Deployment");
    assert_eq!(d.metadata.name.as_deref(), Some("fixed-below-initial"));
    assert_eq!(d.spec.replicas, Some(3));
    let pod = d.spec.template.spec.expect("pod");
    assert_eq!(pod.termination_grace_period_seconds, Some(45));
    let c = &pod.containers[0];
    let limits = c
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .expect("limits");
    assert_eq!(limits["nvidia.com/gpu"].0, "2");
    assert!(!limits.contains_key("cpu") && !limits.contains_key("memory"));
    assert!(c.readiness_probe.is_some());
    let ann = d.metadata.annotations.expect("annotations");
    assert_eq!(ann["scalebench.io/fixed-replicas"], "6");
    assert!(ann["scalebench.io/placeholders"].contains("cpu and memory"));
}

#[test]
fn cost_aware_is_a_deployment_and_a_note() {
    let plan = policies_plan();
    let o = objects_of(&plan, "cost-aware-capped", Labels::Karpenter);
    assert!(o.deployment.is_some());
    assert!(o.hpa.is_none() && o.scaled_object.is_none() && o.knative.is_none());
    assert!(o.notes.iter().any(|n| n == COST_AWARE_NOTE));
    let yaml = to_yaml(&o).expect("yaml");
    assert!(yaml.contains("cannot be expressed as a Kubernetes autoscaler"));
}

#[test]
fn kpa_is_a_knative_service_with_autoscaling_annotations() {
    let plan = policies_plan();
    let o = objects_of(&plan, "kpa-rps-everything", Labels::Karpenter);
    assert!(o.deployment.is_none(), "Knative owns its Deployment");
    let ks = o.knative.expect("a Knative Service");
    let a = ks.spec.template.metadata.annotations.expect("annotations");
    let get = |k: &str| a[&format!("autoscaling.knative.dev/{k}")].as_str();
    assert_eq!(get("class"), "kpa.autoscaling.knative.dev");
    assert_eq!(get("metric"), "rps");
    assert_eq!(get("target"), "50");
    assert_eq!(get("min-scale"), "0");
    assert_eq!(get("max-scale"), "10");
    assert_eq!(get("initial-scale"), "2");
    assert_eq!(get("window"), "1m30s");
    assert_eq!(get("panic-window-percentage"), "20");
    assert_eq!(get("panic-threshold-percentage"), "150");
    assert_eq!(get("scale-down-delay"), "15s");
    assert_eq!(ks.spec.template.spec.container_concurrency, Some(4));
    let yaml = to_yaml(&objects_of(&plan, "kpa-defaults", Labels::Karpenter)).expect("yaml");
    assert!(
        !yaml.contains("initial-scale"),
        "unset initial-scale stays Knative's default"
    );
}

#[test]
fn keda_scaled_object_fields() {
    let plan = policies_plan();
    let so = objects_of(&plan, "keda-queue-zero", Labels::Karpenter)
        .scaled_object
        .expect("a ScaledObject");
    let yaml = serde_norway::to_string(&so).expect("yaml");
    for field in [
        "apiVersion: keda.sh/v1alpha1",
        "kind: ScaledObject",
        "minReplicaCount: 0",
        "maxReplicaCount: 10",
        "pollingInterval: 5",
        "cooldownPeriod: 120",
        "horizontalPodAutoscalerConfig:",
        "stabilizationWindowSeconds: 30",
        "type: prometheus",
        "metricType: AverageValue",
        "activationThreshold: '1.5'",
        "threshold: '5'",
    ] {
        assert!(yaml.contains(field), "{field} in\n{yaml}");
    }
    assert!(!yaml.contains("idleReplicaCount"));
}

#[test]
fn unknown_kinds_and_missing_workloads_are_errors() {
    let e =
        parse_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").expect_err("an error");
    assert!(e.to_string().contains("unexpected v1 ConfigMap"), "{e}");
    let e = read(&Objects::default()).expect_err("an error");
    assert!(e.to_string().contains("no workload"), "{e}");
    let e = parse_yaml("apiVersion: apps/v1\nkind: Deployment\nspec: 3\n").expect_err("an error");
    assert!(e.to_string().contains("not a valid Deployment"), "{e}");
}

#[test]
fn a_missing_autoscaler_object_is_reported() {
    let plan = policies_plan();
    let mut o = objects_of(&plan, "hpa-queue-defaults", Labels::Karpenter);
    o.hpa = None;
    let e = read(&o).expect_err("an error");
    assert!(e.to_string().contains("autoscaler object missing"), "{e}");
}

#[test]
fn names_become_dns_labels() {
    assert_eq!(dns_label("Fixed Below Initial"), "fixed-below-initial");
    assert_eq!(dns_label("--a__b--"), "a-b");
    assert_eq!(dns_label("!!"), "setup");
    assert_eq!(dns_label(&"x".repeat(80)).len(), 63);
}

#[test]
fn policy_kind_round_trip_includes_fixed_initial_below_replicas() {
    let plan = policies_plan();
    let o = objects_of(&plan, "Fixed Below Initial", Labels::Karpenter);
    let r = read(&o).expect("read");
    assert_eq!(
        r.policy,
        PolicyConfig::Fixed(scalebench_core::policy::FixedConfig { replicas: 6 })
    );
    assert_eq!(r.initial_replicas, 3);
}
