//! Faults through the admin API: evictions, pool outages with a fallback pool, spot
//! interruptions, requests killed with their replica, and bad input.

mod common;

use std::time::Duration;

use common::{ON_DEMAND, call, client, json, scenario, start, stop, wait_for};
use http::{Method, StatusCode};

const SHORT_LIFE: &str = "concurrency = 2\ntime = \"100ms\"\nlifecycle = { schedule = \"0s\", start = \"1s\", load = \"1s\", grace_period = \"2s\" }";

/// A spot pool first and an on-demand pool to fall back on.
const SPOT_THEN_ON_DEMAND: &str = r#"
[[cluster.pool]]
name = "gpu-spot"
capacity_type = "spot"
gpus_per_node = 4
price_per_hour = 1.20
provision = "2s"
max_nodes = 4

[[cluster.pool]]
name = "gpu-on-demand"
gpus_per_node = 4
price_per_hour = 3.20
provision = "2s"
max_nodes = 4
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_eviction_takes_ready_pods_and_they_come_back() {
    let plan = scenario(SHORT_LIFE, ON_DEMAND, "[setup.fixed]\nreplicas = 3");
    let tb = start(&plan, 50.0).await;
    let c = client(false);
    let (status, body) = call(
        &c,
        &tb,
        Method::POST,
        "/admin/faults",
        r#"{"kind":"pod-eviction","at":"0s","pods":2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let record = json(&body);
    assert_eq!(record["kind"], "pod-eviction");
    assert_eq!(record["target"], "pods");
    assert_eq!(record["pods_lost"], 2);
    assert_eq!(record["blocked"], 0);
    assert_eq!(record["requests_failed"], 0);
    let after = tb.snapshot();
    assert_eq!(after.replicas_ready, 1, "{after:#?}");
    assert_eq!(
        after.replicas_desired, 3,
        "replacements are asked for at once"
    );
    wait_for(
        &tb,
        Duration::from_secs(20),
        "three ready replicas again",
        |s| s.replicas_ready == 3,
    )
    .await;
    let (_, listed) = call(&c, &tb, Method::GET, "/admin/faults", "").await;
    assert_eq!(json(&listed).as_array().map(Vec::len), Some(1));
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eviction_beyond_the_disruption_budget_is_blocked() {
    let plan = scenario(SHORT_LIFE, ON_DEMAND, "[setup.fixed]\nreplicas = 3");
    let tb = start(&plan, 50.0).await;
    let fault = r#"{"kind":"pod-eviction","pods":3,"max_unavailable":1}"#;
    let (status, body) = call(&client(false), &tb, Method::POST, "/admin/faults", fault).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let record = json(&body);
    assert_eq!(
        (record["pods_lost"].clone(), record["blocked"].clone()),
        (1.into(), 2.into())
    );
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_outage_moves_the_replicas_to_the_fallback_pool() {
    let plan = scenario(
        SHORT_LIFE,
        SPOT_THEN_ON_DEMAND,
        "[setup.fixed]\nreplicas = 2",
    );
    let tb = start(&plan, 50.0).await;
    let before = tb.snapshot();
    assert_eq!(before.nodes.get("gpu-spot"), Some(&1), "{before:#?}");
    assert_eq!(before.nodes.get("gpu-on-demand"), Some(&0));
    let fault = r#"{"kind":"pool-outage","at":"0s","pool":"gpu-spot","for":"10m"}"#;
    let (status, body) = call(&client(false), &tb, Method::POST, "/admin/faults", fault).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["pods_lost"], 2);
    assert_eq!(tb.snapshot().replicas_ready, 0);
    let back = wait_for(
        &tb,
        Duration::from_secs(20),
        "two ready replicas on demand",
        |s| s.replicas_ready == 2,
    )
    .await;
    assert_eq!(back.nodes.get("gpu-spot"), Some(&0), "{back:#?}");
    assert_eq!(back.nodes.get("gpu-on-demand"), Some(&1), "{back:#?}");
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_interruption_serves_until_the_notice_ends_then_replaces_the_pods() {
    let plan = scenario(
        SHORT_LIFE,
        SPOT_THEN_ON_DEMAND,
        "[setup.fixed]\nreplicas = 2",
    );
    let tb = start(&plan, 50.0).await;
    let fault = r#"{"kind":"spot-interruption","pool":"gpu-spot","nodes":"100%","notice":"30s"}"#;
    let (status, body) = call(&client(false), &tb, Method::POST, "/admin/faults", fault).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        tb.snapshot().replicas_ready,
        2,
        "they serve through the notice"
    );
    let reclaimed = wait_for(&tb, Duration::from_secs(20), "the reclaim", |s| {
        s.faults.first().is_some_and(|f| f.pods_lost == 2)
    })
    .await;
    assert!(reclaimed.scenario_seconds >= 30.0);
    let back = wait_for(&tb, Duration::from_secs(20), "two ready replicas", |s| {
        s.replicas_ready == 2
    })
    .await;
    assert_eq!(back.nodes.values().sum::<u32>(), 1, "{back:#?}");
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_on_a_lost_node_fail_with_502() {
    // A 20 s request at 10x: two real seconds in which the pool goes away.
    let service = "concurrency = 1\ntime = \"20s\"";
    let plan = scenario(service, SPOT_THEN_ON_DEMAND, "[setup.fixed]\nreplicas = 1");
    let tb = start(&plan, 10.0).await;
    let (c, addr) = (client(false), tb.addr());
    let pending = tokio::spawn(async move {
        let req = http::Request::post(format!("http://{addr}/predict"))
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .expect("a request");
        c.request(req).await.map(|r| r.status())
    });
    wait_for(
        &tb,
        Duration::from_secs(10),
        "the request in service",
        |s| s.in_flight == 1,
    )
    .await;
    let fault = r#"{"kind":"pool-outage","pool":"gpu-spot","for":"1m"}"#;
    let (status, body) = call(&client(false), &tb, Method::POST, "/admin/faults", fault).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["requests_failed"], 1);
    let status = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("answered at once")
        .expect("the task ran")
        .expect("a response");
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let s = tb.snapshot();
    assert_eq!((s.requests_killed, s.requests_ok, s.in_flight), (1, 0, 0));
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_faults_get_400_with_a_message() {
    let plan = scenario(SHORT_LIFE, ON_DEMAND, "[setup.fixed]\nreplicas = 1");
    let tb = start(&plan, 50.0).await;
    let c = client(false);
    for (body, needle) in [
        ("{not json", "not JSON"),
        (r#"{"kind":"meteor-strike"}"#, "not a fault"),
        (r#"{"kind":"pod-eviction","pods":0}"#, "at least 1"),
        (
            r#"{"kind":"pool-outage","pool":"nope","for":"1m"}"#,
            "not one of this setup's pools",
        ),
        (
            r#"{"kind":"spot-interruption","pool":"gpu-on-demand","nodes":1}"#,
            "on-demand",
        ),
    ] {
        let (status, answer) = call(&c, &tb, Method::POST, "/admin/faults", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let msg = json(&answer)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    assert!(tb.snapshot().faults.is_empty());
    stop(tb).await;
}
