//! The testbed's HTTP surface: /predict over HTTP/1.1 and HTTP/2, queue overflow, routing
//! errors, and the Prometheus metrics.

mod common;

use std::time::Duration;

use common::{ON_DEMAND, call, client, json, scenario, start, start_config, stop, wait_for};
use http::{Method, StatusCode};
use testbed::TestbedConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_answers_with_a_plausible_service_time_over_http1_and_http2() {
    let tb = start_config(TestbedConfig::default_demo()).await;
    for http2 in [false, true] {
        let c = client(http2);
        let (status, body) = call(
            &c,
            &tb,
            Method::POST,
            "/predict",
            r#"{"class":"chat","x":1}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "http2={http2}: {body}");
        let v = json(&body);
        assert_eq!(v["replica"], 0, "the one initial replica serves: {body}");
        assert_eq!(v["class"], "chat");
        let service = v["service_ms"].as_f64().expect("service_ms");
        // Lognormal, median 80 ms, p99 300 ms: far inside (1 ms, 5 s).
        assert!(service > 1.0 && service < 5000.0, "service_ms {service}");
        assert!(v["queued_ms"].as_f64().expect("queued_ms") >= 0.0);
        // Not JSON at all is served too: the body is not the point.
        let (status, _) = call(&c, &tb, Method::POST, "/predict", "raw bytes").await;
        assert_eq!(status, StatusCode::OK);
    }
    let c = client(false);
    assert_eq!(
        call(&c, &tb, Method::GET, "/predict", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&c, &tb, Method::GET, "/nowhere", "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(tb.snapshot().requests_ok, 4);
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_serves_the_service_time_it_is_sent_divided_by_both_speeds() {
    // Setup speed 2 on nodes of speed 2: a request is served for a quarter of its service time
    // (scenario), and the answer gives it in real milliseconds, at 10x.
    let pool = ON_DEMAND.replace("max_nodes = 4", "max_nodes = 4\nspeed = 2.0");
    let plan = scenario(
        "concurrency = 4\ntime = \"100ms\"",
        &pool,
        "speed = 2.0\n[setup.fixed]\nreplicas = 1",
    );
    let tb = start(&plan, 10.0).await;
    for http2 in [false, true] {
        let c = client(http2);
        for (body, want_ms) in [
            // What the testbed driver sends: the arrival's own service time, 400 ms.
            (r#"{"class": "default", "service_ms": 400}"#, 10.0),
            (r#"{"service_ms": 123.456}"#, 3.0864),
            (r#"{"service_ms": 0}"#, 0.0),
            // Without it, or null: the scenario's 100 ms.
            (r#"{"class": "default"}"#, 2.5),
            (r#"{"service_ms": null}"#, 2.5),
        ] {
            let (status, answer) = call(&c, &tb, Method::POST, "/predict", body).await;
            assert_eq!(status, StatusCode::OK, "{body}: {answer}");
            let got = json(&answer)["service_ms"].as_f64().expect("service_ms");
            assert!((got - want_ms).abs() < 1e-6, "{body}: {answer}");
        }
    }
    // A service time out of range, or not a number, is refused with the reason, and not served.
    let c = client(false);
    for (body, reason) in [
        (r#"{"service_ms": -5}"#, "from 0 to 86400000"),
        (r#"{"service_ms": 86400001}"#, "from 0 to 86400000"),
        (r#"{"service_ms": "fast"}"#, r#"found "fast""#),
        (r#"{"service_ms": 1e400}"#, "not JSON"),
    ] {
        let (status, answer) = call(&c, &tb, Method::POST, "/predict", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let msg = json(&answer)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            msg.contains("service_ms") && msg.contains(reason),
            "{body}: {msg}"
        );
    }
    assert_eq!(tb.snapshot().requests_ok, 10);
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_rejects_with_503() {
    // One replica serving one request at a time for a second, and room for two to wait.
    let plan = scenario(
        "concurrency = 1\nqueue = 2\ntime = \"1s\"",
        ON_DEMAND,
        "[setup.fixed]\nreplicas = 1",
    );
    let tb = start(&plan, 1.0).await;
    let c = client(false);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (c, addr) = (c.clone(), tb.addr());
        calls.spawn(async move {
            let req = http::Request::post(format!("http://{addr}/predict"))
                .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
                .expect("a request");
            c.request(req).await.map(|r| r.status())
        });
    }
    let (mut ok, mut rejected) = (0, 0);
    let all = tokio::time::timeout(Duration::from_secs(30), calls.join_all())
        .await
        .expect("all ten answered");
    for status in all {
        match status.expect("a response") {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => rejected += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(
        (ok, rejected),
        (3, 7),
        "one served, two queued, seven rejected"
    );
    let s = tb.snapshot();
    assert_eq!((s.requests_ok, s.requests_rejected), (3, 7));
    stop(tb).await;
}

/// The samples of a Prometheus text exposition, checking its syntax on the way: every
/// family has HELP and TYPE before its samples, every sample line is `name{labels} value`.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut typed = std::collections::HashSet::new();
    let mut helped = std::collections::HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().expect("a name").to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().expect("a name").to_string();
            let kind = parts.next().expect("a type");
            assert!(["gauge", "counter"].contains(&kind), "{line}");
            typed.insert(name);
        } else {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let name = series.split('{').next().expect("a name");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            if let Some(labels) = series.strip_prefix(name) {
                assert!(
                    labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                    "{line}"
                );
            }
            assert!(
                typed.contains(name) && helped.contains(name),
                "no HELP/TYPE before {line}"
            );
            samples.push((series.to_string(), value.parse::<f64>().expect("a number")));
        }
    }
    samples
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {series}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_show_replicas_and_growing_cost() {
    let plan = scenario(
        "concurrency = 2\ntime = \"100ms\"",
        ON_DEMAND,
        "[setup.fixed]\nreplicas = 2",
    );
    let tb = start(&plan, 100.0).await;
    let c = client(false);
    let (status, first) = call(&c, &tb, Method::GET, "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    let first = parse_prometheus(&first);
    assert_eq!(value(&first, "scalebench_replicas_ready"), 2.0);
    assert_eq!(value(&first, "scalebench_replicas_desired"), 2.0);
    assert_eq!(
        value(&first, "scalebench_nodes{pool=\"gpu-on-demand\"}"),
        1.0
    );
    assert_eq!(value(&first, "scalebench_gpus_allocated"), 2.0);
    for outcome in ["ok", "rejected", "killed"] {
        value(
            &first,
            &format!("scalebench_requests_total{{outcome=\"{outcome}\"}}"),
        );
    }
    // Some scenario time later the node has cost more.
    let before = value(&first, "scalebench_scenario_seconds");
    wait_for(&tb, Duration::from_secs(10), "scenario time to pass", |s| {
        s.scenario_seconds > before + 30.0
    })
    .await;
    assert_eq!(
        call(&c, &tb, Method::POST, "/predict", "{}").await.0,
        StatusCode::OK
    );
    let (_, second) = call(&c, &tb, Method::GET, "/metrics", "").await;
    let second = parse_prometheus(&second);
    let cost = |s: &[(String, f64)]| value(s, "scalebench_cost_usd_total");
    assert!(
        cost(&second) > cost(&first),
        "{} then {}",
        cost(&first),
        cost(&second)
    );
    assert_eq!(
        value(&second, "scalebench_requests_total{outcome=\"ok\"}"),
        1.0
    );
    let util = value(&second, "scalebench_gpu_utilization");
    assert!((0.0..=1.0).contains(&util));
    stop(tb).await;
}
