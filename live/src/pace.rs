//! How a sending thread waits for the next due instant without burning its core, and how busy
//! it really is.
//!
//! tokio's timer ticks in milliseconds, so a shard that must send at an instant to the
//! microsecond cannot sleep on it; spinning through the last milliseconds instead keeps a
//! whole core busy at any rate above a few hundred requests per second, a core the target
//! on the same machine may need. On Linux a shard arms a `timerfd` (nanosecond resolution,
//! with the thread's timer slack set to 1 µs) and waits for it in the same `epoll` as its
//! sockets, so it wakes when the instant comes or an answer arrives, whichever is first, and
//! uses CPU only for work. Elsewhere it falls back to tokio's timer with a short spin.
//!
//! [`Busy`] measures the share of time a thread wanted a core: its time on a core plus its time
//! waiting in the run queue for one (from `/proc/thread-self/schedstat`; its CPU time alone
//! where that file is missing), less the time it spun on purpose (waits shorter than [`SPIN`]),
//! over wall time. A thread that was never idle could not take more, whether its own work or
//! other processes on its cores kept it from it.

use std::time::{Duration, Instant};

/// Below this a wait is spun (the sockets polled every [`POLL_EVERY`]), not slept: arming the timer,
/// sleeping and waking cost tens of microseconds of CPU on a virtual machine (a context
/// switch and a timer interrupt), more than the wait itself.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// While a shard spins, it polls its sockets at most this often. Each poll is an `epoll_wait`
/// system call: polling in a tight loop made about seven of them per request at 100,000
/// requests per second, more kernel time than the requests' own sends and reads, and it took
/// the CPU a target on the same machine needed. An answer that arrives while the shard spins is
/// read at most this much later, so a latency can read at most this much too high: 1/50 of the
/// engine's own 1 ms bound on pacing lag.
pub(crate) const POLL_EVERY: Duration = Duration::from_micros(20);

/// A timer to the microsecond that waits alongside the sockets.
pub(crate) struct Pacer {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<linux::TimerFd>,
    /// The instant the timer is armed for, so an unchanged instant is not armed again.
    armed: Option<Instant>,
    /// How late wake-ups have come lately (a decaying maximum): a thread waits this much
    /// before its instant and polls the rest, so a busy machine's slow wake-ups do not make
    /// it late, while a quiet machine's prompt ones cost almost no polling.
    margin: Duration,
}

/// The most a shard polls before an instant.
const MAX_MARGIN: Duration = Duration::from_millis(2);

impl Pacer {
    /// A pacer for the calling thread (which must be inside a tokio runtime with I/O enabled).
    pub fn new() -> std::io::Result<Pacer> {
        #[cfg(target_os = "linux")]
        {
            linux::fine_timer_slack();
            // `with_interest` is deprecated because a registered fd could be closed by its
            // owner while tokio still watches it; here the AsyncFd owns the TimerFd, which
            // owns the fd, so it is closed only after it is deregistered. The sound
            // replacement (`register_with_interest`) is `unsafe`, which this workspace forbids.
            #[allow(deprecated)]
            Ok(Pacer {
                fd: tokio::io::unix::AsyncFd::with_interest(
                    linux::TimerFd::new()?,
                    tokio::io::Interest::READABLE,
                )?,
                armed: None,
                // Cautious until the first wake-ups tell how late they come.
                margin: MAX_MARGIN / 2,
            })
        }
        #[cfg(not(target_os = "linux"))]
        Ok(Pacer {
            armed: None,
            margin: MAX_MARGIN,
        })
    }

    /// Waits until `at` (or returns at once when it has passed). Cancel-safe: dropping the
    /// future leaves the timer armed, and the next wait for the same instant reuses it.
    pub async fn wait_until(&mut self, at: Instant) {
        let now = Instant::now();
        if at <= now {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            if self.armed != Some(at) {
                if self.fd.get_ref().arm(at - now).is_err() {
                    return tokio::time::sleep_until(at.into()).await;
                }
                self.armed = Some(at);
            }
            loop {
                let Ok(mut guard) = self.fd.readable().await else {
                    return tokio::time::sleep_until(at.into()).await;
                };
                let fired = guard.get_inner().expired();
                guard.clear_ready();
                let woke = Instant::now();
                if fired || woke >= at {
                    self.armed = None;
                    self.woke_late(woke.saturating_duration_since(at));
                    return;
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        tokio::time::sleep_until(at.into()).await;
    }

    /// How long before an instant to stop sleeping and poll instead.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// A wake-up came `late`: the margin follows the latest wake-ups, decaying slowly.
    #[cfg(target_os = "linux")]
    fn woke_late(&mut self, late: Duration) {
        let decayed = self.margin.mul_f64(0.98);
        self.margin = decayed.max(late + late / 2).min(MAX_MARGIN);
    }
}

/// A thread's busy share, measured over spans of a quarter second.
pub(crate) struct Busy {
    span_start: Instant,
    cpu_start: Option<Duration>,
    spun: Duration,
    /// The busy share of the last complete span.
    pub last: Option<f64>,
    /// The highest busy share of any complete span.
    pub peak: Option<f64>,
}

/// How long a busy span is: short enough that a run of a second has a few, long enough that
/// one slow poll does not make a thread look saturated.
const SPAN: Duration = Duration::from_millis(250);

impl Busy {
    /// Starts measuring the calling thread.
    pub fn start() -> Busy {
        Busy {
            span_start: Instant::now(),
            cpu_start: thread_demand(),
            spun: Duration::ZERO,
            last: None,
            peak: None,
        }
    }

    /// Time spent spinning on purpose, which is not work.
    pub fn spun(&mut self, d: Duration) {
        self.spun += d;
    }

    /// Closes the span when it is long enough; true when it did (`last` is new).
    pub fn tick(&mut self, now: Instant) -> bool {
        let wall = now.saturating_duration_since(self.span_start);
        if wall < SPAN {
            return false;
        }
        let cpu = thread_demand();
        if let (Some(end), Some(start)) = (cpu, self.cpu_start) {
            let work = end.saturating_sub(start).saturating_sub(self.spun);
            let share = (work.as_secs_f64() / wall.as_secs_f64()).clamp(0.0, 1.0);
            self.last = Some(share);
            self.peak = Some(self.peak.map_or(share, |p| p.max(share)));
        }
        self.span_start = now;
        self.cpu_start = cpu;
        self.spun = Duration::ZERO;
        true
    }
}

/// The calling thread's time on a core plus its time waiting for one, or its CPU time alone
/// where the kernel does not tell the wait.
fn thread_demand() -> Option<Duration> {
    schedstat().or_else(thread_cpu)
}

/// `/proc/thread-self/schedstat`: nanoseconds on a core, nanoseconds waiting in the run queue.
fn schedstat() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let (on_cpu, waiting) = (fields.next()??, fields.next()??);
    Some(Duration::from_nanos(on_cpu.saturating_add(waiting)))
}

/// The calling thread's CPU time, where the platform tells it.
fn thread_cpu() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        linux::thread_cpu()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The machine's idle CPU, in cores, between two readings of `/proc/stat`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuReading {
    idle: u64,
    total: u64,
}

impl CpuReading {
    /// Reads `/proc/stat` (Linux only; `None` elsewhere or when it cannot be read).
    pub fn now() -> Option<CpuReading> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal ...
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        let total = fields.iter().take(8).sum();
        Some(CpuReading { idle, total })
    }

    /// Idle cores from `earlier` to this reading.
    pub fn idle_cores_since(&self, earlier: &CpuReading, cores: usize) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let idle = self.idle.checked_sub(earlier.idle)?;
        (total > 0).then(|| idle as f64 / total as f64 * cores as f64)
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::num::NonZeroU64;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };

    /// A non-blocking monotonic timerfd.
    pub struct TimerFd(OwnedFd);

    impl TimerFd {
        pub fn new() -> io::Result<TimerFd> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            Ok(TimerFd(fd))
        }

        /// Fires once, `after` from now (at least 1 ns: zero would disarm it).
        pub fn arm(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1));
            let spec = Itimerspec {
                it_interval: Timespec::default(),
                it_value: Timespec {
                    tv_sec: after.as_secs() as i64,
                    tv_nsec: i64::from(after.subsec_nanos()) as _,
                },
            };
            timerfd_settime(&self.0, TimerfdTimerFlags::empty(), &spec)?;
            Ok(())
        }

        /// True when the timer fired since the last read (the read clears it).
        pub fn expired(&self) -> bool {
            let mut n = [0u8; 8];
            matches!(rustix::io::read(&self.0, &mut n), Ok(8)) && u64::from_ne_bytes(n) > 0
        }
    }

    impl AsRawFd for TimerFd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_raw_fd()
        }
    }

    /// Lets this thread's timers fire within a microsecond of their instant instead of the
    /// default 50 µs slack.
    pub fn fine_timer_slack() {
        let _ = rustix::thread::set_current_timer_slack(NonZeroU64::new(1000));
    }

    /// The calling thread's CPU time.
    pub fn thread_cpu() -> Option<Duration> {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Some(Duration::new(
            u64::try_from(ts.tv_sec).ok()?,
            u32::try_from(ts.tv_nsec).ok()?,
        ))
    }
}
