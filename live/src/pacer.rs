//! Holding the schedule to well under a millisecond. Tokio's timers tick in milliseconds, and a
//! pacer that only sleeps on them either falls behind or sends requests in bunches; so a
//! dedicated thread sleeps (with the OS timer) until [`SPIN`] before each due instant and spins
//! for the rest. When it falls behind, it sends every request that is due at once and never
//! skips one: the lag it could not avoid is measured, not hidden.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long before a due instant the pacer stops sleeping and starts spinning: more than the
/// usual oversleep of a Linux `nanosleep`.
pub const SPIN: Duration = Duration::from_micros(300);

/// Calls `send(item)` for every `(due_ns, item)` of `schedule` at `start + due_ns`, in order,
/// until the schedule ends or `cancel` is set. Returns the items sent.
pub fn pace<T>(
    schedule: impl IntoIterator<Item = (u64, T)>,
    start: Instant,
    cancel: &AtomicBool,
    mut send: impl FnMut(T),
) -> u64 {
    let mut sent = 0;
    for (due_ns, item) in schedule {
        let due = start + Duration::from_nanos(due_ns);
        loop {
            if cancel.load(Ordering::Relaxed) {
                return sent;
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            let left = due - now;
            if left > SPIN {
                // Sleep in slices so that a cancel is seen within 50 ms.
                std::thread::sleep((left - SPIN).min(Duration::from_millis(50)));
            } else {
                std::hint::spin_loop();
            }
        }
        send(item);
        sent += 1;
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_in_order_never_early_and_stops_on_cancel() {
        let start = Instant::now();
        let schedule = (0..20u64).map(|i| (i * 2_000_000, i));
        let cancel = AtomicBool::new(false);
        let mut seen = Vec::new();
        let n = pace(schedule, start, &cancel, |i| {
            seen.push((i, start.elapsed()));
        });
        assert_eq!(n, 20);
        for (i, at) in &seen {
            assert!(
                *at >= Duration::from_millis(2 * i),
                "{i} sent early at {at:?}"
            );
        }
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
        let cancel = AtomicBool::new(true);
        let n = pace((0..5u64).map(|i| (i, i)), Instant::now(), &cancel, |_| {});
        assert_eq!(n, 0);
    }
}
