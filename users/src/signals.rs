//! Ctrl-C and Goose. Goose installs its own SIGINT handler (through the `ctrlc` crate) when an
//! attack starts, *replacing* whatever handler the process had: after that, the CLI's handler
//! (signal-hook, which sets the flag that ends a run with its partial report and exit 130)
//! would never see Ctrl-C again, and a second Ctrl-C would end the process with Goose's exit 1.
//!
//! `ctrlc` takes one handler per process, so whoever installs one first keeps it: Goose's later
//! attempt fails, and Goose carries on without its own (it logs and resets its killswitch).
//! [`claim_ctrl_c`] installs ours, and only where no other handler exists yet; a handler
//! installed after it with signal-hook chains to it, so both run on each Ctrl-C.
//!
//! A process started in the background by a non-interactive shell (`scalebench run ... &` in a
//! script, a CI job) inherits SIGINT as *ignored*. [`claim_ctrl_c`] leaves that disposition alone
//! and reports [`CtrlC::Foreign`], and Goose would then replace it all the same. A program that
//! answers SIGINT itself whatever it inherited, as the CLI does, calls [`take_ctrl_c`] instead,
//! before it installs its own handler.

use std::sync::atomic::{AtomicBool, Ordering};

/// What [`claim_ctrl_c`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtrlC {
    /// Our handler is installed now: on Ctrl-C it stops the Goose attack in progress (through
    /// Goose's killswitch); a second Ctrl-C ends the process with exit code 130.
    Claimed,
    /// `ctrlc`'s one handler was already installed (by an earlier claim, or by Goose or the
    /// application): Goose cannot replace any handler any more.
    AlreadyClaimed,
    /// Another SIGINT handler exists and `ctrlc` would not replace it; Goose will, when its
    /// attack starts. Claim before installing your own handler to avoid that.
    Foreign,
}

/// Installs the process's `ctrlc` handler before Goose can, so Goose never replaces the
/// process's own SIGINT handling. Call it before installing a SIGINT handler of your own (a
/// signal-hook handler installed afterwards chains to it). Idempotent.
pub fn claim_ctrl_c() -> CtrlC {
    match ctrlc::try_set_handler(on_ctrl_c) {
        Ok(()) => CtrlC::Claimed,
        Err(ctrlc::Error::MultipleHandlers) => CtrlC::AlreadyClaimed,
        Err(_) => CtrlC::Foreign,
    }
}

/// Like [`claim_ctrl_c`], but replaces an inherited SIGINT disposition (ignored, or a
/// foreign handler) instead of leaving it to Goose. For a program that installs its own SIGINT
/// handler afterwards anyway, as the CLI does: it answers Ctrl-C and `kill -INT` even when
/// started in the background by a script, which starts it with SIGINT ignored. Idempotent.
pub fn take_ctrl_c() -> CtrlC {
    match ctrlc::set_handler(on_ctrl_c) {
        Ok(()) => CtrlC::Claimed,
        Err(ctrlc::Error::MultipleHandlers) => CtrlC::AlreadyClaimed,
        Err(_) => CtrlC::Foreign,
    }
}

/// Goose's own behaviour, with the process's exit code for an interruption: the first Ctrl-C
/// stops the attack, the second ends the process.
fn on_ctrl_c() {
    static PRESSED: AtomicBool = AtomicBool::new(false);
    if PRESSED.swap(true, Ordering::SeqCst) {
        std::process::exit(130);
    }
    goose::trigger_killswitch("SIGINT received");
}
