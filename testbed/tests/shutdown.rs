//! Shutting down lets the requests in service finish: their service ends as an event of the
//! model's, which the clock task must still handle while the server drains.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{ON_DEMAND, client, scenario, start};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};

/// One replica of concurrency 1 and a 1 s service time, in real time: a request is in service
/// when the testbed is told to stop; it is answered 200 when its second is up (before the fix
/// the clock task stopped first, nothing ended the service, and the server cut the request
/// off after its 5 s grace period).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_the_request_in_service_finish() {
    let plan = scenario(
        "concurrency = 1\ntime = \"1s\"",
        ON_DEMAND,
        "[setup.fixed]\nreplicas = 1",
    );
    let tb = start(&plan, 1.0).await;
    let c = client(false);
    let addr = tb.addr();
    let request = tokio::spawn(async move {
        let req = Request::post(format!("http://{addr}/predict"))
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let resp = c.request(req).await.unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status();
        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
        (status, format!("{body:?}"))
    });
    // Wait (bounded) until the request is in service.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tb.snapshot().in_flight == 0 {
        assert!(Instant::now() < deadline, "the request never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), tb.shutdown())
        .await
        .unwrap_or_else(|_| panic!("the testbed did not stop within 10 s"));
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .unwrap_or_else(|_| panic!("no answer within 10 s"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, StatusCode::OK, "{body}");
}
