//! The journal of what scalebench changed on nodes (taints, cordons), written before each
//! change, and the undo that reads it: at the end of a run, on cancellation, or from a later
//! process after a SIGKILL ([`undo_journal`]).
//!
//! One JSON object per line, appended and flushed to disk before the change is made:
//!
//! ```json
//! {"op":"taint","seq":1,"node":"spot-1","key":"scalebench.io/interruption","value":"run-7","effect":"NoSchedule","previous":[]}
//! {"op":"cordon","seq":2,"node":"od-1","previous":false}
//! {"op":"undone","seq":1}
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use k8s_openapi::api::core::v1::{Node, Taint};
use kube::Api;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::act::Act;
use crate::fault::{CONFLICT_RETRIES, FaultError};

/// The journal's file name in the run's out dir.
pub const JOURNAL_FILE: &str = "cluster-journal.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Entry {
    /// A taint about to be added to `node`; `previous` is the node's taints before.
    Taint {
        /// The entry's number in the journal.
        seq: u64,
        /// The node.
        node: String,
        /// The taint's key.
        key: String,
        /// The taint's value (the run id).
        value: String,
        /// The taint's effect.
        effect: String,
        /// `spec.taints` before.
        previous: Vec<Taint>,
    },
    /// A cordon about to be set on `node`; `previous` is `spec.unschedulable` before.
    Cordon {
        /// The entry's number in the journal.
        seq: u64,
        /// The node.
        node: String,
        /// Whether it was cordoned already.
        previous: bool,
    },
    /// Entry `seq` was undone.
    Undone {
        /// The entry undone.
        seq: u64,
    },
}

impl Entry {
    fn seq(&self) -> u64 {
        match self {
            Entry::Taint { seq, .. } | Entry::Cordon { seq, .. } | Entry::Undone { seq } => *seq,
        }
    }

    /// The node it is about (`None` for [`Entry::Undone`]).
    pub fn node(&self) -> Option<&str> {
        match self {
            Entry::Taint { node, .. } | Entry::Cordon { node, .. } => Some(node),
            Entry::Undone { .. } => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Entry::Taint {
                node,
                key,
                value,
                effect,
                ..
            } => format!("taint {key}={value}:{effect} on {node}"),
            Entry::Cordon { node, .. } => format!("cordon of {node}"),
            Entry::Undone { seq } => format!("undone #{seq}"),
        }
    }
}

/// An open journal file, appended to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<(File, u64)>,
}

fn io_error(path: &Path, source: std::io::Error) -> FaultError {
    FaultError::Journal {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Opens (or creates) the journal at `path`, appending after what it holds.
    pub fn open(path: &Path) -> Result<Journal, FaultError> {
        let next = read(path)?.iter().map(Entry::seq).max().unwrap_or(0) + 1;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new((file, next)),
        })
    }

    /// Opens the journal [`JOURNAL_FILE`] in `dir`.
    pub fn in_dir(dir: &Path) -> Result<Journal, FaultError> {
        Journal::open(&dir.join(JOURNAL_FILE))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an entry, numbered by `make`, and flushes it to disk before returning.
    pub(crate) fn append(&self, make: impl FnOnce(u64) -> Entry) -> Result<Entry, FaultError> {
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = make(guard.1);
        if !matches!(entry, Entry::Undone { .. }) {
            guard.1 += 1;
        }
        let mut line = serde_json::to_string(&entry).map_err(|e| io_error(&self.path, e.into()))?;
        line.push('\n');
        guard
            .0
            .write_all(line.as_bytes())
            .and_then(|()| guard.0.sync_data())
            .map_err(|e| io_error(&self.path, e))?;
        Ok(entry)
    }

    /// The entries not undone yet, oldest first.
    pub fn pending(&self) -> Result<Vec<Entry>, FaultError> {
        pending(&self.path)
    }
}

/// Every entry of the journal at `path` (none if it does not exist). A line that does not parse
/// (the last one, cut by a kill mid-write) is skipped with a warning.
pub fn read(path: &Path) -> Result<Vec<Entry>, FaultError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path, e)),
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(i, l)| match serde_json::from_str(l) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(path = %path.display(), line = i + 1, error = %e, "journal line skipped");
                None
            }
        })
        .collect())
}

/// The entries of the journal at `path` not undone yet, oldest first.
pub fn pending(path: &Path) -> Result<Vec<Entry>, FaultError> {
    let all = read(path)?;
    let undone: Vec<u64> = all
        .iter()
        .filter_map(|e| match e {
            Entry::Undone { seq } => Some(*seq),
            _ => None,
        })
        .collect();
    Ok(all
        .into_iter()
        .filter(|e| !matches!(e, Entry::Undone { .. }) && !undone.contains(&e.seq()))
        .collect())
}

/// What an undo did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UndoReport {
    /// The entries undone (`taint scalebench.io/interruption=r1:NoSchedule on spot-1`), with
    /// what was done: `removed`, `uncordoned`, `kept (there before)`, `node gone`.
    pub undone: Vec<String>,
    /// The entries that could not be undone, with the error; they stay pending in the journal.
    pub failed: Vec<String>,
}

/// Undoes every pending entry of the journal at `path` through `client`, newest first, and
/// marks each undone: what `scalebench cluster undo JOURNAL` runs after a run was killed.
pub async fn undo_journal(path: &Path, client: kube::Client) -> Result<UndoReport, FaultError> {
    let journal = Journal::open(path)?;
    undo(&journal, &Act::new(client, false)).await
}

/// Undoes the journal's pending entries, newest first. A failed entry stays pending and is
/// reported; the others are still undone.
pub(crate) async fn undo(journal: &Journal, act: &Act) -> Result<UndoReport, FaultError> {
    undo_matching(journal, act, |_| true).await
}

/// [`undo`] of the pending entries `which` picks (the nodes of an outage that ended).
pub(crate) async fn undo_matching(
    journal: &Journal,
    act: &Act,
    which: impl Fn(&Entry) -> bool,
) -> Result<UndoReport, FaultError> {
    let mut report = UndoReport::default();
    for entry in journal.pending()?.into_iter().rev().filter(|e| which(e)) {
        match undo_entry(act, &entry).await {
            Ok(what) => {
                journal.append(|_| Entry::Undone { seq: entry.seq() })?;
                report.undone.push(format!("{}: {what}", entry.describe()));
            }
            Err(e) => {
                tracing::error!(entry = %entry.describe(), error = %e, "undo failed");
                report.failed.push(format!("{}: {e}", entry.describe()));
            }
        }
    }
    Ok(report)
}

/// Undoes one entry: removes exactly the taint scalebench added (unless the node had it before),
/// uncordons a node that was schedulable before.
async fn undo_entry(act: &Act, entry: &Entry) -> Result<&'static str, FaultError> {
    let nodes = Api::<Node>::all(act.client().clone());
    for _ in 0..CONFLICT_RETRIES {
        let (node, patch) = match entry {
            Entry::Undone { .. } => return Ok("nothing"),
            Entry::Cordon { previous: true, .. } => return Ok("kept (cordoned before)"),
            Entry::Cordon { node, .. } => {
                let Some(current) = get_node(&nodes, node).await? else {
                    return Ok("node gone");
                };
                if !current.spec.and_then(|s| s.unschedulable).unwrap_or(false) {
                    return Ok("already schedulable");
                }
                let rv = current.metadata.resource_version;
                let patch =
                    json!({"metadata": {"resourceVersion": rv}, "spec": {"unschedulable": null}});
                (node, (patch, "uncordon".to_string(), "uncordoned"))
            }
            Entry::Taint {
                node,
                key,
                value,
                effect,
                previous,
                ..
            } => {
                let ours = |t: &Taint| t.key == *key && t.effect == *effect;
                if previous.iter().any(ours) {
                    return Ok("kept (there before)");
                }
                let Some(current) = get_node(&nodes, node).await? else {
                    return Ok("node gone");
                };
                let taints = current.spec.and_then(|s| s.taints).unwrap_or_default();
                let mine = |t: &Taint| ours(t) && t.value.as_deref() == Some(value.as_str());
                if !taints.iter().any(mine) {
                    return Ok("already gone");
                }
                let kept: Vec<Taint> = taints.into_iter().filter(|t| !mine(t)).collect();
                let rv = current.metadata.resource_version;
                let patch = json!({"metadata": {"resourceVersion": rv}, "spec": {"taints": kept}});
                (node, (patch, format!("remove taint {key}"), "removed"))
            }
        };
        let (patch, summary, done) = patch;
        match act.patch_node(node, &patch, summary).await {
            Ok(_) => return Ok(done),
            Err(e) if e.code() == Some(409) => continue,
            Err(e) if e.code() == Some(404) => return Ok("node gone"),
            Err(e) => return Err(e.into()),
        }
    }
    Err(FaultError::Conflict(entry.describe()))
}

pub(crate) async fn get_node(nodes: &Api<Node>, name: &str) -> Result<Option<Node>, FaultError> {
    nodes
        .get_opt(name)
        .await
        .map_err(|source| FaultError::Read {
            what: format!("node {name}"),
            source: Box::new(source),
        })
}
