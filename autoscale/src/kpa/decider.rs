//! The KPA decider: a port of knative/serving `pkg/autoscaler/scaling/autoscaler.go`
//! (`newAutoscaler` and `(*autoscaler).Scale`), with the scale-down delay of
//! `pkg/autoscaler/aggregation/max/timewindow.go`.

use std::collections::VecDeque;

use scalebench_core::policy::KpaConfig;

/// `autoscaling.TargetMin`: the smallest target value Knative resolves to.
const TARGET_MIN: f64 = 0.01;

/// The recommendation state of one revision (Knative's `autoscaler` struct and `DeciderSpec`).
#[derive(Debug, Clone)]
pub(crate) struct Decider {
    /// TargetValue: target x target utilization (`ResolveMetricTarget`).
    target: f64,
    max_scale_up_rate: f64,
    max_scale_down_rate: f64,
    /// PanicThreshold as a fraction (`panic-threshold-percentage / 100`, `MakeDecider`).
    panic_threshold: f64,
    /// StableWindow in seconds.
    stable_window: f64,
    activation_scale: u32,
    /// When panic mode last (re)triggered; `None` when not panicking (`panicTime.IsZero()`).
    panic_time: Option<f64>,
    /// The most pods asked for during this panic.
    max_panic_pods: u32,
    /// Recent recommendations when scale-down-delay > 0 (`delayWindow`).
    delay: Option<DelayWindow>,
}

impl Decider {
    /// The decider for a KPA's settings, not panicking.
    pub(crate) fn new(c: &KpaConfig) -> Self {
        let delay = c.scale_down_delay.as_secs_f64();
        Decider {
            target: (c.target * c.target_utilization / 100.0).max(TARGET_MIN),
            max_scale_up_rate: c.max_scale_up_rate,
            max_scale_down_rate: c.max_scale_down_rate,
            panic_threshold: c.panic_threshold_percentage / 100.0,
            stable_window: c.stable_window.as_secs_f64(),
            activation_scale: c.activation_scale,
            panic_time: None,
            max_panic_pods: 0,
            delay: (delay > 0.0).then(|| DelayWindow::new(delay)),
        }
    }

    /// `newAutoscaler`: a decider created over more than one ready pod starts in panic mode, so
    /// that it holds the current scale until it has seen enough metrics.
    pub(crate) fn start(&mut self, now: f64, ready: u32) {
        if ready > 1 {
            self.panic_time = Some(now);
        }
        self.max_panic_pods = ready;
    }

    /// True while in panic mode.
    pub(crate) fn in_panic(&self) -> bool {
        self.panic_time.is_some()
    }

    /// `Scale`: the pods wanted for the observed stable and panic values, given the ready pods.
    pub(crate) fn scale(&mut self, now: f64, stable: f64, panic: f64, ready: u32) -> u32 {
        // "Use 1 if there are zero current pods."
        let ready = f64::from(ready.max(1));
        let max_scale_up = (self.max_scale_up_rate * ready).ceil();
        // Reachable is always true here: the scenario routes its traffic to this revision.
        let max_scale_down = (ready / self.max_scale_down_rate).floor();

        let dspc = (stable / self.target).ceil();
        let dppc = (panic / self.target).ceil();
        let clamp = |x: f64| x.max(max_scale_down).min(max_scale_up) as u32;
        let mut desired_stable = clamp(dspc);
        let mut desired_panic = clamp(dppc);

        if self.activation_scale > 1 {
            if dspc > 0.0 && self.activation_scale > desired_stable {
                desired_stable = self.activation_scale;
            }
            if dppc > 0.0 && self.activation_scale > desired_panic {
                desired_panic = self.activation_scale;
            }
        }

        let over_threshold = dppc / ready >= self.panic_threshold;
        if over_threshold {
            // Begin panicking, or extend the panic window while still over the threshold.
            self.panic_time = Some(now);
        } else if self
            .panic_time
            .is_some_and(|t| t + self.stable_window < now)
        {
            // The surge has made its way into the stable metric: un-panic.
            self.panic_time = None;
            self.max_panic_pods = 0;
        }

        let mut desired = desired_stable;
        if self.panic_time.is_some() {
            // Provision for the larger of the two, and never scale down while panicking.
            desired = desired.max(desired_panic);
            self.max_panic_pods = self.max_panic_pods.max(desired);
            desired = self.max_panic_pods;
        }

        if let Some(w) = &mut self.delay {
            w.record(now, desired);
            desired = w.current();
        }
        desired
    }
}

/// The largest recommendation of the last scale-down-delay (Knative's `max.TimeWindow`).
#[derive(Debug, Clone)]
struct DelayWindow {
    length: f64,
    /// (time, recommendation), oldest first.
    entries: VecDeque<(f64, u32)>,
}

impl DelayWindow {
    fn new(length: f64) -> Self {
        DelayWindow {
            length,
            entries: VecDeque::new(),
        }
    }

    fn record(&mut self, now: f64, value: u32) {
        self.entries.push_back((now, value));
        while self
            .entries
            .front()
            .is_some_and(|&(t, _)| t <= now - self.length)
        {
            self.entries.pop_front();
        }
    }

    fn current(&self) -> u32 {
        self.entries.iter().map(|&(_, v)| v).max().unwrap_or(0)
    }
}
