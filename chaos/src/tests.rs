use std::path::Path;

use super::*;

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
    FaultPlan::from_plan(&plan).map_err(|e| e.to_string())
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
