//! Undo against kubeapi: our taint and cordon removed, a taint and a cordon that were there
//! before kept; undo from the journal file alone with a new client (as `scalebench cluster
//! undo` after a SIGKILL); the guard's blocking undo when it is dropped.

mod common;

use std::path::Path;
use std::time::Duration;

use cluster::journal::{self, Entry};
use cluster::{Act, FaultConfig, Faults, INTERRUPTION_TAINT, UndoReport};
use common::{Served, bounded, client, cordoned, put, ready_pod, serve, spot_node, taints, target};
use kubeapi::{Handle, Kind};
use serde_json::json;

fn faults(served: &Served, dir: &Path) -> Faults {
    let act = Act::new(client(served), false);
    Faults::new(act, &target(), FaultConfig::new("run-7"), dir).expect("faults")
}

/// spot-1 carries a taint of its own; spot-2 (pool gpu-spot too) is cordoned already and hosts
/// model-d.
fn prepare(h: &Handle) {
    let mut spot1 = spot_node("spot-1", "g5.xlarge");
    spot1["spec"]["taints"] = json!([{"key": "team/gpu", "value": "x", "effect": "NoSchedule"}]);
    put(h, Kind::Node, spot1);
    let mut spot2 = spot_node("spot-2", "g5.xlarge");
    spot2["spec"]["unschedulable"] = json!(true);
    put(h, Kind::Node, spot2);
    put(h, Kind::Pod, ready_pod("model-d", "spot-2"));
}

/// The interruption notice on spot-1 and the outage of gpu-spot (spot-1 cordoned, spot-2 left).
async fn strike(f: &Faults, h: &Handle) {
    assert!(
        bounded("notice", f.spot_notice("spot-1"))
            .await
            .expect("notice")
    );
    let o = bounded("outage", f.pool_outage("gpu-spot"))
        .await
        .expect("outage");
    assert_eq!(o.nodes, ["spot-1", "spot-2"]);
    assert_eq!(
        taints(h, "spot-1"),
        [
            "team/gpu=x:NoSchedule".to_string(),
            format!("{INTERRUPTION_TAINT}=run-7:NoSchedule")
        ]
    );
    assert!(cordoned(h, "spot-1") && cordoned(h, "spot-2"));
}

fn assert_restored(h: &Handle, report: &UndoReport) {
    assert_eq!(report.failed, Vec::<String>::new());
    assert_eq!(report.undone.len(), 2, "{report:?}");
    assert_eq!(
        taints(h, "spot-1"),
        ["team/gpu=x:NoSchedule"],
        "their taint kept"
    );
    assert!(!cordoned(h, "spot-1"), "our cordon removed");
    assert!(cordoned(h, "spot-2"), "their cordon kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_removes_our_taint_and_cordon_and_keeps_what_was_there_before() {
    let served = serve().await;
    let h = &served.handle;
    prepare(h);
    let dir = tempfile::tempdir().expect("dir");
    let f = faults(&served, dir.path());
    strike(&f, h).await;

    let path = f.journal_path().expect("journal").to_path_buf();
    let entries = journal::read(&path).expect("read");
    assert!(
        matches!(&entries[..], [Entry::Taint { node, previous, .. }, Entry::Cordon { node: n2, previous: false, .. }]
            if node == "spot-1" && previous.len() == 1 && n2 == "spot-1"),
        "{entries:?}"
    );

    let report = bounded("undo", f.guard(None).undo()).await.expect("undo");
    assert_restored(h, &report);
    assert_eq!(report.undone[0], "cordon of spot-1: uncordoned");
    assert!(report.undone[1].ends_with("removed"), "{report:?}");
    assert_eq!(journal::pending(&path).expect("read"), []);
    let again = bounded("undo again", f.undo()).await.expect("undo");
    assert_eq!(again, UndoReport::default(), "nothing left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_from_the_journal_file_alone_with_a_new_client() {
    let served = serve().await;
    let h = &served.handle;
    prepare(h);
    let dir = tempfile::tempdir().expect("dir");
    let path = {
        let f = faults(&served, dir.path());
        strike(&f, h).await;
        f.journal_path().expect("journal").to_path_buf()
        // The run dies here: no undo, only the file is left.
    };
    // A node label changes meanwhile (its resourceVersion moves on).
    h.write(|s| {
        s.patch(
            Kind::Node,
            "",
            "spot-1",
            &json!({"metadata": {"labels": {"x": "y"}}}),
        )
    })
    .expect("patch");

    let report = bounded("undo", cluster::undo_journal(&path, client(&served)))
        .await
        .expect("undo");
    assert_restored(h, &report);
    let again = bounded("undo again", cluster::undo_journal(&path, client(&served)))
        .await
        .expect("undo");
    assert_eq!(again, UndoReport::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_dropped_before_its_undo_undoes_on_a_thread_of_its_own() {
    let served = serve().await;
    let h = &served.handle;
    prepare(h);
    let dir = tempfile::tempdir().expect("dir");
    let f = faults(&served, dir.path());
    strike(&f, h).await;
    let url = format!("http://{}", served.addr).parse().expect("url");
    let mut config = kube::Config::new(url);
    config.default_retry = false;
    config.read_timeout = Some(Duration::from_secs(20));
    let guard = f.guard(Some(config));
    // Dropping blocks this worker thread while the undo runs on its own thread and runtime;
    // the server keeps answering on the other worker.
    tokio::task::block_in_place(|| drop(guard));
    assert_eq!(taints(h, "spot-1"), ["team/gpu=x:NoSchedule"]);
    assert!(!cordoned(h, "spot-1") && cordoned(h, "spot-2"));
    let path = f.journal_path().expect("journal");
    assert_eq!(journal::pending(path).expect("read"), []);
}
