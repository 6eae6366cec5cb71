//! A setup applied and restored against kubeapi: the HPA created then deleted, the Deployment
//! changed then put back, its replicas scaled to the setup's initial count then back to the
//! original; a dry run that changes nothing; a Deployment that never settles.

mod common;

use std::time::Duration;

use cluster::{Act, Settle, Setup, SetupError};
use common::{NS, bounded, client, serve};
use kubeapi::{Handle, Kind, OwnerMessage, Request};
use serde_json::{Value, json};

/// The setup as `scalebench manifests` writes it: a Deployment at 3 replicas and its HPA.
const SETUP: &str = r#"
# Written by `scalebench manifests`. Notes:
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model
  annotations:
    scalebench.io/setup: hpa-fast
spec:
  replicas: 3
  selector:
    matchLabels:
      app: model
  template:
    metadata:
      labels:
        app: model
    spec:
      containers:
      - name: server
        image: example.invalid/model
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: model-fast
  annotations:
    scalebench.io/setup: hpa-fast
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: model
  minReplicas: 2
  maxReplicas: 8
"#;

/// How the Deployment controller the tests play behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// A scale makes that many replicas ready at once; a new spec is seen at once.
    Prompt,
    /// One replica stays unready.
    Stuck,
    /// Every replica ready, but the latest spec never seen (`observedGeneration` behind).
    Stale,
}

/// Plays the Deployment controller.
fn controller(h: &Handle, mode: Mode) {
    let stuck = mode == Mode::Stuck;
    let mut rx = h.take_owner();
    let h = h.clone();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if let OwnerMessage::Request(
                Request::Scale {
                    namespace,
                    name,
                    replicas,
                },
                reply,
            ) = m
            {
                let ready = if stuck { replicas - 1 } else { replicas };
                let r = h.write(|s| {
                    s.patch(Kind::Deployment, &namespace, &name,
                        &json!({"spec": {"replicas": replicas}, "status": {"replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas}}))
                });
                if mode != Mode::Stale {
                    observe_generation(&h, &namespace, &name);
                }
                match r {
                    Ok(_) => reply.accept(),
                    Err(e) => reply.refuse(e.to_string()),
                }
            } else if let OwnerMessage::Changed(c) = m {
                // An applied template: rolled out at once.
                if c.kind == Kind::Deployment && mode != Mode::Stale {
                    observe_generation(&h, &c.namespace, &c.name);
                }
            } else if let OwnerMessage::Request(_, reply) = m {
                reply.accept();
            }
        }
    });
}

/// The controller has seen the Deployment's latest spec.
fn observe_generation(h: &Handle, namespace: &str, name: &str) {
    let generation = h.read(|s| {
        s.get(Kind::Deployment, namespace, name)
            .and_then(|d| d["metadata"]["generation"].as_i64())
    });
    if let Some(g) = generation {
        let _ = h.write(|s| {
            s.patch(
                Kind::Deployment,
                namespace,
                name,
                &json!({"status": {"observedGeneration": g}}),
            )
        });
    }
}

fn get(h: &Handle, kind: Kind, name: &str) -> Option<Value> {
    h.read(|s| s.get(kind, NS, name)).map(|v| (*v).clone())
}

fn fast() -> Settle {
    Settle {
        settle: Duration::from_millis(300),
        timeout: Duration::from_secs(10),
        poll: Duration::from_millis(50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_then_restore_round_trip() {
    let served = serve().await;
    let h = &served.handle;
    controller(h, Mode::Prompt);
    let mut setup = Setup::from_yaml(Act::new(client(&served), false), NS, SETUP).expect("setup");

    let applied = bounded("apply", setup.apply(fast()))
        .await
        .expect("applied");
    assert_eq!(applied.created, ["HorizontalPodAutoscaler/model-fast"]);
    assert_eq!(applied.changed, ["Deployment/model"]);
    assert_eq!(
        (applied.original_replicas, applied.initial_replicas),
        (Some(2), Some(3))
    );
    let d = get(h, Kind::Deployment, "model").expect("deployment");
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.invalid/model"
    );
    let hpa = get(h, Kind::HorizontalPodAutoscaler, "model-fast").expect("the setup's HPA");
    assert_eq!(hpa["spec"]["maxReplicas"], 8);
    assert!(
        get(h, Kind::HorizontalPodAutoscaler, "model").is_some(),
        "the others stay"
    );

    bounded("restore", setup.restore()).await.expect("restored");
    assert!(
        get(h, Kind::HorizontalPodAutoscaler, "model-fast").is_none(),
        "created, then deleted"
    );
    let d = get(h, Kind::Deployment, "model").expect("deployment");
    assert_eq!(d["spec"]["replicas"], 2, "the original count");
    assert_eq!(d["status"]["readyReplicas"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_applies_nothing_and_lists_the_calls() {
    let served = serve().await;
    let h = &served.handle;
    let before = h.read(|s| s.resource_version());
    let act = Act::new(client(&served), true);
    let mut setup = Setup::from_yaml(act.clone(), NS, SETUP).expect("setup");
    bounded("apply", setup.apply(fast()))
        .await
        .expect("applied");
    bounded("restore", setup.restore()).await.expect("restored");
    assert_eq!(h.read(|s| s.resource_version()), before);
    let calls: Vec<_> = act
        .calls()
        .iter()
        .map(|c| format!("{} {} ({})", c.method, c.path, c.summary))
        .collect();
    assert_eq!(
        calls,
        [
            "PATCH /apis/apps/v1/namespaces/bench/deployments/model (server-side apply Deployment)",
            "PATCH /apis/autoscaling/v2/namespaces/bench/horizontalpodautoscalers/model-fast (server-side apply HorizontalPodAutoscaler)",
            "PATCH /apis/apps/v1/namespaces/bench/deployments/model/scale (scale to 3)",
            "DELETE /apis/autoscaling/v2/namespaces/bench/horizontalpodautoscalers/model-fast (delete HorizontalPodAutoscaler)",
            "PATCH /apis/apps/v1/namespaces/bench/deployments/model (server-side apply Deployment)",
            "PATCH /apis/apps/v1/namespaces/bench/deployments/model/scale (scale to 2)",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_never_settles_is_named_and_still_restored() {
    let served = serve().await;
    let h = &served.handle;
    controller(h, Mode::Stuck);
    let mut setup = Setup::from_yaml(Act::new(client(&served), false), NS, SETUP).expect("setup");
    let s = Settle {
        timeout: Duration::from_millis(500),
        ..fast()
    };
    match bounded("apply", setup.apply(s)).await {
        Err(e @ SetupError::NotReady { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("deployment bench/model: 2 of 3 replicas ready"),
                "{e}"
            );
        }
        other => panic!("expected NotReady: {other:?}"),
    }
    bounded("restore", setup.restore()).await.expect("restored");
    assert!(get(h, Kind::HorizontalPodAutoscaler, "model-fast").is_none());
    assert_eq!(
        get(h, Kind::Deployment, "model").expect("deployment")["spec"]["replicas"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_replicas_of_a_spec_the_controller_has_not_seen_are_not_settled() {
    let served = serve().await;
    let h = &served.handle;
    controller(h, Mode::Stale);
    let mut setup = Setup::from_yaml(Act::new(client(&served), false), NS, SETUP).expect("setup");
    let s = Settle {
        timeout: Duration::from_millis(500),
        ..fast()
    };
    match bounded("apply", setup.apply(s)).await {
        Err(e @ SetupError::NotReady { .. }) => {
            let e = e.to_string();
            assert!(e.contains("3 of 3 replicas ready"), "{e}");
            assert!(e.contains("has not seen the latest spec"), "{e}");
        }
        other => panic!("expected NotReady: {other:?}"),
    }
    bounded("restore", setup.restore()).await.expect("restored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_that_does_not_exist_is_refused_before_any_write() {
    let served = serve().await;
    let act = Act::new(client(&served), false);
    let yaml = SETUP.replace("name: model\n  annotations", "name: absent\n  annotations");
    let mut setup = Setup::from_yaml(act.clone(), NS, &yaml).expect("setup");
    let e = bounded("apply", setup.apply(fast()))
        .await
        .expect_err("refused");
    assert!(
        e.to_string()
            .contains("Deployment: bench/absent does not exist"),
        "{e}"
    );
    assert_eq!(act.calls(), []);
    bounded("restore", setup.restore())
        .await
        .expect("nothing to restore");
    assert_eq!(act.calls(), []);
}
