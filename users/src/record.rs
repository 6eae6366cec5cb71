//! Recording the requests of a Goose attack that scalebench did not build: the transactions
//! call [`record`] with each [`GooseResponse`], and the request goes into the Run of the
//! [`crate::run_attack`] in progress.
//!
//! Goose has no hook that sees every request of an attack from outside it: its request log
//! goes to a file (written by its own logger thread, in its own format), its metrics to its
//! own aggregator, and a [`goose::GooseAttack`]'s scenarios cannot be changed once they are
//! registered. The response each request returns to its transaction is the one complete and
//! exact record (status, error, start and response time to the microsecond), so transactions
//! hand it on. The sink is process-wide, as Goose's own state is (its killswitch, its Ctrl-C
//! handler, its logger): one attack runs at a time.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use goose::goose::{GooseResponse, GooseUser};

use crate::outcome::of_response;
use crate::session::{Msg, Session};

/// The session of the attack in progress, if any.
static ACTIVE: RwLock<Option<Arc<Session>>> = RwLock::new(None);

/// Makes `session` the one [`record`] writes to, until the guard is dropped.
pub(crate) fn activate(session: Arc<Session>) -> Active {
    *ACTIVE.write().unwrap_or_else(PoisonError::into_inner) = Some(session);
    Active
}

/// While it lives, [`record`] writes to the session it activated.
#[derive(Debug)]
pub(crate) struct Active;

impl Drop for Active {
    fn drop(&mut self) {
        *ACTIVE.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Records the request behind `goose` into the Run of the [`crate::run_attack`] in progress:
/// call it in your transactions right after each request, before taking the response apart.
///
/// The request's class is the scenario's request class named like the request (Goose names a
/// request by its path unless given a name), or else like the transaction, or else the first
/// class. Its start and response time are Goose's own (the start to the millisecond, the
/// response time, to the first byte, to the microsecond); it counts as a request of the
/// scenario only if it started before the scenario's end. Returns false, and does nothing,
/// when no attack is being recorded.
pub fn record(user: &GooseUser, goose: &GooseResponse) -> bool {
    let Some(s) = current() else {
        return false;
    };
    let m = &goose.request;
    let class = class_index(&s, &m.name)
        .or_else(|| class_index(&s, m.transaction_name.name_for_transaction()))
        .unwrap_or(0);
    send(&s, user, goose, class);
    true
}

/// [`record`], with the request class given by name; false when no attack is being recorded
/// or the scenario has no class of that name.
pub fn record_as(user: &GooseUser, goose: &GooseResponse, class: &str) -> bool {
    let Some(s) = current() else {
        return false;
    };
    let Some(class) = class_index(&s, class) else {
        return false;
    };
    send(&s, user, goose, class);
    true
}

fn current() -> Option<Arc<Session>> {
    ACTIVE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(Arc::clone)
}

fn class_index(s: &Session, name: &str) -> Option<u16> {
    s.classes.iter().position(|c| c == name).map(|i| i as u16)
}

fn send(s: &Session, user: &GooseUser, goose: &GooseResponse, class: u16) {
    let m = &goose.request;
    let started = user.started + Duration::from_millis(m.elapsed);
    let sent_ns = s.scenario_ns(started);
    if sent_ns >= s.end_ns {
        s.late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    let took = (m.response_time_micros() as f64 * 1000.0 * s.scale()) as u64;
    s.send(Msg::Complete {
        class,
        sent_ns,
        done_ns: sent_ns + took,
        outcome: of_response(goose),
    });
}
