//! `scalebench cluster undo JOURNAL`: puts back the nodes a killed run left tainted or
//! cordoned, from the journal its faults wrote before each change.

use std::path::PathBuf;

use anyhow::anyhow;

use super::Failure;

/// Arguments of `cluster`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Undo every taint and cordon a run's journal lists as not undone (after the run was
    /// killed), newest first; only what scalebench added is removed.
    Undo(Undo),
}

/// Arguments of `cluster undo`.
#[derive(Debug, clap::Args)]
struct Undo {
    /// The run's journal (`cluster-journal.jsonl` in its output directory).
    journal: PathBuf,
    /// The kubeconfig context (default: the current one).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Use the pod's service account instead of a kubeconfig.
    #[arg(long, conflicts_with_all = ["context", "kubeconfig"])]
    in_cluster: bool,
}

/// Runs `cluster`.
pub fn cmd(args: Args) -> Result<(), Failure> {
    match args.command {
        Command::Undo(u) => undo(u),
    }
}

fn undo(u: Undo) -> Result<(), Failure> {
    if !u.journal.is_file() {
        return Err(Failure::input(anyhow!(
            "{}: no such journal file",
            u.journal.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::env(anyhow!("cannot start a runtime: {e}")))?;
    let report = runtime.block_on(async {
        let config =
            cluster::kube_config_from(u.in_cluster, u.kubeconfig.as_deref(), u.context.as_deref())
                .await
                .map_err(Failure::input)?;
        let client = kube::Client::try_from(config)
            .map_err(|e| Failure::env(anyhow!("cannot build the Kubernetes client: {e}")))?;
        cluster::undo_journal(&u.journal, client)
            .await
            .map_err(Failure::env)
    })?;
    for line in &report.undone {
        println!("undone: {line}");
    }
    if report.undone.is_empty() && report.failed.is_empty() {
        println!("nothing to undo in {}", u.journal.display());
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::env(anyhow!(
            "{} of the journal's entries could not be undone (they stay pending; run this again):\n  {}",
            report.failed.len(),
            report.failed.join("\n  ")
        )))
    }
}

/// Prints the writes a `--dry-run` would have made (the run's list of calls), one per line on
/// stderr (stdout may carry the report's JSON): `would PATCH /api/v1/nodes/n1 (cordon)`.
pub fn print_calls(path: &std::path::Path) -> Result<(), Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Failure::env(anyhow!("cannot read {}: {e}", path.display())));
        }
    };
    let mut n = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let call: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Failure::env(anyhow!("{}:{}: not a call: {e}", path.display(), i + 1)))?;
        let field = |k: &str| {
            call.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string()
        };
        eprintln!(
            "dry run: would {} {} ({})",
            field("method"),
            field("path"),
            field("summary")
        );
        n += 1;
    }
    eprintln!(
        "dry run: {n} write{} to the cluster not made (listed in {})",
        if n == 1 { "" } else { "s" },
        path.display()
    );
    Ok(())
}
