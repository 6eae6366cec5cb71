//! What the sending threads share: the schedule they take arrivals from, the bound on
//! requests in flight, and the connection pool's size as the supervisor sets it.
//!
//! The schedule is handed out in short leases (the arrivals due within the next
//! [`LEASE_AHEAD`]), so any number of shards can send it and a shard added mid-run takes its
//! share from the next lease on; a shard that is busy takes fewer leases, so the work goes
//! where there is time for it. Each shard still sends its arrivals in time order on its own
//! connections; only a lease (about a millisecond of the schedule) crosses threads.
//!
//! The [`Scout`] reads the same schedule ahead of the shards, so the pool can be grown for a
//! burst or a spike before it comes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use scalebench_core::Plan;
use scalebench_core::arrivals::{Arrival, ArrivalStream};

/// How far ahead of its clock a shard takes arrivals, in scenario ns.
pub(crate) const LEASE_AHEAD: u64 = 1_000_000;
/// The most arrivals in one lease.
const LEASE_MAX: usize = 1024;

/// The schedule, the in-flight bound and the pool's size, shared by every shard.
pub(crate) struct Shared {
    schedule: Mutex<Ahead>,
    /// The intended time of the next arrival not leased yet; `u64::MAX` once none is left.
    head: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: u64,
    /// The most connections a shard may have open.
    pub conn_cap: AtomicUsize,
    /// How many connections a shard keeps open for what is coming.
    pub conn_ready: AtomicUsize,
}

/// An arrival stream numbered in schedule order, with one arrival looked at but not taken.
struct Ahead {
    stream: std::iter::Enumerate<ArrivalStream>,
    next: Option<(usize, Arrival)>,
}

impl Shared {
    /// The schedule of `plan`, with at most `max_in_flight` requests in flight at once and
    /// pools of `conn_cap` connections per shard, `conn_ready` of them open ahead.
    pub fn new(plan: &Plan, max_in_flight: u64, conn_cap: usize, conn_ready: usize) -> Shared {
        let mut stream = ArrivalStream::new(plan).enumerate();
        let next = stream.next();
        Shared {
            head: AtomicU64::new(next.map_or(u64::MAX, |(_, a)| a.t_ns)),
            schedule: Mutex::new(Ahead { stream, next }),
            in_flight: AtomicU64::new(0),
            max_in_flight: max_in_flight.max(1),
            conn_cap: AtomicUsize::new(conn_cap.max(1)),
            conn_ready: AtomicUsize::new(conn_ready),
        }
    }

    /// The intended time of the next arrival nobody has taken (`u64::MAX` when the schedule
    /// is done). Every arrival leased from now on is due at or after it.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Moves the arrivals due before `until_ns` (at most [`LEASE_MAX`]) to `out`, with their
    /// positions in the schedule. False once the schedule is done.
    pub fn lease(&self, until_ns: u64, out: &mut VecDeque<(u64, Arrival)>) -> bool {
        let mut s = self.schedule.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = 0;
        while let Some((seq, a)) = s.next.filter(|(_, a)| a.t_ns < until_ns) {
            if taken == LEASE_MAX {
                break;
            }
            out.push_back((seq as u64, a));
            taken += 1;
            s.next = s.stream.next();
        }
        let head = s.next.map_or(u64::MAX, |(_, a)| a.t_ns);
        self.head.store(head, Ordering::Release);
        s.next.is_some()
    }

    /// Counts a request in flight, unless the bound is reached.
    pub fn admit(&self) -> bool {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) < self.max_in_flight {
            true
        } else {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            false
        }
    }

    /// A request admitted by [`Shared::admit`] ended.
    pub fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads the schedule ahead of the shards: how many requests would be in flight at once if
/// each took `window_ns` (Little's law over a sliding window, so a burst of N simultaneous
/// requests needs N, and steady traffic at rate λ needs λ x window).
pub(crate) struct Scout {
    stream: ArrivalStream,
    next: Option<u64>,
    /// Intended times from the last query on, in order.
    times: VecDeque<u64>,
}

/// The most arrival times the scout holds; at higher rates it looks less far ahead.
const SCOUT_MAX: usize = 1 << 20;

impl Scout {
    /// A scout over the schedule of `plan`.
    pub fn new(plan: &Plan) -> Scout {
        let mut stream = ArrivalStream::new(plan);
        let next = stream.next().map(|a| a.t_ns);
        Scout {
            stream,
            next,
            times: VecDeque::new(),
        }
    }

    /// The most arrivals within any span of `window_ns` that starts between `now_ns` and
    /// `now_ns + horizon_ns`.
    pub fn demand(&mut self, now_ns: u64, horizon_ns: u64, window_ns: u64) -> usize {
        let window_ns = window_ns.max(1);
        while self.times.front().is_some_and(|&t| t < now_ns) {
            self.times.pop_front();
        }
        let until = now_ns.saturating_add(horizon_ns).saturating_add(window_ns);
        while let Some(t) = self.next.filter(|&t| t < until) {
            if self.times.len() >= SCOUT_MAX {
                break;
            }
            if t >= now_ns {
                self.times.push_back(t);
            }
            self.next = self.stream.next().map(|a| a.t_ns);
        }
        let (mut most, mut end) = (0, 0);
        for (start, &t) in self.times.iter().enumerate() {
            if t > now_ns.saturating_add(horizon_ns) {
                break;
            }
            end = end.max(start);
            while self
                .times
                .get(end)
                .is_some_and(|&u| u < t.saturating_add(window_ns))
            {
                end += 1;
            }
            most = most.max(end - start);
        }
        most
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(toml: &str) -> Plan {
        Plan::parse(std::path::Path::new("t.toml"), toml).unwrap_or_else(|e| panic!("{e}"))
    }

    const STEADY_AND_BURST: &str = r#"
        name = "t"
        duration = "10s"
        [slo]
        latency = "1s"
        [traffic]
        arrival = "constant"
        [[traffic.shape]]
        kind = "steady"
        rate = 1000
        [[traffic.shape]]
        kind = "burst"
        requests = 100
        at = "5s"
        [service]
        time = "10ms"
        [cluster]
        billing = "replica"
        price_per_replica_hour = 0
        [[setup]]
        name = "fixed"
        [setup.fixed]
        replicas = 1
    "#;

    #[test]
    fn leases_hand_out_every_arrival_once_in_order() {
        let p = plan(STEADY_AND_BURST);
        let shared = Shared::new(&p, 10, 1, 0);
        let mut out = VecDeque::new();
        let mut until = 0;
        while shared.lease(until, &mut out) {
            until += LEASE_AHEAD;
        }
        let all: Vec<u64> = ArrivalStream::new(&p).map(|a| a.t_ns).collect();
        let got: Vec<u64> = out.iter().map(|(_, a)| a.t_ns).collect();
        assert_eq!(got, all);
        assert!(out.iter().enumerate().all(|(i, (seq, _))| *seq == i as u64));
        assert_eq!(shared.head(), u64::MAX);
    }

    #[test]
    fn the_in_flight_bound_admits_exactly_its_number() {
        let p = plan(STEADY_AND_BURST);
        let shared = Shared::new(&p, 3, 1, 0);
        assert_eq!((0..5).filter(|_| shared.admit()).count(), 3);
        shared.release();
        assert!(shared.admit());
        assert!(!shared.admit());
    }

    #[test]
    fn the_scout_sees_steady_demand_by_littles_law_and_a_burst_whole() {
        let p = plan(STEADY_AND_BURST);
        let mut scout = Scout::new(&p);
        let ms = 1_000_000;
        // 1000 rps for 10 ms each: 10 at once.
        let steady = scout.demand(0, 1000 * ms, 10 * ms);
        assert!((10..=11).contains(&steady), "{steady}");
        // A second ahead of the burst at 5 s: 100 at once on top of the steady ones.
        let burst = scout.demand(4200 * ms, 1000 * ms, ms);
        assert!(burst >= 100, "{burst}");
        // Past it: steady again.
        assert!(scout.demand(6000 * ms, 1000 * ms, 10 * ms) <= 11);
    }
}
