//! The scenario format: what parses, what it resolves to, and the errors for what does not.

use std::path::Path;

use scalebench_core::Plan;

const BASE: &str = r#"
duration = "10m"
[slo]
latency = "500ms"
[traffic]
capacity_replicas = 10
[[traffic.shape]]
kind = "steady"
rate = "50%"
[service]
concurrency = 2
time = "100ms"
[[cluster.pool]]
name = "gpu"
gpus_per_node = 4
price_per_hour = 4.0
max_nodes = 5
"#;

fn parse(extra: &str) -> Result<Plan, String> {
    Plan::parse(Path::new("s.toml"), &format!("{BASE}{extra}")).map_err(|e| e.to_string())
}

fn err(extra: &str) -> String {
    match parse(extra) {
        Ok(_) => panic!("expected an error for {extra}"),
        Err(e) => e,
    }
}

const FIXED: &str = "[[setup]]\nname = \"f\"\n[setup.fixed]\nreplicas = 3\n";

#[test]
fn a_share_of_capacity_resolves_from_the_service_model() {
    let p = parse(FIXED).unwrap_or_else(|e| panic!("{e}"));
    // 10 replicas x 2 concurrent / 0.1 s = 200 rps.
    assert_eq!(p.capacity_rps, 200.0);
    assert_eq!(p.setups[0].policy.kind(), "fixed");
    assert_eq!(p.setups[0].scrape_delay.as_secs_f64(), 15.0);
    assert_eq!(p.window.as_secs_f64(), 1.0);
}

#[test]
fn a_setup_needs_exactly_one_policy() {
    let e = err("[[setup]]\nname = \"x\"\n");
    assert!(e.contains("needs exactly one policy table"), "{e}");
    let e = err(
        "[[setup]]\nname = \"x\"\n[setup.fixed]\nreplicas = 1\n[setup.hpa]\nmax_replicas = 3\nmetric = \"rps\"\ntarget = 5\n",
    );
    assert!(e.contains("found 2"), "{e}");
}

#[test]
fn errors_name_the_line_and_column() {
    let e = err(&format!("{FIXED}[setup.hpa]\nmax_replicas = \"many\"\n"));
    assert!(e.starts_with("s.toml:"), "{e}");
    let e = err("[[setup]]\nname = \"x\"\npools = [\"cpu\"]\n[setup.fixed]\nreplicas = 1\n");
    assert!(
        e.contains("names pool \"cpu\", which is not defined"),
        "{e}"
    );
    let line = BASE.lines().count() + 1;
    assert!(e.starts_with(&format!("s.toml:{line}:")), "{e}");
}

#[test]
fn invalid_values_are_explained() {
    let e = err(&format!(
        "{FIXED}[[setup]]\nname = \"f\"\n[setup.fixed]\nreplicas = 1\n"
    ));
    assert!(e.contains("two setups are named \"f\""), "{e}");
    let e = err("[[setup]]\nname = \"k\"\n[setup.kpa]\nmax_scale = 0\n");
    assert!(e.contains("kpa needs 0 < max_scale"), "{e}");
    let e = err("[[setup]]\nname = \"r\"\nbilling = \"replica\"\n[setup.fixed]\nreplicas = 1\n");
    assert!(e.contains("needs price_per_replica_hour"), "{e}");
    let gamma = BASE.replace(
        "capacity_replicas = 10",
        "capacity_replicas = 10\narrival = \"gamma\"",
    );
    let e = Plan::parse(Path::new("g.toml"), &format!("{gamma}{FIXED}"))
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(e.is_err_and(|e| e.contains("needs cv")));
}

#[test]
fn sizes_that_would_exhaust_memory_are_refused() {
    let src = BASE.replace("concurrency = 2", "concurrency = 5000000");
    let e = Plan::parse(Path::new("c.toml"), &format!("{src}{FIXED}")).map(|_| ());
    assert!(e.is_err_and(|e| {
        e.to_string()
            .contains("service.concurrency must be between 1 and")
    }));
    let src = BASE.replace(
        "duration = \"10m\"",
        "duration = \"24h\"\nwindow = \"10ms\"",
    );
    let e = Plan::parse(Path::new("w.toml"), &format!("{src}{FIXED}")).map(|_| ());
    assert!(e.is_err_and(|e| e.to_string().contains("more than 100000 windows")));
    let src = BASE.replace("rate = \"50%\"", "rate = 1e308");
    let e = Plan::parse(Path::new("r.toml"), &format!("{src}{FIXED}")).map(|_| ());
    assert!(e.is_err_and(|e| e.to_string().contains("at most 1e11 are supported")));
}

#[test]
fn only_spot_pools_are_interrupted() {
    let src = BASE.replace("max_nodes = 5", "max_nodes = 5\ninterruption_rate = 0.5");
    let e = Plan::parse(Path::new("i.toml"), &format!("{src}{FIXED}")).map(|_| ());
    assert!(e.is_err_and(|e| {
        e.to_string()
            .contains("only spot pools have an interruption_rate")
    }));
    let spot = src.replace("name = \"gpu\"", "name = \"gpu\"\ncapacity_type = \"spot\"");
    let p = Plan::parse(Path::new("i.toml"), &format!("{spot}{FIXED}"));
    assert!(p.is_ok_and(|p| p.setups[0].pools[0].interruption_rate == 0.5));
}

#[test]
fn a_cost_aware_setup_resolves_with_its_defaults_and_checks_its_settings() {
    let p = parse("[[setup]]\nname = \"ca\"\n[setup.cost-aware]\nmax_replicas = 12\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let s = &p.setups[0];
    assert_eq!(s.policy.kind(), "cost-aware");
    assert_eq!((s.initial_replicas, s.policy.max_replicas()), (1, 12));
    let scalebench_core::policy::PolicyConfig::CostAware(c) = &s.policy else {
        panic!("not cost-aware")
    };
    assert_eq!(c.target_utilization, 0.7);
    assert_eq!(c.max_spot_share, 1.0);
    assert_eq!(c.budget_per_hour, None);
    assert_eq!(c.interval.as_secs_f64(), 10.0);
    assert_eq!(c.scale_down_window.as_secs_f64(), 300.0);
    assert_eq!(c.avoid_after_disruption.as_secs_f64(), 600.0);
    for (setting, message) in [
        (
            "target_utilization = 1.5",
            "target_utilization must be above 0 and at most 1",
        ),
        (
            "max_spot_share = -0.1",
            "max_spot_share must be between 0 and 1",
        ),
        ("budget_per_hour = 0", "budget_per_hour must be above zero"),
        ("interval = \"0s\"", "interval must be longer than zero"),
        (
            "throughput = { gpu = 0 }",
            "throughput of \"gpu\" must be above zero",
        ),
        (
            "throughput = { cpu = 40 }",
            "names \"cpu\", which is not one of its pools",
        ),
        ("budget = 4", "unknown field `budget`"),
    ] {
        let e = err(&format!(
            "[[setup]]\nname = \"ca\"\n[setup.cost-aware]\nmax_replicas = 12\n{setting}\n"
        ));
        assert!(e.contains(message), "{setting}: {e}");
        assert!(e.starts_with("s.toml:"), "{e}");
    }
}

#[test]
fn a_pool_speed_must_be_positive() {
    let src = BASE.replace("max_nodes = 5", "max_nodes = 5\nspeed = 0");
    let e = Plan::parse(Path::new("p.toml"), &format!("{src}{FIXED}")).map(|_| ());
    assert!(e.is_err_and(|e| e.to_string().contains("speed must be above zero")));
    let src = BASE.replace("max_nodes = 5", "max_nodes = 5\nspeed = 2.5");
    let p = Plan::parse(Path::new("p.toml"), &format!("{src}{FIXED}"));
    assert!(p.is_ok_and(|p| p.setups[0].pools[0].speed == 2.5));
}

#[test]
fn service_time_over_classes_is_weighted_by_traffic_share() {
    let classes = "[[traffic.class]]\nname = \"a\"\nweight = 3\n\
        [[traffic.class]]\nname = \"b\"\nweight = 1\nservice = \"500ms\"\n";
    let p = parse(&format!("{classes}{FIXED}")).unwrap_or_else(|e| panic!("{e}"));
    // 3/4 at 100 ms, 1/4 at 500 ms.
    assert!((p.mean_service_secs() - 0.2).abs() < 1e-12);
    assert!((p.service_quantile_secs(0.99) - 0.5).abs() < 1e-12);
    let single = parse(FIXED).unwrap_or_else(|e| panic!("{e}"));
    assert!((single.mean_service_secs() - 0.1).abs() < 1e-12);
}

#[test]
fn a_class_request_is_checked_and_its_body_file_read() {
    let class = |request: &str| {
        format!("[[traffic.class]]\nname = \"chat\"\n[traffic.class.request]\n{request}\n{FIXED}")
    };
    let e = err(&class("body = '{\"n\": {{nope}}}'"));
    assert!(
        e.contains("s.toml:") && e.contains("class \"chat\": body: unknown field {{nope}}"),
        "{e}"
    );
    let e = err(&class("body = '{\"n\": {{int 1 2}},}'"));
    assert!(e.contains("looks like JSON but is not"), "{e}");
    let e = err(&class("path = \"v1\""));
    assert!(e.contains("must start with /"), "{e}");
    let e = err(&class("verb = \"GET\""));
    assert!(e.contains("unknown field `verb`"), "{e}");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("body.json"),
        "{\"prompt\": \"{{words 1 3}}\"}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let src = format!("{BASE}{}", class("body_file = \"body.json\""));
    let p = Plan::parse(&dir.path().join("s.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let r = p.traffic.classes[0].request.as_ref();
    assert_eq!(
        r.and_then(|r| r.body.as_deref()),
        Some("{\"prompt\": \"{{words 1 3}}\"}")
    );
    let e = Plan::parse(
        &dir.path().join("s.toml"),
        &format!("{BASE}{}", class("body_file = \"nope.json\"")),
    );
    assert!(e.is_err_and(|e| e.to_string().contains("cannot read body_file")));
}

#[test]
fn a_prometheus_table_resolves_presets_then_queries() -> Result<(), String> {
    let plan = parse(&format!(
        "{FIXED}[prometheus]\nurl = \"https://prom.example:9090/prefix\"\ntoken_env = \"PROM_TOKEN\"\n\
         presets = [\"dcgm\", \"vllm\"]\nscrape_interval = \"30s\"\n\
         [prometheus.queries]\nqueue_depth = \"sum(my_queue)\"\nreplicas_ready = \"sum(up)\"\n"
    ))?;
    let p = plan.prometheus.ok_or("no [prometheus]")?;
    assert_eq!(p.url, "https://prom.example:9090/prefix");
    assert_eq!(p.token_env, "PROM_TOKEN");
    assert_eq!(p.queries["queue_depth"], "sum(my_queue)");
    assert_eq!(p.queries["running"], "sum(vllm:num_requests_running)");
    assert_eq!(p.queries.len(), 5);
    assert_eq!(p.settle.to_string(), "1m2s");
    assert_eq!(parse(FIXED)?.prometheus, None);
    Ok(())
}

#[test]
fn prometheus_errors_name_the_file_the_line_and_what_was_expected() {
    let e = err(&format!(
        "{FIXED}[prometheus]\nurl = \"prom:9090\"\npresets = [\"vllm\"]\n"
    ));
    assert!(
        e.starts_with("s.toml:") && e.contains("prometheus.url") && e.contains("http://"),
        "{e}"
    );
    let e = err(&format!(
        "{FIXED}[prometheus]\nurl = \"http://p\"\n[prometheus.queries]\nreplicas = \"x\"\n"
    ));
    assert!(
        e.contains("unknown timeline field \"replicas\"; expected one of replicas_desired"),
        "{e}"
    );
    let e = err(&format!(
        "{FIXED}[prometheus]\nurl = \"http://p\"\npresets = [\"nvidia\"]\n"
    ));
    assert!(e.contains("nvidia") && e.contains("dcgm"), "{e}");
    let e = err(&format!("{FIXED}[prometheus]\nurl = \"http://p\"\n"));
    assert!(e.contains("no query"), "{e}");
    let e = err(&format!(
        "{FIXED}[prometheus]\nurl = \"http://p\"\nquery = {{}}\n"
    ));
    assert!(e.contains("unknown field `query`"), "{e}");
}
