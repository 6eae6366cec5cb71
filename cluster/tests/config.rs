//! The cluster target's TOML: a full one parses; each kind of mistake names its field.

use cluster::{AutoscalerKind, ConfigError, Target};
use scalebench_core::scenario::CapacityType;

const GOOD: &str = r#"
context = "prod-eu"
kubeconfig = "/home/me/.kube/config"
namespace = "bench"
selector = "app=model,tier in (gpu)"
deployment = "model"
autoscaler = { kind = "keda", name = "model-so" }
pool_label = "team.example/pool"
capacity_label = "team.example/capacity"
node_selector = "nvidia.com/gpu.present=true"
per_replica_usd_per_hour = 0.5

[[prices]]
instance_type = "g5.xlarge"
capacity_type = "spot"
usd_per_hour = 0.45

[[prices]]
instance_type = "g5.xlarge"
capacity_type = "on-demand"
usd_per_hour = 1.006
"#;

#[test]
fn a_full_target_parses() {
    let t = Target::from_toml(GOOD).expect("parses");
    assert_eq!(t.context.as_deref(), Some("prod-eu"));
    assert_eq!(t.autoscaler.kind, AutoscalerKind::Keda);
    assert_eq!(t.hpa_name().as_deref(), Some("keda-hpa-model-so"));
    assert_eq!(t.price("g5.xlarge", CapacityType::Spot), Some(0.45));
    assert_eq!(t.price("g5.xlarge", CapacityType::OnDemand), Some(1.006));
    assert_eq!(t.price("g5.2xlarge", CapacityType::Spot), None);
    // Round trip through TOML.
    let again = Target::from_toml(&toml::to_string(&t).expect("writes")).expect("reads back");
    assert_eq!(again, t);

    let minimal = Target::from_toml(
        "namespace = \"bench\"\nselector = \"app=model\"\ndeployment = \"model\"\n",
    )
    .expect("parses");
    assert_eq!(minimal.autoscaler.kind, AutoscalerKind::None);
    assert_eq!(minimal.hpa_name(), None);
    assert!(!minimal.in_cluster);
    let hpa = Target::from_toml(
        "namespace = \"bench\"\nselector = \"app=model\"\ndeployment = \"model\"\nautoscaler = { kind = \"hpa\" }\n",
    )
    .expect("parses");
    assert_eq!(
        hpa.hpa_name().as_deref(),
        Some("model"),
        "defaults to the deployment's name"
    );
}

fn with(line: &str) -> String {
    format!("namespace = \"bench\"\nselector = \"app=model\"\ndeployment = \"model\"\n{line}\n")
}

#[test]
fn each_mistake_names_its_field() {
    let cases: &[(String, &str, &str)] = &[
        (with("replicas = 3"), "parse", "unknown field `replicas`"),
        (
            with("autoscaler = { kind = \"kpa\" }"),
            "parse",
            "unknown variant `kpa`",
        ),
        (
            with("autoscaler = { kind = \"hpa\", min = 1 }"),
            "parse",
            "unknown field `min`",
        ),
        (
            with(
                "prices = [{ instance_type = \"a\", capacity_type = \"preemptible\", usd_per_hour = 1.0 }]",
            ),
            "parse",
            "unknown variant `preemptible`",
        ),
        (
            with("prices = [{ instance_type = \"a\", capacity_type = \"spot\" }]"),
            "parse",
            "missing field `usd_per_hour`",
        ),
        (
            "namespace = \"bench\"\nselector = \"app=model\"\n".into(),
            "parse",
            "missing field `deployment`",
        ),
        (with("in_cluster = \"yes\""), "parse", "invalid type"),
        (
            "namespace = \"Bench\"\nselector = \"app=model\"\ndeployment = \"model\"\n".into(),
            "`namespace`",
            "DNS-1123 label",
        ),
        (
            "namespace = \"bench\"\nselector = \" \"\ndeployment = \"model\"\n".into(),
            "`selector`",
            "label selector",
        ),
        (
            "namespace = \"bench\"\nselector = \"app=model\"\ndeployment = \"Model_1\"\n".into(),
            "`deployment`",
            "DNS-1123 subdomain",
        ),
        (
            with("in_cluster = true\ncontext = \"x\""),
            "`context`",
            "in_cluster",
        ),
        (
            with("in_cluster = true\nkubeconfig = \"/k\""),
            "`kubeconfig`",
            "in_cluster",
        ),
        (
            with("autoscaler = { kind = \"none\", name = \"x\" }"),
            "`autoscaler.name`",
            "kind = \"none\"",
        ),
        (
            with("autoscaler = { kind = \"hpa\", name = \"Bad Name\" }"),
            "`autoscaler.name`",
            "DNS-1123",
        ),
        (with("pool_label = \"\""), "`pool_label`", "label key"),
        (
            with("node_selector = \"\""),
            "`node_selector`",
            "label selector of nodes",
        ),
        (
            with(
                "prices = [{ instance_type = \"a\", capacity_type = \"spot\", usd_per_hour = -1.0 }]",
            ),
            "`prices[0].usd_per_hour`",
            ">= 0",
        ),
        (
            with(
                "prices = [{ instance_type = \"\", capacity_type = \"spot\", usd_per_hour = 1.0 }]",
            ),
            "`prices[0].instance_type`",
            "instance-type",
        ),
        (
            with(
                "prices = [{ instance_type = \"a\", capacity_type = \"spot\", usd_per_hour = 1.0 }, { instance_type = \"a\", capacity_type = \"spot\", usd_per_hour = 2.0 }]",
            ),
            "`prices[1]`",
            "must not repeat",
        ),
        (
            with("per_replica_usd_per_hour = nan"),
            "`per_replica_usd_per_hour`",
            "finite",
        ),
    ];
    for (text, field, expected) in cases {
        let err = Target::from_toml(text).expect_err(text);
        let msg = err.to_string();
        match (field, &err) {
            (&"parse", ConfigError::Parse(_)) => {}
            (_, ConfigError::Invalid { field: f, .. }) => {
                assert_eq!(format!("`{f}`"), *field, "{msg}")
            }
            _ => panic!("{text}: wrong error kind: {msg}"),
        }
        assert!(msg.contains(field.trim_start_matches("parse")), "{msg}");
        assert!(msg.contains(expected), "{text}\n-> {msg}");
    }
}

#[test]
fn toml_errors_carry_the_line() {
    let err = Target::from_toml(&with("autoscaler = { kind = \"kpa\" }")).expect_err("bad kind");
    assert!(err.to_string().contains("line 4"), "{err}");
}
