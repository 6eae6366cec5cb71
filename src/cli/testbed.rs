//! `scalebench testbed`: the local inference emulator, serving until Ctrl-C: `POST /predict`,
//! `GET /metrics`, `POST /admin/faults`; with `--kube-api`, also a Kubernetes API that mirrors
//! it (pods, nodes, the Deployment `model` and its HPA), for kubectl and the cluster driver.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, anyhow};
use scalebench_core::Plan;
use testbed::TestbedConfig;

use super::Failure;

/// Arguments of `testbed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Emulate this scenario's service, cluster and autoscaler instead of the built-in demo.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// The scenario's setup to emulate (default: its first).
    #[arg(long, value_name = "NAME", requires = "scenario")]
    setup: Option<String>,
    /// Scenario seconds per real second (10 = ten times faster than real time).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Also serve a Kubernetes API on 127.0.0.1 (any free port, printed at start) whose pods,
    /// nodes, Deployment `model` and HPA are the testbed's, in namespace `default`.
    #[arg(long)]
    kube_api: bool,
    /// Write a kubeconfig for that API (cluster, context and user `scalebench-testbed`, no
    /// credentials) to FILE.
    #[arg(long, value_name = "FILE", requires = "kube_api")]
    kubeconfig_out: Option<PathBuf>,
}

/// Serves until Ctrl-C or SIGTERM.
pub fn cmd(args: Args) -> Result<(), Failure> {
    if !(args.time_scale > 0.0 && args.time_scale.is_finite()) {
        return Err(Failure::input(anyhow!(
            "--time-scale must be above zero, found {}",
            args.time_scale
        )));
    }
    let mut config = match &args.scenario {
        None => TestbedConfig {
            time_scale: args.time_scale,
            ..TestbedConfig::default_demo()
        },
        Some(path) => {
            let plan = Plan::load(path).map_err(Failure::input)?;
            let setup = match &args.setup {
                None => plan.setups.first(),
                Some(n) => plan.setups.iter().find(|s| &s.name == n),
            }
            .ok_or_else(|| {
                Failure::input(anyhow!(
                    "{}: no setup is named {:?}",
                    path.display(),
                    args.setup.as_deref().unwrap_or_default()
                ))
            })?;
            TestbedConfig::from_plan(&plan, setup, args.time_scale)
        }
    };
    if args.kube_api {
        config.kube = Some(testbed::KubeMirror::default());
    }
    let cancel = super::cancel_on_signals()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the testbed's runtime")
        .map_err(Failure::env)?;
    rt.block_on(async {
        let bed = testbed::start(config, args.listen)
            .await
            .map_err(Failure::env)?;
        super::print(&format!(
            "testbed listening on http://{} (POST /predict, GET /metrics, POST /admin/faults)\n",
            bed.addr()
        ));
        if let Some(addr) = bed.kube_addr() {
            super::print(&format!("Kubernetes API on http://{addr}\n"));
        }
        if let (Some(path), Some(config)) = (&args.kubeconfig_out, bed.kubeconfig()) {
            if let Err(e) = std::fs::write(path, config) {
                bed.shutdown().await;
                return Err(Failure::env(anyhow!(
                    "cannot write the kubeconfig to {}: {e}",
                    path.display()
                )));
            }
            super::print(&format!(
                "wrote {} (kubectl --kubeconfig {} get pods)\n",
                path.display(),
                path.display()
            ));
        }
        while !cancel.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bed.shutdown().await;
        Ok(())
    })
}
