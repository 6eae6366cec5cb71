//! `[kubernetes]` and `[setup.kubernetes]`: a setup's values over the scenario's, field by field;
//! paths from the scenario's directory; every mistake located and named.

use std::path::{Path, PathBuf};

use scalebench_core::Plan;
use scalebench_core::kubernetes::{AutoscalerKind, DEFAULT_SETTLE, DEFAULT_SETTLE_TIMEOUT};
use scalebench_core::scenario::CapacityType;
use scalebench_core::units::Duration;

const BASE: &str = r#"
duration = "1m"
[slo]
latency = "500ms"
[traffic]
capacity_replicas = 4
[[traffic.shape]]
kind = "steady"
rate = "50%"
[service]
concurrency = 2
time = "100ms"
[[cluster.pool]]
name = "gpu"
gpus_per_node = 1
price_per_hour = 1.0
max_nodes = 5
"#;

fn parse(text: &str) -> Result<Plan, String> {
    Plan::parse(Path::new("bench/s.toml"), &format!("{BASE}{text}")).map_err(|e| e.to_string())
}

const TOP: &str = r#"
[kubernetes]
url = "http://model.bench.svc/predict"
context = "prod"
kubeconfig = "kube/config"
namespace = "bench"
selector = "app=model"
deployment = "model"
autoscaler = { kind = "hpa" }
prices = [{ instance_type = "g5.xlarge", capacity_type = "spot", usd_per_hour = 0.45 }]
"#;

#[test]
fn a_setup_takes_the_scenarios_table_and_overrides_field_by_field() {
    let plan = parse(&format!(
        r#"{TOP}
[[setup]]
name = "hpa"
[setup.hpa]
metric = "concurrency"
target = 1.5
max_replicas = 8

[[setup]]
name = "keda"
[setup.keda]
trigger = "queue"
target = 4
max_replicas = 8
[setup.kubernetes]
autoscaler = {{ kind = "keda", name = "model-so" }}
manifests = "setups/keda.yaml"
settle = "5s"
delete_interrupted_nodes = true
"#
    ))
    .expect("parses");
    let hpa = plan.setups[0].kubernetes.as_ref().expect("hpa has one");
    assert_eq!(hpa.url, "http://model.bench.svc/predict");
    assert_eq!(hpa.target.namespace, "bench");
    assert_eq!(hpa.target.context.as_deref(), Some("prod"));
    assert_eq!(hpa.target.autoscaler.kind, AutoscalerKind::Hpa);
    assert_eq!(
        hpa.target.kubeconfig,
        Some(PathBuf::from("bench/kube/config")),
        "relative to the scenario's directory"
    );
    assert_eq!(
        hpa.target.price("g5.xlarge", CapacityType::Spot),
        Some(0.45)
    );
    assert_eq!(
        hpa.allow_namespaces,
        ["bench"],
        "faults stay in its namespace by default"
    );
    assert!(!hpa.delete_interrupted_nodes);
    assert_eq!(hpa.manifests, None);
    assert_eq!(
        (hpa.settle, hpa.settle_timeout),
        (DEFAULT_SETTLE, DEFAULT_SETTLE_TIMEOUT)
    );

    let keda = plan.setups[1].kubernetes.as_ref().expect("keda has one");
    assert_eq!(keda.target.autoscaler.kind, AutoscalerKind::Keda);
    assert_eq!(keda.target.hpa_name().as_deref(), Some("keda-hpa-model-so"));
    assert_eq!(
        keda.manifests,
        Some(PathBuf::from("bench/setups/keda.yaml"))
    );
    assert_eq!(keda.settle, Duration::from_secs(5));
    assert!(keda.delete_interrupted_nodes);
    assert_eq!(
        keda.url, hpa.url,
        "what it leaves out comes from [kubernetes]"
    );
    assert_eq!(keda.target.prices, hpa.target.prices);
}

#[test]
fn a_scenario_without_the_tables_has_no_cluster() {
    let plan = parse("[[setup]]\nname = \"f\"\n[setup.fixed]\nreplicas = 2\n").expect("parses");
    assert_eq!(plan.setups[0].kubernetes, None);
}

#[test]
fn a_setup_alone_may_name_its_cluster() {
    let plan = parse(
        r#"
[[setup]]
name = "f"
[setup.fixed]
replicas = 2
[setup.kubernetes]
url = "https://model.example/v1/predict"
namespace = "ml"
selector = "app=m"
deployment = "m"
"#,
    )
    .expect("parses");
    let k = plan.setups[0].kubernetes.as_ref().expect("has one");
    assert_eq!(k.target.namespace, "ml");
    assert_eq!(k.target.autoscaler.kind, AutoscalerKind::None);
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e,
    }
}

const SETUP: &str = "[[setup]]\nname = \"f\"\n[setup.fixed]\nreplicas = 2\n";

#[test]
fn each_mistake_is_located_and_named() {
    // A value missing from both tables: located at [kubernetes], naming the field.
    let e = error(&format!(
        "{}\n{SETUP}",
        TOP.replace("url = \"http://model.bench.svc/predict\"\n", "")
    ));
    assert!(e.starts_with("bench/s.toml:"), "{e}");
    assert!(e.contains("kubernetes.url is required"), "{e}");

    // A bad value in the setup's table: located there.
    let text = format!("{TOP}\n{SETUP}[setup.kubernetes]\nnamespace = \"Bench\"\n");
    let e = error(&text);
    let line = format!("{BASE}{text}")
        .lines()
        .position(|l| l == "[setup.kubernetes]")
        .expect("the header")
        + 1;
    assert!(
        e.contains("kubernetes.namespace must be a DNS-1123 label"),
        "{e}"
    );
    let at: usize = e
        .split(':')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a line");
    assert!(
        (line..=line + 1).contains(&at),
        "line {at}, header at {line}: {e}"
    );

    // An unknown field: toml's own error, at its line.
    let e = error(&format!("{TOP}selectr = \"app=x\"\n{SETUP}"));
    assert!(e.contains("selectr"), "{e}");

    for (line, expected) in [
        (
            "url = \"ftp://x\"",
            "kubernetes.url must be an http:// or https:// URL",
        ),
        (
            "settle = \"10m\"",
            "kubernetes.settle_timeout must be longer than settle",
        ),
        (
            "allow_namespaces = [\"Bad Ns\"]",
            "kubernetes.allow_namespaces must list namespaces",
        ),
        (
            "in_cluster = true",
            "kubernetes.context must be absent with in_cluster = true",
        ),
    ] {
        let e = error(&format!("{TOP}\n{SETUP}[setup.kubernetes]\n{line}\n"));
        assert!(e.contains(expected), "{line}: {e}");
    }
}

#[test]
fn the_worked_example_of_the_docs_parses() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/kubernetes.md");
    let text = std::fs::read_to_string(&docs).expect("docs/kubernetes.md");
    let start = text
        .find("   name = \"bench\"\n   duration = \"20m\"")
        .expect("the worked example's scenario");
    let end = start + text[start..].find("   ```").expect("its end");
    let scenario: String = text[start..end]
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let plan = Plan::parse(Path::new("bench.toml"), &scenario).unwrap_or_else(|e| panic!("{e}"));
    let keda = plan.setups[1].kubernetes.as_ref().expect("a cluster");
    assert_eq!(keda.target.hpa_name().as_deref(), Some("keda-hpa-model"));
    assert_eq!(keda.manifests, Some(PathBuf::from("setups/keda-warm.yaml")));
}
