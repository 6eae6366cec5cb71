//! Fidelity: with fixed replicas, Poisson arrivals, exponential service and one request per
//! replica at a time, the simulator is an M/M/c queue, and its mean latency and share of
//! requests that waited must agree with the Erlang C formulas.

use std::path::Path;

use scalebench_core::Plan;
use sim::simulate;

/// Erlang C: the probability that an arrival waits, for `c` servers and offered load `a` = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    // Sum of a^k / k! for k < c, and a^c / c!, computed incrementally.
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let last = term / (1.0 - rho);
    last / (sum + last)
}

/// Runs M/M/c with `c` replicas at utilisation `rho`, mean service `service_ms`, for `hours`.
fn check(c: u32, rho: f64, service_ms: u64, hours: f64) {
    let mu = 1000.0 / service_ms as f64;
    let lambda = rho * c as f64 * mu;
    let src = format!(
        r#"
duration = "{secs}s"
seed = 11
[slo]
latency = "10s"
[traffic]
timeout = "1h"
[[traffic.shape]]
kind = "steady"
rate = {lambda}
[service]
concurrency = 1
queue = 4000000000
time = {{ dist = "exponential", mean = "{service_ms}ms" }}
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "mmc"
[setup.fixed]
replicas = {c}
"#,
        secs = (hours * 3600.0) as u64
    );
    let plan = match Plan::parse(Path::new("mmc.toml"), &src) {
        Ok(p) => p,
        Err(e) => panic!("test scenario is invalid: {e}"),
    };
    let run = simulate(&plan, &plan.setups[0]);
    let req = run.requests();
    assert!(req.identity_holds());
    assert_eq!(req.ok, req.scheduled, "nothing may time out or be rejected");
    let pw = erlang_c(c, lambda / mu);
    let expected_ms = (pw / (c as f64 * mu - lambda) + 1.0 / mu) * 1000.0;
    let mean_ms = run.latency.summary().mean;
    let waited = run.waited as f64 / req.scheduled as f64;
    let (dl, dw) = (mean_ms / expected_ms - 1.0, waited / pw - 1.0);
    println!(
        "M/M/{c} rho {rho}: {} requests, mean {mean_ms:.2} ms (Erlang C {expected_ms:.2}, {:+.2}%), waited {waited:.4} (Erlang C {pw:.4}, {:+.2}%)",
        req.scheduled,
        dl * 100.0,
        dw * 100.0
    );
    assert!(dl.abs() < 0.03, "mean latency off by {:.2}%", dl * 100.0);
    assert!(dw.abs() < 0.03, "share waited off by {:.2}%", dw * 100.0);
}

#[test]
fn erlang_c_formula_matches_known_values() {
    // M/M/1: C = rho. M/M/2 at a = 1: C = 1/3.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn mm4_at_70_percent() {
    check(4, 0.7, 100, 40.0);
}

#[test]
fn mm10_at_80_percent() {
    check(10, 0.8, 50, 10.0);
}

#[test]
fn mm20_at_90_percent() {
    check(20, 0.9, 200, 20.0);
}
