//! What the model's unit tests share: a request type never offered, a host that only runs the
//! model's timers, and a policy that follows a script.

use std::collections::BTreeMap;
use std::path::Path;

use autoscale::{Observation, Policy};
use scalebench_core::Plan;

use crate::{Dropped, Host, Model, Request, SlotId, Timer};

pub(crate) const S: u64 = 1_000_000_000;

/// A request the tests rarely offer; its client never waits for it.
pub(crate) struct NoRequest;

impl Request for NoRequest {
    fn class(&self) -> u16 {
        0
    }
    fn intended(&self) -> u64 {
        0
    }
    fn service_ns(&self) -> u64 {
        0
    }
    fn wanted(&self) -> bool {
        false
    }
}

/// Runs the model's timers in order (FIFO among equal times).
#[derive(Default)]
pub(crate) struct Timers {
    pub(crate) due: BTreeMap<(u64, u64), Timer>,
    seq: u64,
}

impl Timers {
    /// Hands the model every timer due at or before `end`, in order.
    pub(crate) fn run_until(&mut self, model: &mut Model<NoRequest>, end: u64) {
        while let Some(entry) = self.due.first_entry() {
            let (t, _) = *entry.key();
            if t > end {
                break;
            }
            let timer = entry.remove();
            model.timer(t, timer, self);
        }
    }
}

impl Host<NoRequest> for Timers {
    fn schedule(&mut self, at: u64, timer: Timer) {
        self.seq += 1;
        self.due.insert((at, self.seq), timer);
    }
    fn serve(&mut self, _: u64, _: SlotId, _: &mut NoRequest, _: u64) {}
    fn drop_request(&mut self, _: u64, _: NoRequest, _: Dropped) {}
    fn latency_sample(&mut self) -> Option<(f64, f64)> {
        None
    }
}

/// Asks for `steps[i].1` replicas from `steps[i].0` seconds on (the first step from the start).
pub(crate) struct Script(pub(crate) Vec<(f64, u32)>);

impl Policy for Script {
    fn interval(&self) -> f64 {
        1.0
    }
    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        self.0
            .iter()
            .rev()
            .find(|(at, _)| obs.now >= *at)
            .map_or(0, |&(_, n)| n)
    }
}

/// A scenario written inline.
pub(crate) fn parse(src: &str) -> Plan {
    Plan::parse(Path::new("test.toml"), src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}
