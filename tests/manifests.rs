//! `scalebench manifests`: the binary on every shipped scenario writes one YAML file per setup
//! whose documents parse into the k8s-openapi types and read back into the same setup.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use scalebench_core::Plan;
use serde::Deserialize;

mod common;
use common::scalebench;

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("workloads/scenarios"))
        .unwrap_or_else(|e| panic!("workloads/scenarios: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.push(root.join("kube-objects/tests/policies.toml"));
    files
}

/// Every document of a file as a YAML value (comments and empty documents skipped).
fn documents(text: &str) -> Vec<serde_norway::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde_norway::Value::deserialize(d).unwrap_or_else(|e| panic!("{e}\n{text}")))
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn every_shipped_scenario_writes_files_that_parse_and_read_back() {
    for path in scenarios() {
        let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let out = dir.path().join("manifests");
        let o = scalebench(&[
            "manifests",
            &path.to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{}: {stderr}", path.display());
        for setup in &plan.setups {
            let file = out.join(format!("{}.yaml", setup.name.replace(' ', "-")));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let mut deployments = 0;
            for doc in documents(&text) {
                match doc.get("kind").and_then(|k| k.as_str()) {
                    Some("Deployment") => {
                        let d: Deployment = serde_norway::from_value(doc)
                            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                        assert_eq!(
                            d.spec.replicas,
                            Some(setup.initial_replicas as i32),
                            "{}",
                            file.display()
                        );
                        deployments += 1;
                    }
                    Some("HorizontalPodAutoscaler") => {
                        let h: HorizontalPodAutoscaler = serde_norway::from_value(doc)
                            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                        assert_eq!(
                            h.spec.max_replicas,
                            setup.policy.max_replicas() as i32,
                            "{}",
                            file.display()
                        );
                    }
                    Some("ScaledObject" | "Service") => {}
                    other => panic!("{}: unexpected kind {other:?}", file.display()),
                }
            }
            let kpa = setup.policy.kind() == "kpa";
            assert_eq!(deployments, usize::from(!kpa), "{}", file.display());
            let objects = kube_objects::parse_yaml(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let r =
                kube_objects::read(&objects).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(r.policy, setup.policy, "{}", file.display());
            assert_eq!(
                r.initial_replicas,
                setup.initial_replicas,
                "{}",
                file.display()
            );
            assert_eq!(r.warm_pool, setup.warm_pool, "{}", file.display());
            if setup.policy.kind() == "cost-aware" {
                assert!(
                    stderr.contains("cannot be expressed as a Kubernetes autoscaler"),
                    "{stderr}"
                );
            }
        }
    }
}

#[test]
fn one_setup_without_out_goes_to_stdout() {
    let path = common::scenario("steady-50.toml");
    let o = scalebench(&[
        "manifests",
        &path,
        "--setup",
        "hpa-default",
        "--labels",
        "eks",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("eks.amazonaws.com/capacityType"), "{text}");
    assert!(text.contains("ON_DEMAND"), "{text}");
    let objects = kube_objects::parse_yaml(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(objects.deployment.is_some() && objects.hpa.is_some());
}

#[test]
fn json_lists_the_files_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("m");
    let path = common::scenario("spot-fallback.toml");
    let o = scalebench(&[
        "manifests",
        &path,
        "--out",
        &out.to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is JSON: {e}"));
    let list = v.as_array().unwrap_or_else(|| panic!("a list: {v}"));
    assert_eq!(list.len(), 6);
    assert!(
        list.iter()
            .all(|w| w["file"].as_str().is_some_and(|f| Path::new(f).exists()))
    );
}

#[test]
fn an_unknown_setup_is_bad_input() {
    let path = common::scenario("steady-50.toml");
    let o = scalebench(&["manifests", &path, "--setup", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("steady-50.toml"), "{stderr}");
    assert!(stderr.contains("no setup named \"nope\""), "{stderr}");
    assert!(
        stderr.contains("expected one of: fixed-peak, hpa-default"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_and_bad_scenarios_are_bad_input() {
    let path = common::scenario("steady-50.toml");
    let o = scalebench(&["manifests", &path, "--name", "x"]);
    assert_eq!(o.status.code(), Some(2), "--name without --setup");
    let o = scalebench(&[
        "manifests",
        &path,
        "--setup",
        "kpa",
        "--namespace",
        "Bad_NS",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("DNS-1123"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "duration = 3\n").unwrap_or_else(|e| panic!("{e}"));
    let o = scalebench(&["manifests", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.toml"));
}
