//! kube-rs against the server: lists, eviction under a PodDisruptionBudget, scale,
//! server-side apply, errors and the owner's channel.

mod common;

use std::time::Duration;

use common::{Served, bounded, serve};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use kubeapi::{Action, Change, Kind, OwnerMessage, Request};
use serde_json::json;

fn client(served: &Served) -> kube::Client {
    let url = format!("http://{}", served.addr).parse().expect("url");
    let mut config = kube::Config::new(url);
    // kube >= 4 retries 429s (15 times, minutes) inside the client; a PDB's 429 must come back.
    config.default_retry = false;
    config.read_timeout = Some(Duration::from_secs(20));
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
async fn lists_pods_and_nodes() {
    let served = serve(Default::default()).await;
    let client = client(&served);
    let pods = bounded(
        "list pods",
        Api::<Pod>::all(client.clone()).list(&ListParams::default()),
    )
    .await
    .expect("list");
    let names: Vec<_> = pods
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(
        names,
        ["web-1", "web-2", "web-3", "logger-a"],
        "by namespace, then name"
    );
    assert!(
        pods.metadata
            .resource_version
            .is_some_and(|rv| !rv.is_empty())
    );
    let on_b = ListParams::default()
        .fields("spec.nodeName=node-b")
        .labels("app in (web,db)");
    let pods = bounded(
        "list selected",
        Api::<Pod>::namespaced(client.clone(), "default").list(&on_b),
    )
    .await
    .expect("list");
    assert_eq!(pods.items.len(), 1);
    let nodes = bounded(
        "list nodes",
        Api::<Node>::all(client).list(&ListParams::default()),
    )
    .await
    .expect("nodes");
    assert_eq!(nodes.items.len(), 2);
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn eviction_is_refused_by_a_budget_with_429() {
    let served = serve(Default::default()).await;
    let pods = Api::<Pod>::namespaced(client(&served), "default");
    let status = bounded("evict web-1", pods.evict("web-1", &EvictParams::default()))
        .await
        .expect("3 ready, 2 needed");
    assert_eq!(status.code, 201);
    assert!(
        served
            .handle
            .read(|s| s.get(Kind::Pod, "default", "web-1").is_none()),
        "evicted without an owner = deleted"
    );

    let err = bounded("evict web-2", pods.evict("web-2", &EvictParams::default()))
        .await
        .expect_err("budget");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err:?}")
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert!(
        status.message.contains("disruption budget"),
        "{}",
        status.message
    );

    let err = bounded("evict missing", pods.evict("nope", &EvictParams::default()))
        .await
        .expect_err("404");
    assert!(matches!(err, kube::Error::Api(s) if s.code == 404));
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn scale_and_server_side_apply() {
    let served = serve(Default::default()).await;
    let client = client(&served);
    let deployments = Api::<Deployment>::namespaced(client.clone(), "default");
    let scale = bounded("get scale", deployments.get_scale("web"))
        .await
        .expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    let patch = Patch::Merge(json!({"spec": {"replicas": 7}}));
    let scale = bounded(
        "patch scale",
        deployments.patch_scale("web", &PatchParams::default(), &patch),
    )
    .await
    .expect("patch");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(7));
    let d = bounded("get", deployments.get("web"))
        .await
        .expect("deployment");
    assert_eq!((d.spec.replicas, d.metadata.generation), (Some(7), Some(2)));

    let hpas = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), "default");
    let mut hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"minReplicas": 2, "maxReplicas": 10,
                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}
    }))
    .expect("hpa");
    let pp = PatchParams::apply("scalebench").force();
    let created = bounded("apply", hpas.patch("web", &pp, &Patch::Apply(&hpa)))
        .await
        .expect("apply creates");
    assert_eq!(created.spec.max_replicas, 10);
    assert!(created.metadata.uid.is_some());
    hpa.spec.max_replicas = 20;
    let updated = bounded("apply again", hpas.patch("web", &pp, &Patch::Apply(&hpa)))
        .await
        .expect("apply merges");
    assert_eq!(updated.spec.max_replicas, 20);
    assert_eq!(updated.metadata.uid, created.metadata.uid);

    // A YAML body (kubectl may send one) on a raw apply.
    let yaml = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n  maxReplicas: 30\n";
    let req = http::Request::patch(
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web?fieldManager=t",
    )
    .header("content-type", "application/apply-patch+yaml")
    .body(yaml.as_bytes().to_vec())
    .expect("request");
    let applied: HorizontalPodAutoscaler = bounded("yaml apply", client.request(req))
        .await
        .expect("yaml apply");
    assert_eq!(
        (applied.spec.max_replicas, applied.spec.min_replicas),
        (30, Some(2))
    );
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn errors_are_statuses() {
    let served = serve(Default::default()).await;
    let client = client(&served);
    let err = bounded(
        "get",
        Api::<Pod>::namespaced(client.clone(), "default").get("nope"),
    )
    .await
    .expect_err("404");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"),
        "{err:?}"
    );
    const JSON: &str = "application/json";
    const MERGE: &str = "application/merge-patch+json";
    const APPLY: &str = "application/apply-patch+yaml";
    let pod = "/api/v1/namespaces/default/pods/web-1";
    let cases = [
        (
            "GET",
            "/api/v1/namespaces/default/widgets",
            JSON,
            "",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/d/pods",
            JSON,
            "",
            404,
            "NotFound",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/pods",
            JSON,
            "",
            405,
            "MethodNotAllowed",
        ),
        ("POST", "/api", JSON, "", 405, "MethodNotAllowed"),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            JSON,
            "{not json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            JSON,
            "[1]",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            JSON,
            r#"{"kind":"Node","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            JSON,
            r#"{"metadata":{"name":"x"},"spec":{"containers":[{"name":1}]}}"#,
            422,
            "Invalid",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            JSON,
            r#"{"metadata":{"name":"web-1"}}"#,
            409,
            "AlreadyExists",
        ),
        (
            "GET",
            "/api/v1/pods?labelSelector=a%20in%20(b",
            JSON,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?watch=1&resourceVersion=abc",
            JSON,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?watch=1&timeoutSeconds=-1",
            JSON,
            "",
            400,
            "BadRequest",
        ),
        ("PATCH", pod, MERGE, "[1]", 400, "BadRequest"),
        (
            "PATCH",
            pod,
            MERGE,
            r#"{"metadata":{"resourceVersion":"1"}}"#,
            409,
            "Conflict",
        ),
        (
            "PATCH",
            pod,
            MERGE,
            r#"{"spec":{"containers":"no"}}"#,
            422,
            "Invalid",
        ),
        (
            "PATCH",
            pod,
            "application/json-patch+json",
            "[]",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            pod,
            APPLY,
            r#"{"apiVersion":"v1","kind":"Pod"}"#,
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            &format!("{pod}?fieldManager=t"),
            APPLY,
            r#"{"metadata":{}}"#,
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            &format!("{pod}?fieldManager=t"),
            APPLY,
            "a: [b",
            400,
            "BadRequest",
        ),
        (
            "PUT",
            pod,
            JSON,
            r#"{"metadata":{"name":"web-2"}}"#,
            400,
            "BadRequest",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/pods/nope",
            JSON,
            r#"{"metadata":{}}"#,
            404,
            "NotFound",
        ),
        (
            "POST",
            &format!("{pod}/eviction"),
            JSON,
            r#"{"metadata":{"name":"web-2"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            &format!("{pod}/eviction"),
            JSON,
            r#"{"metadata":7}"#,
            400,
            "BadRequest",
        ),
        (
            "GET",
            &format!("{pod}/eviction"),
            JSON,
            "",
            405,
            "MethodNotAllowed",
        ),
        ("GET", &format!("{pod}/logs"), JSON, "", 404, "NotFound"),
        (
            "GET",
            "/apis/apps/v1/namespaces/default/deployments/nope/scale",
            JSON,
            "",
            404,
            "NotFound",
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            MERGE,
            r#"{"spec":{"replicas":-1}}"#,
            422,
            "Invalid",
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            MERGE,
            r#"{"spec":{"replicas":"x"}}"#,
            422,
            "Invalid",
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            JSON,
            r#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"resourceVersion":"1"},"spec":{"replicas":2}}"#,
            409,
            "Conflict",
        ),
    ];
    for (method, path, content_type, body, code, reason) in cases {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
            .expect("request");
        let err = bounded(path, client.request::<serde_json::Value>(req))
            .await
            .expect_err(path);
        assert!(
            matches!(&err, kube::Error::Api(s) if s.code == code && s.reason == reason),
            "{method} {path} {body}: {err:?}"
        );
    }
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn the_owner_carries_out_requests_and_hears_of_changes() {
    let served = serve(Default::default()).await;
    let mut owner = served.handle.take_owner();
    let handle = served.handle.clone();
    // A stand-in for the testbed: it scales by writing the deployment itself and refuses
    // evictions of web-3.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(msg) = owner.recv().await {
            match msg {
                OwnerMessage::Request(
                    Request::Scale {
                        namespace,
                        name,
                        replicas,
                    },
                    reply,
                ) => {
                    handle
                        .write(|s| s.set_replicas(&namespace, &name, replicas))
                        .expect("set");
                    reply.accept();
                }
                OwnerMessage::Request(Request::Evict { pod, .. }, reply) if pod == "web-3" => {
                    reply.refuse("web-3 stays")
                }
                OwnerMessage::Request(Request::Evict { namespace, pod }, reply) => {
                    handle
                        .write(|s| s.delete(Kind::Pod, &namespace, &pod))
                        .expect("delete");
                    reply.accept();
                }
                OwnerMessage::Changed(change) => {
                    let _ = seen_tx.send(change);
                }
            }
        }
    });
    let client = client(&served);
    let deployments = Api::<Deployment>::namespaced(client.clone(), "default");
    let patch = Patch::Merge(json!({"spec": {"replicas": 4}}));
    bounded(
        "scale",
        deployments.patch_scale("web", &PatchParams::default(), &patch),
    )
    .await
    .expect("scaled");
    assert_eq!(
        served
            .handle
            .read(|s| s.scale("default", "web"))
            .expect("scale")
            .spec
            .and_then(|s| s.replicas),
        Some(4)
    );
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let err = bounded("evict", pods.evict("web-3", &EvictParams::default()))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message == "web-3 stays"),
        "{err:?}"
    );
    bounded("evict", pods.evict("web-1", &EvictParams::default()))
        .await
        .expect("evicted");
    let nodes = Api::<Node>::all(client);
    bounded("cordon", nodes.cordon("node-b"))
        .await
        .expect("cordon");
    assert!(
        served
            .handle
            .read(|s| s.get(Kind::Node, "", "node-b"))
            .is_some_and(|n| n["spec"]["unschedulable"] == true)
    );

    let cordon = Change {
        kind: Kind::Node,
        namespace: String::new(),
        name: "node-b".into(),
        action: Action::Patched,
    };
    assert_eq!(
        bounded("the cordon is reported", seen.recv()).await,
        Some(cordon)
    );
    assert!(
        seen.try_recv().is_err(),
        "scale and eviction are requests, not changes"
    );
    task.abort();
    served.shutdown.shutdown().await;
}
