//! Helpers shared by the testbed's integration tests: scenarios written inline, a testbed on
//! 127.0.0.1:0, an HTTP client, and bounded waiting.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scalebench_core::Plan;
use testbed::{Snapshot, Testbed, TestbedConfig};

/// The HTTP client of the tests.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// An HTTP/1.1 client, or an HTTP/2 (prior knowledge) one.
pub fn client(http2: bool) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http()
}

/// A scenario with one setup: `service` is the `[service]` body, `pools` the
/// `[[cluster.pool]]` tables, `setup` the lines of the `[[setup]]` table after its name.
pub fn scenario(service: &str, pools: &str, setup: &str) -> Plan {
    let src = format!(
        r#"
name = "testbed-test"
duration = "1h"
seed = 7

[slo]
latency = "1s"

[traffic]
capacity = 100

[[traffic.shape]]
kind = "steady"
rate = 10

[service]
gpus = 1
{service}

[cluster]
scan_interval = "1s"
scale_down_unneeded = "10m"

{pools}

[[setup]]
name = "under-test"
scrape_delay = "1s"
{setup}
"#
    );
    match Plan::parse(Path::new("test.toml"), &src) {
        Ok(p) => p,
        Err(e) => panic!("test scenario does not parse: {e}\n{src}"),
    }
}

/// One on-demand pool of 4-GPU nodes that provision in 2 s.
pub const ON_DEMAND: &str = r#"
[[cluster.pool]]
name = "gpu-on-demand"
gpus_per_node = 4
price_per_hour = 3.60
provision = "2s"
max_nodes = 4
"#;

/// Starts a testbed for the plan's only setup, `scale` times faster than scenario time.
pub async fn start(plan: &Plan, scale: f64) -> Testbed {
    let config = TestbedConfig::from_plan(plan, &plan.setups[0], scale);
    start_config(config).await
}

/// Starts a testbed on 127.0.0.1:0.
pub async fn start_config(config: TestbedConfig) -> Testbed {
    let listen = "127.0.0.1:0".parse().expect("a socket address");
    tokio::time::timeout(Duration::from_secs(5), testbed::start(config, listen))
        .await
        .expect("the testbed starts in time")
        .expect("the testbed starts")
}

/// Stops a testbed, within bounds.
pub async fn stop(tb: Testbed) {
    tokio::time::timeout(Duration::from_secs(10), tb.shutdown())
        .await
        .expect("the testbed stops in time");
}

/// One request: its status and body. Fails the test on transport errors or after 30 s.
pub async fn call(
    client: &HttpClient,
    tb: &Testbed,
    method: Method,
    path: &str,
    body: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", tb.addr()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request");
    let fut = async {
        let resp = client.request(req).await.expect("a response");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("a body").to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("an answer within 30 s")
}

/// A JSON body.
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Polls the testbed's snapshot until `cond` holds; fails after `limit` of real time.
pub async fn wait_for(
    tb: &Testbed,
    limit: Duration,
    what: &str,
    cond: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let s = tb.snapshot();
        if cond(&s) {
            return s;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}; last snapshot: {s:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
