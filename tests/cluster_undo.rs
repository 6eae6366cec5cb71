//! `scalebench cluster undo JOURNAL` after a run was killed mid-fault: the real binary, a
//! kubeconfig file with a named context, and kubeapi on 127.0.0.1. Our taint and cordon go;
//! a taint that was there before stays; a second undo finds nothing; bad input exits 2.

#[path = "../cluster/tests/common/mod.rs"]
mod common;

use std::process::Command;

use cluster::{Act, FaultConfig, Faults, INTERRUPTION_TAINT};
use common::{bounded, client, cordoned, put, ready_pod, serve, spot_node, taints, target};
use kubeapi::Kind;
use serde_json::json;

/// `scalebench cluster undo ARGS...` on a blocking thread (the server answers meanwhile).
async fn scalebench(args: Vec<String>) -> std::process::Output {
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scalebench"))
            .args(&args)
            .env("HOME", "/nonexistent")
            .env_remove("KUBECONFIG")
            .output()
            .expect("scalebench runs")
    });
    bounded("scalebench cluster undo", run)
        .await
        .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_undo_puts_back_what_a_killed_run_left() {
    let served = serve().await;
    let h = &served.handle;
    let mut spot = spot_node("spot-9", "g5.xlarge");
    spot["spec"]["taints"] = json!([{"key": "team/gpu", "value": "x", "effect": "NoSchedule"}]);
    put(h, Kind::Node, spot);
    put(h, Kind::Pod, ready_pod("model-9", "spot-9"));
    let dir = tempfile::tempdir().expect("dir");
    let journal = {
        let f = Faults::new(
            Act::new(client(&served), false),
            &target(),
            FaultConfig::new("run-9"),
            dir.path(),
        )
        .expect("faults");
        assert!(
            bounded("notice", f.spot_notice("spot-9"))
                .await
                .expect("notice")
        );
        bounded("outage", f.pool_outage("gpu-spot"))
            .await
            .expect("outage");
        f.journal_path().expect("journal").to_path_buf()
        // The run is killed here: nothing undone, the journal left behind.
    };
    assert_eq!(
        taints(h, "spot-9"),
        [
            "team/gpu=x:NoSchedule".to_string(),
            format!("{INTERRUPTION_TAINT}=run-9:NoSchedule")
        ]
    );
    assert!(cordoned(h, "spot-9") && cordoned(h, "spot-1"));

    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
current-context: elsewhere
clusters:
- name: nowhere
  cluster: {{server: 'http://127.0.0.1:9'}}
- name: fake
  cluster: {{server: 'http://{addr}'}}
users:
- name: me
  user: {{token: not-checked}}
contexts:
- name: elsewhere
  context: {{cluster: nowhere, user: me}}
- name: bench
  context: {{cluster: fake, user: me}}
",
            addr = served.addr
        ),
    )
    .expect("kubeconfig");
    let args = |journal: &std::path::Path| {
        vec![
            "cluster".into(),
            "undo".into(),
            journal.display().to_string(),
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--context".into(),
            "bench".into(),
        ]
    };

    let out = scalebench(args(&journal)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The taint of spot-9 and the cordons of the pool's two nodes (the fixture's spot-1 too).
    assert_eq!(stdout.matches("undone: ").count(), 3, "{stdout}");
    assert_eq!(
        taints(h, "spot-9"),
        ["team/gpu=x:NoSchedule"],
        "their taint kept"
    );
    assert!(
        !cordoned(h, "spot-9") && !cordoned(h, "spot-1"),
        "our cordons removed"
    );

    let again = scalebench(args(&journal)).await;
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("nothing to undo"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let missing = scalebench(args(&dir.path().join("no-such-journal"))).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no such journal file"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
