//! `scalebench manifests SCENARIO`: the Kubernetes objects each setup stands for (a Deployment
//! and its HPA, KEDA ScaledObject or Knative Service), one multi-document YAML file per setup.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use kube_objects::{Labels, Options};
use scalebench_core::policy::PolicyConfig;
use scalebench_core::{Plan, Setup};
use serde::Serialize;

use super::{Failure, Stdout};

/// Which node labels say spot or on-demand.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LabelsArg {
    /// karpenter.sh/capacity-type
    Karpenter,
    /// eks.amazonaws.com/capacityType
    Eks,
    /// cloud.google.com/gke-spot
    Gke,
    /// kubernetes.azure.com/scalesetpriority
    Aks,
}

impl From<LabelsArg> for Labels {
    fn from(l: LabelsArg) -> Labels {
        match l {
            LabelsArg::Karpenter => Labels::Karpenter,
            LabelsArg::Eks => Labels::Eks,
            LabelsArg::Gke => Labels::Gke,
            LabelsArg::Aks => Labels::Aks,
        }
    }
}

/// Arguments of `manifests`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Only this setup; without --out its YAML goes to stdout.
    #[arg(long, value_name = "NAME")]
    setup: Option<String>,
    /// Write `<DIR>/<setup>.yaml` for each setup (default `manifests/` when every setup is written).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// metadata.namespace of every object (default: none, so `kubectl apply -n` decides).
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// The workload's name (default: the setup's name as a DNS label); needs --setup when the
    /// scenario has more than one setup.
    #[arg(long, value_name = "WORKLOAD")]
    name: Option<String>,
    /// The node labels that tell spot from on-demand capacity.
    #[arg(long, value_enum, default_value = "karpenter")]
    labels: LabelsArg,
    /// Print what was written as one JSON document on stdout (the YAML then always goes to files).
    #[arg(long)]
    json: bool,
}

/// One setup's file, as `--json` lists it.
#[derive(Debug, Serialize)]
struct Written {
    setup: String,
    policy: &'static str,
    file: String,
    notes: Vec<String>,
}

/// Writes the objects of the scenario's setups.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let file = args.scenario.display().to_string();
    let plan = Plan::load(&args.scenario).map_err(Failure::input)?;
    let setups: Vec<&Setup> = match &args.setup {
        Some(name) => {
            let found = plan.setups.iter().find(|s| &s.name == name);
            vec![found.ok_or_else(|| {
                let names: Vec<&str> = plan.setups.iter().map(|s| s.name.as_str()).collect();
                Failure::input(anyhow!(
                    "{file}: no setup named {name:?}; expected one of: {}",
                    names.join(", ")
                ))
            })?]
        }
        None => plan.setups.iter().collect(),
    };
    if setups.is_empty() {
        return Err(Failure::input(anyhow!(
            "{file}: the scenario has no [[setup]]"
        )));
    }
    if args.name.is_some() && setups.len() > 1 {
        return Err(Failure::input(anyhow!(
            "--name needs --setup: {file} has {} setups and their objects would share one name",
            setups.len()
        )));
    }
    for (flag, value) in [("--namespace", &args.namespace), ("--name", &args.name)] {
        if let Some(v) = value
            && kube_objects::dns_label(v) != *v
        {
            return Err(Failure::input(anyhow!(
                "{flag} {v:?}: expected a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters), such as {:?}",
                kube_objects::dns_label(v)
            )));
        }
    }
    let opts = Options {
        namespace: args.namespace.clone(),
        name: args.name.clone(),
        labels: args.labels.into(),
    };
    let stdout = Stdout::from_flag(args.json);
    let to_stdout = args.setup.is_some() && args.out.is_none() && !args.json;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("manifests"));
    let mut written = Vec::new();
    for setup in setups {
        let objects = kube_objects::write(&plan, setup, &opts);
        if matches!(setup.policy, PolicyConfig::CostAware(_)) {
            eprintln!(
                "note: setup {:?}: {}",
                setup.name,
                kube_objects::COST_AWARE_NOTE
            );
        }
        let yaml = kube_objects::to_yaml(&objects).map_err(Failure::env)?;
        if to_stdout {
            super::print(&yaml);
            continue;
        }
        let path = out.join(format!("{}.yaml", file_stem(&setup.name)));
        write_file(&path, &yaml)?;
        stdout.human(&format!("wrote {}\n", path.display()));
        written.push(Written {
            setup: setup.name.clone(),
            policy: setup.policy.kind(),
            file: path.display().to_string(),
            notes: objects.notes,
        });
    }
    stdout.json(&written)
}

/// A setup's name as a file name: characters other than letters, digits, `.`, `_` and `-`
/// become `-`.
fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.trim_matches('.').is_empty() {
        "setup".into()
    } else {
        s
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::env(anyhow!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Failure::env(anyhow!("cannot write {}: {e}", path.display())))
}
