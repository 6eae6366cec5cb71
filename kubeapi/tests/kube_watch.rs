//! kube-rs watches against the server: the runtime watcher (add, modify, delete, and a relist
//! after the server compacted its log past the watcher) and raw watch streams (bookmarks,
//! selector transitions, initial events, the 410 ERROR event, shutdown).

mod common;

use std::time::Duration;

use common::{Served, bounded, serve, web_pod};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;
use kubeapi::Kind;
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
async fn watcher_sees_changes_and_relists_after_compaction() {
    let served = serve(Default::default()).await;
    let api = Api::<Pod>::namespaced(client(&served), "default");
    let mut events = watcher(api, watcher::Config::default()).boxed();
    let mut next = async || {
        bounded("watch event", events.next())
            .await
            .expect("stream goes on")
    };

    assert!(matches!(next().await, Ok(watcher::Event::Init)));
    for _ in 0..3 {
        assert!(matches!(next().await, Ok(watcher::Event::InitApply(_))));
    }
    assert!(matches!(next().await, Ok(watcher::Event::InitDone)));

    let h = &served.handle;
    h.write(|s| s.replace(Kind::Pod, "", web_pod("web-4", "node-b"), false))
        .expect("add");
    assert!(
        matches!(next().await, Ok(watcher::Event::Apply(p)) if p.metadata.name.as_deref() == Some("web-4"))
    );
    h.write(|s| {
        s.patch(
            Kind::Pod,
            "default",
            "web-4",
            &json!({"metadata": {"labels": {"v": "2"}}}),
        )
    })
    .expect("modify");
    assert!(
        matches!(next().await, Ok(watcher::Event::Apply(p)) if p.metadata.labels.as_ref().is_some_and(|l| l.contains_key("v")))
    );
    h.write(|s| s.delete(Kind::Pod, "default", "web-4"))
        .expect("delete");
    assert!(
        matches!(next().await, Ok(watcher::Event::Delete(p)) if p.metadata.name.as_deref() == Some("web-4"))
    );

    // A write the watcher has not seen, then compaction past it: its watch gets a 410 ERROR
    // event and it lists again (seeing the write in the new list).
    h.write(|s| {
        s.replace(Kind::Pod, "", web_pod("web-5", "node-b"), false)
            .expect("add");
        s.compact();
    });
    assert!(matches!(next().await, Err(watcher::Error::WatchError(e)) if e.code == 410));
    assert!(matches!(next().await, Ok(watcher::Event::Init)));
    let mut relisted = Vec::new();
    loop {
        match next().await {
            Ok(watcher::Event::InitApply(p)) => relisted.extend(p.metadata.name),
            Ok(watcher::Event::InitDone) => break,
            other => panic!("unexpected during relist: {other:?}"),
        }
    }
    assert_eq!(relisted, ["web-1", "web-2", "web-3", "web-5"]);
    h.write(|s| s.delete(Kind::Pod, "default", "web-5"))
        .expect("delete");
    assert!(matches!(next().await, Ok(watcher::Event::Delete(_))));
    served.shutdown.shutdown().await;
}

/// Collects a raw watch until the server ends it.
async fn raw_watch(client: &kube::Client, query: &str) -> Vec<kube::core::WatchEvent<Pod>> {
    let req = http::Request::get(format!("/api/v1/namespaces/default/pods?watch=1&{query}"))
        .body(Vec::new())
        .expect("request");
    let stream = bounded("watch starts", client.request_events::<Pod>(req))
        .await
        .expect("watch");
    let items: Vec<kube::Result<_>> =
        bounded("the server ends the watch", stream.boxed().collect()).await;
    items
        .into_iter()
        .collect::<kube::Result<Vec<_>>>()
        .expect("events")
}

#[tokio::test]
async fn watch_streams_bookmarks_selector_transitions_and_initial_events() {
    use kube::core::WatchEvent as W;
    let served = serve(kubeapi::Config {
        bookmark_interval: Duration::from_millis(100),
    })
    .await;
    let client = client(&served);
    let rv = served.handle.read(|s| s.resource_version());
    let h = served.handle.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // web-1 leaves the selection, comes back, changes; a change to a node is no pod event.
        let label = |v: &str| json!({"metadata": {"labels": {"tier": v}}});
        h.write(|s| s.patch(Kind::Pod, "default", "web-1", &label("b")))
            .expect("patch");
        h.write(|s| s.patch(Kind::Node, "", "node-a", &label("b")))
            .expect("patch");
        h.write(|s| s.patch(Kind::Pod, "default", "web-1", &label("a")))
            .expect("patch");
        h.write(|s| {
            s.patch(
                Kind::Pod,
                "default",
                "web-1",
                &json!({"metadata": {"labels": {"x": "1"}}}),
            )
        })
        .expect("patch");
    });
    // The web pods match "tier notin (b)" at first (no tier label).
    let query = format!(
        "resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1&labelSelector=tier%20notin%20(b),app=web,spec.nodeName!=x"
    );
    let query = query.replace(",spec.nodeName!=x", "&fieldSelector=spec.nodeName%21%3Dx");
    let events = raw_watch(&client, &query).await;
    writer.await.expect("writer");
    let seen: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            W::Added(p) => Some(format!(
                "ADDED {}",
                p.metadata.name.as_deref().unwrap_or("")
            )),
            W::Modified(p) => Some(format!(
                "MODIFIED {}",
                p.metadata.name.as_deref().unwrap_or("")
            )),
            W::Deleted(p) => Some(format!(
                "DELETED {}",
                p.metadata.name.as_deref().unwrap_or("")
            )),
            W::Bookmark(_) => None,
            W::Error(s) => Some(format!("ERROR {}", s.code)),
        })
        .collect();
    assert_eq!(seen, ["DELETED web-1", "ADDED web-1", "MODIFIED web-1"]);
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, W::Bookmark(_)))
            .count()
            >= 3,
        "{events:?}"
    );

    // sendInitialEvents: the current state as ADDED, then the initial-events-end bookmark.
    let events = raw_watch(&client, "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=1").await;
    assert!(
        events[..3].iter().all(|e| matches!(e, W::Added(_))),
        "{events:?}"
    );
    assert!(
        matches!(&events[3], W::Bookmark(b) if b.metadata.annotations.contains_key("k8s.io/initial-events-end"))
    );

    // An expired resourceVersion: one ERROR event with a 410 Status in a 200 stream.
    served.handle.write(|s| s.compact());
    let events = raw_watch(&client, "resourceVersion=1").await;
    assert!(
        matches!(events.as_slice(), [W::Error(s)] if s.code == 410 && s.reason == "Expired"),
        "{events:?}"
    );

    // Shutting the server down ends a watch without timeoutSeconds.
    let req = http::Request::get("/api/v1/namespaces/default/pods?watch=1")
        .body(Vec::new())
        .expect("request");
    let stream = bounded("watch starts", client.request_events::<Pod>(req))
        .await
        .expect("watch");
    served.shutdown.shutdown().await;
    let events: Vec<kube::Result<_>> =
        bounded("shutdown ends the watch", stream.boxed().collect()).await;
    assert_eq!(events.len(), 3, "the initial ADDED events, then the end");
}
