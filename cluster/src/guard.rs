//! [`UndoGuard`]: the run's taints and cordons undone at its end, on cancellation, and on a
//! signal path; [`undo_journal_blocking`] for code that is not async.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::act::Act;
use crate::fault::FaultError;
use crate::journal::{self, Journal, UndoReport};

/// How long a blocking undo may take before it gives up (the journal keeps what is left).
pub const BLOCKING_UNDO_TIMEOUT: Duration = Duration::from_secs(60);

/// Undoes a run's taints and cordons (from its journal). Await [`UndoGuard::undo`] at the end
/// of the run and on cancellation; [`UndoGuard::undo_blocking`] serves a signal handler or a
/// `Drop`. A guard dropped without either, and made with a `kube::Config`, undoes on a thread
/// of its own (blocking the dropping thread, at most [`BLOCKING_UNDO_TIMEOUT`]); without a
/// config it logs the `scalebench cluster undo` command to run.
#[derive(Debug)]
pub struct UndoGuard {
    act: Act,
    journal: Option<Arc<Journal>>,
    config: Option<kube::Config>,
    done: bool,
}

impl UndoGuard {
    pub(crate) fn new(
        act: Act,
        journal: Option<Arc<Journal>>,
        config: Option<kube::Config>,
    ) -> UndoGuard {
        UndoGuard {
            act,
            journal,
            config,
            done: false,
        }
    }

    /// Undoes every pending entry of the journal through the run's client.
    pub async fn undo(mut self) -> Result<UndoReport, FaultError> {
        self.done = true;
        match &self.journal {
            Some(j) => journal::undo(j, &self.act).await,
            None => Ok(UndoReport::default()),
        }
    }

    /// Undoes every pending entry from plain (non-async) code, with a client of its own on a
    /// runtime of its own on a thread of its own, so that it works whatever state the run's
    /// runtime is in. Needs the guard's `kube::Config`.
    pub fn undo_blocking(&mut self) -> Result<UndoReport, FaultError> {
        self.done = true;
        let Some(journal) = &self.journal else {
            return Ok(UndoReport::default());
        };
        let Some(config) = self.config.clone() else {
            return Err(FaultError::Blocking(format!(
                "no kube config to undo with: run `scalebench cluster undo {}`",
                journal.path().display()
            )));
        };
        undo_journal_blocking(journal.path(), config)
    }

    /// Leaves the journal as it is (nothing is undone on drop).
    pub fn disarm(mut self) {
        self.done = true;
    }
}

impl Drop for UndoGuard {
    fn drop(&mut self) {
        if self.done || self.journal.is_none() {
            return;
        }
        tracing::warn!("undo guard dropped before its undo: undoing on a thread of its own");
        match self.undo_blocking() {
            Ok(report) if report.failed.is_empty() => {}
            Ok(report) => tracing::error!(failed = ?report.failed, "undo left entries pending"),
            Err(e) => tracing::error!(error = %e, "undo failed"),
        }
    }
}

/// [`journal::undo_journal`] from plain code: a new thread with a current-thread runtime and a
/// client made from `config`, bounded by [`BLOCKING_UNDO_TIMEOUT`]. Usable from a signal
/// handler's thread, a `Drop`, or inside a runtime (it blocks the calling thread).
pub fn undo_journal_blocking(path: &Path, config: kube::Config) -> Result<UndoReport, FaultError> {
    let path = path.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("scalebench-undo".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| FaultError::Blocking(format!("starting a runtime: {e}")))?;
            runtime.block_on(async move {
                let client = kube::Client::try_from(config)
                    .map_err(|e| FaultError::Blocking(format!("building a client: {e}")))?;
                tokio::time::timeout(
                    BLOCKING_UNDO_TIMEOUT,
                    journal::undo_journal(&path, client),
                )
                .await
                .map_err(|_| {
                    FaultError::Blocking(format!(
                        "not done within {BLOCKING_UNDO_TIMEOUT:?}: run `scalebench cluster undo {}`",
                        path.display()
                    ))
                })?
            })
        })
        .map_err(|e| FaultError::Blocking(format!("starting a thread: {e}")))?;
    thread
        .join()
        .map_err(|_| FaultError::Blocking("the undo thread panicked".into()))?
}
