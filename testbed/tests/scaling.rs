//! The testbed's autoscaler loop under load: the setup's HPA sees the delayed samples in
//! scenario time and scales the replicas up through node provisioning and cold starts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{ON_DEMAND, client, scenario, start, stop, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sustained_load_makes_the_hpa_add_ready_replicas() {
    // Requests take 2 s (scenario) and a replica serves two at once; the HPA wants one in
    // service per pod. At 50x, 16 clients in a loop keep every slot busy.
    let plan = scenario(
        "concurrency = 2\ntime = \"2s\"\nlifecycle = { schedule = \"0s\", start = \"1s\", load = \"1s\" }",
        ON_DEMAND,
        "[setup.hpa]\nmin_replicas = 1\nmax_replicas = 8\nmetric = \"concurrency\"\ntarget = 1",
    );
    let tb = start(&plan, 50.0).await;
    let before = tb.snapshot();
    assert_eq!((before.replicas_desired, before.replicas_ready), (1, 1));
    let running = Arc::new(AtomicBool::new(true));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (c, addr, running) = (client(false), tb.addr(), running.clone());
        load.spawn(async move {
            // Bounded: at most 2000 requests per client, and it stops when told.
            for _ in 0..2000 {
                if !running.load(Ordering::Relaxed) {
                    break;
                }
                let req = http::Request::post(format!("http://{addr}/predict"))
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
                    .expect("a request");
                let _ = tokio::time::timeout(Duration::from_secs(10), c.request(req)).await;
            }
        });
    }
    let scaled = wait_for(&tb, Duration::from_secs(30), "four ready replicas", |s| {
        s.replicas_ready >= 4
    })
    .await;
    running.store(false, Ordering::Relaxed);
    assert!(scaled.replicas_desired >= 4, "{scaled:#?}");
    assert!(scaled.requests_ok > 0);
    assert!(
        scaled.nodes.get("gpu-on-demand").copied().unwrap_or(0) >= 1,
        "{scaled:#?}"
    );
    tokio::time::timeout(Duration::from_secs(30), load.join_all())
        .await
        .expect("the clients stop");
    stop(tb).await;
}
