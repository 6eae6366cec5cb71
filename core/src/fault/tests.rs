use std::path::Path;

use super::*;
use crate::Plan;

const BASE: &str = r#"
duration = "30m"
[slo]
latency = "1s"
[traffic]
[[traffic.shape]]
kind = "steady"
rate = 10
[service]
time = "100ms"
[[cluster.pool]]
name = "od"
gpus_per_node = 1
price_per_hour = 4.0
max_nodes = 4
[[cluster.pool]]
name = "spot"
capacity_type = "spot"
gpus_per_node = 1
price_per_hour = 1.5
max_nodes = 4
[[setup]]
name = "f"
[setup.fixed]
replicas = 2
"#;

fn plan(faults: &str) -> Result<FaultPlan, String> {
    let plan =
        Plan::parse(Path::new("f.toml"), &format!("{BASE}{faults}")).map_err(|e| e.to_string())?;
    Ok(plan.faults)
}

fn err(faults: &str) -> String {
    match plan(faults) {
        Ok(p) => panic!("expected an error for {faults}, got {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_kind_parses_with_its_defaults() {
    let p = plan(
        r#"
[[faults]]
kind = "pool-outage"
pool = "spot"
at = "15m"
for = "5m"
[[faults]]
kind = "spot-interruption"
pool = "spot"
at = "10m"
nodes = "50%"
[[faults]]
kind = "pod-eviction"
at = "12m"
pods = 3
max_unavailable = 1
"#,
    );
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<_> = p.faults.iter().map(Fault::kind).collect();
    assert_eq!(
        kinds,
        vec!["spot-interruption", "pod-eviction", "pool-outage"],
        "time order"
    );
    assert_eq!(
        p.faults[0],
        Fault::SpotInterruption {
            pool: "spot".into(),
            at: Duration::from_secs(600),
            nodes: Count::Share(0.5),
            notice: Duration::from_secs(120),
        }
    );
    assert_eq!(p.faults[2].target(), "spot");
}

#[test]
fn counts_are_numbers_or_shares() {
    assert_eq!(Count::N(3).of(10), 3);
    assert_eq!(Count::N(30).of(10), 10);
    assert_eq!(Count::Share(0.5).of(5), 3, "rounded up");
    assert_eq!(Count::Share(1.0).of(4), 4);
}

#[test]
fn mistakes_are_located_and_explained() {
    let at_line = |e: &str, line: usize| e.starts_with(&format!("f.toml:{line}:"));
    let first = BASE.lines().count() + 1;
    let e = err("[[faults]]\nkind = \"meteor\"\nat = \"1m\"\n");
    assert!(at_line(&e, first) && e.contains("meteor"), "{e}");
    let e =
        err("[[faults]]\nkind = \"spot-interruption\"\npool = \"od\"\nat = \"1m\"\nnodes = 1\n");
    assert!(e.contains("which is on-demand"), "{e}");
    let e = err("[[faults]]\nkind = \"pool-outage\"\npool = \"gpu\"\nat = \"1m\"\nfor = \"1m\"\n");
    assert!(
        e.contains("names pool \"gpu\", which is not defined"),
        "{e}"
    );
    let e = err("[[faults]]\nkind = \"pod-eviction\"\nat = \"1h\"\npods = 1\n");
    assert!(e.contains("is not within the run"), "{e}");
    let e = err("[[faults]]\nkind = \"pod-eviction\"\nat = \"1m\"\npods = \"150%\"\n");
    assert!(e.contains("share between 0% and 100%"), "{e}");
    let e = err("[[faults]]\nkind = \"pod-eviction\"\nat = \"1m\"\npods = 1\ngrace = \"1s\"\n");
    assert!(e.contains("unknown field `grace`"), "{e}");
}

#[test]
fn a_pool_outage_needs_a_length() {
    let e = err("[[faults]]\nkind = \"pool-outage\"\npool = \"spot\"\nat = \"1m\"\nfor = \"0s\"\n");
    assert!(e.contains("needs a length above zero"), "{e}");
}

#[test]
fn errors_point_at_the_entry_and_show_its_line() {
    let first = BASE.lines().count() + 1;
    let e = err("[[faults]]\nkind = \"pod-eviction\"\nat = \"1h\"\npods = 1\n");
    assert!(
        e.starts_with(&format!(
            "f.toml:{first}:1: pod-eviction at 1h is not within the run (30m)"
        )),
        "{e}"
    );
    assert!(e.contains(&format!("{first} | [[faults]]")), "{e}");
    // The second entry's problem points at the second entry.
    let e = err(
        "[[faults]]\nkind = \"pod-eviction\"\nat = \"1m\"\npods = 1\n[[faults]]\nkind = \"meteor\"\n",
    );
    assert!(e.starts_with(&format!("f.toml:{}:", first + 4)), "{e}");
    assert!(e.contains("in this [[faults]] entry"), "{e}");
}

/// Every kind, with counts, shares and durations, through JSON and back as the testbed's admin
/// API reads it (JSON, then TOML values, then a fault).
#[test]
fn faults_serialize_as_written_and_read_back() {
    let p = plan(
        r#"
[[faults]]
kind = "spot-interruption"
pool = "spot"
at = "10m"
nodes = "50%"
notice = "30s"
[[faults]]
kind = "pod-eviction"
at = "12m"
pods = "12.5%"
max_unavailable = 1
[[faults]]
kind = "pod-eviction"
at = "13m"
pods = 2
[[faults]]
kind = "pool-outage"
pool = "spot"
at = "15m"
for = "2m"
"#,
    );
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&p).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!([
            {"kind": "spot-interruption", "pool": "spot", "at": "10m", "nodes": "50%", "notice": "30s"},
            {"kind": "pod-eviction", "at": "12m", "pods": "12.5%", "max_unavailable": 1},
            {"kind": "pod-eviction", "at": "13m", "pods": 2},
            {"kind": "pool-outage", "pool": "spot", "at": "15m", "for": "2m"},
        ])
    );
    for f in &p.faults {
        let text = serde_json::to_string(f).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let t = toml::Value::try_from(&v).unwrap_or_else(|e| panic!("{text}: {e}"));
        let back: Fault = t.try_into().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&back, f, "{text}");
        let direct: Fault = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&direct, f, "{text}");
    }
}

#[test]
fn every_share_reads_back_exactly() {
    for p in 1..=1000 {
        for text in [
            format!("{}%", p as f64 / 10.0),
            format!("{}%", p as f64 / 7.0),
        ] {
            let Ok(Count::Share(s)) = serde_json::from_value::<Count>(text.clone().into()) else {
                continue;
            };
            let written = serde_json::to_value(Count::Share(s)).unwrap_or_default();
            let back: Count = serde_json::from_value(written.clone())
                .unwrap_or_else(|e| panic!("{text} -> {written}: {e}"));
            assert_eq!(back, Count::Share(s), "{text} -> {written}");
        }
    }
}

#[test]
fn the_plan_serializes_its_faults() {
    let p = Plan::parse(
        Path::new("f.toml"),
        &format!("{BASE}[[faults]]\nkind = \"pod-eviction\"\nat = \"1m\"\npods = 1\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&p).unwrap_or_default();
    assert_eq!(
        json["faults"],
        serde_json::json!([{"kind": "pod-eviction", "at": "1m", "pods": 1}])
    );
}
