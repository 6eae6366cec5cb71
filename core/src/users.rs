//! Closed-loop virtual users: the other way to offer load. Open-loop arrivals (the default
//! executor) send requests at their scheduled instants whatever the service does; closed-loop
//! users each send one request, wait for its answer, think, and send the next, so a slow
//! service slows its own load down, as a fixed population of clients does (and as Goose, k6's
//! `constant-vus` or Locust measure).
//!
//! ```toml
//! [traffic]
//! executor = "users"
//! [traffic.users]
//! count = 50          # users
//! think = "500ms"     # or a distribution: { dist = "exponential", mean = "1s" }
//! ramp = "10s"        # users start linearly over the first 10 s (default: all at once)
//! ```
//!
//! Rate shapes do not apply to users: a scenario with `executor = "users"` has no
//! `[[traffic.shape]]`. The request classes, the timeout, the SLO and the windows apply as they
//! do to arrivals.

use serde::{Deserialize, Serialize};

use crate::dist::DurationDist;
use crate::traffic::Traffic;
use crate::units::Duration;

/// The most users a scenario may start (each is a task with its own HTTP client).
pub const MAX_USERS: u32 = 100_000;

/// How a scenario's load is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Executor {
    /// Open loop: requests arrive at the instants the rate shapes and the arrival process
    /// schedule, whether or not earlier ones were answered (the default).
    #[default]
    Arrivals,
    /// Closed loop: `[traffic.users]` users each send a request, wait for its answer, think,
    /// and send the next.
    Users,
}

impl Executor {
    /// True for the default executor (kept out of serialized plans).
    pub fn is_arrivals(&self) -> bool {
        *self == Executor::Arrivals
    }

    /// As written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Executor::Arrivals => "arrivals",
            Executor::Users => "users",
        }
    }
}

/// The `[traffic.users]` table: a fixed population of closed-loop users.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// How many users run at once (after the ramp).
    pub count: u32,
    /// How long a user waits between the answer to one request and sending its next: a
    /// duration or a distribution; zero (back to back) by default.
    #[serde(default = "no_think")]
    pub think: DurationDist,
    /// Users start one after another, evenly over this long from the start of the run; zero
    /// (all at once) by default.
    #[serde(default)]
    pub ramp: Duration,
}

fn no_think() -> DurationDist {
    DurationDist::fixed(Duration::ZERO)
}

impl Users {
    /// When user `index` (from 0) starts, in scenario time: evenly over the ramp.
    pub fn start_of(&self, index: u32) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let step = u128::from(self.ramp.as_nanos()) * u128::from(index) / u128::from(self.count);
        Duration::from_nanos(step as u64)
    }
}

impl Traffic {
    /// The closed-loop users, when the executor is `users`.
    pub fn closed_loop(&self) -> Option<&Users> {
        match self.executor {
            Executor::Users => self.users.as_ref(),
            Executor::Arrivals => None,
        }
    }
}

/// Checks the executor against the rest of the traffic table for a run of `duration`; the
/// message says what to change.
pub(crate) fn check(traffic: &Traffic, duration: Duration) -> Result<(), String> {
    match (traffic.executor, &traffic.users) {
        (Executor::Arrivals, None) => Ok(()),
        (Executor::Arrivals, Some(_)) => Err(
            "[traffic.users] only applies to closed-loop users: add executor = \"users\" to [traffic] (or remove [traffic.users] for open-loop arrivals)"
                .into(),
        ),
        (Executor::Users, None) => Err(
            "executor = \"users\" needs a [traffic.users] table with the number of users, e.g. [traffic.users] count = 10"
                .into(),
        ),
        (Executor::Users, Some(u)) => {
            if u.count == 0 || u.count > MAX_USERS {
                return Err(format!(
                    "traffic.users.count must be between 1 and {MAX_USERS}, found {}",
                    u.count
                ));
            }
            if u.ramp >= duration {
                return Err(format!(
                    "traffic.users.ramp {} must be shorter than the run's duration {duration}",
                    u.ramp
                ));
            }
            if !traffic.shapes.is_empty() {
                return Err(
                    "executor = \"users\" offers load from closed-loop users, not from rate shapes: remove the [[traffic.shape]] tables (the users' count, think time and ramp set the load)"
                        .into(),
                );
            }
            if traffic.cv.is_some() {
                return Err(
                    "cv applies to open-loop arrivals; closed-loop users (executor = \"users\") have think times instead"
                        .into(),
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_start_evenly_over_the_ramp() {
        let u = Users {
            count: 4,
            think: no_think(),
            ramp: Duration::from_secs(8),
        };
        let starts: Vec<f64> = (0..4).map(|i| u.start_of(i).as_secs_f64()).collect();
        assert_eq!(starts, vec![0.0, 2.0, 4.0, 6.0]);
        let at_once = Users {
            ramp: Duration::ZERO,
            ..u
        };
        assert_eq!(at_once.start_of(3), Duration::ZERO);
    }
}
