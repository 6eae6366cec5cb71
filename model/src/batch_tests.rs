//! The token model's continuous batching: step times, joins limited by the batch and the KV
//! cache, first tokens, inter-token gaps and the end of each request, against hand arithmetic.

use std::collections::BTreeMap;

use scalebench_core::llm::Tokens;

use crate::testing::{Script, parse};
use crate::{Dropped, Host, LlmState, Model, Request, SlotId, Timer};

const MS: u64 = 1_000_000;

/// A request with its tokens.
struct Ask {
    id: u32,
    intended: u64,
    tokens: Tokens,
}

impl Request for Ask {
    fn class(&self) -> u16 {
        0
    }
    fn intended(&self) -> u64 {
        self.intended
    }
    fn service_ns(&self) -> u64 {
        0
    }
    fn wanted(&self) -> bool {
        true
    }
    fn tokens(&self) -> Option<Tokens> {
        Some(self.tokens)
    }
}

/// Runs timers and writes down what the model tells it.
#[derive(Default)]
struct Log {
    due: BTreeMap<(u64, u64), Timer>,
    seq: u64,
    /// (ns, request) of each first token.
    first: Vec<(u64, u32)>,
    /// (ns, gap, continuing) of each step after which sequences continued.
    steps: Vec<(u64, u64, u32)>,
    /// (ns, request, n, last) of every token.
    tokens: Vec<(u64, u32, u32, bool)>,
    /// (ns, request) of each end.
    done: Vec<(u64, u32)>,
    served: u32,
    /// (ns, request, why) of each request dropped.
    dropped: Vec<(u64, u32, Dropped)>,
}

impl Host<Ask> for Log {
    fn schedule(&mut self, at: u64, timer: Timer) {
        self.seq += 1;
        self.due.insert((at, self.seq), timer);
    }
    fn serve(&mut self, _: u64, _: SlotId, _: &mut Ask, _: u64) {
        self.served += 1;
    }
    fn drop_request(&mut self, now: u64, w: Ask, why: Dropped) {
        self.dropped.push((now, w.id, why));
    }
    fn latency_sample(&mut self) -> Option<(f64, f64)> {
        None
    }
    fn first_token(&mut self, now: u64, _: SlotId, w: &mut Ask) {
        self.first.push((now, w.id));
    }
    fn decode_step(&mut self, now: u64, gap: u64, continuing: u32) {
        self.steps.push((now, gap, continuing));
    }
    fn token(&mut self, now: u64, _: SlotId, w: &mut Ask, n: u32, last: bool) {
        self.tokens.push((now, w.id, n, last));
    }
    fn done(&mut self, now: u64, w: Ask) {
        self.done.push((now, w.id));
    }
    const STREAMS: bool = true;
}

impl Log {
    fn run_until(&mut self, model: &mut Model<Ask>, end: u64) {
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

/// One replica: 20 ms steps plus 1 ms a further sequence, 0.1 ms a prompt token.
fn model(max_batch: u32, kv: u64) -> (Model<Ask>, Log) {
    let plan = parse(&format!(
        r#"
duration = "10m"
[slo]
latency = "10s"
[traffic]
[[traffic.shape]]
kind = "steady"
rate = 1
[traffic.tokens]
prompt = 100
output = 3
[service]
lifecycle = {{ schedule = "0s", start = "1s", load = "1s", grace_period = "1s" }}
[service.llm]
prefill_per_token = "0.1ms"
step = "20ms"
step_per_sequence = "1ms"
max_batch = {max_batch}
kv_cache_tokens = {kv}
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "s"
[setup.fixed]
replicas = 1
"#
    ));
    let mut log = Log::default();
    let mut m = Model::with_policy(
        &plan,
        &plan.setups[0],
        Box::new(Script(vec![(0.0, 1)])),
        &mut log,
    );
    m.start(&mut log);
    (m, log)
}

fn ask(id: u32, intended: u64, prompt: u32, output: u32) -> Ask {
    Ask {
        id,
        intended,
        tokens: Tokens { prompt, output },
    }
}

#[test]
fn sequences_join_at_step_boundaries_and_steps_grow_with_the_batch() {
    let (mut m, mut log) = model(8, 100_000);
    m.offer(0, ask(1, 0, 100, 3), &mut log);
    log.run_until(&mut m, 35 * MS);
    m.offer(35 * MS, ask(2, 35 * MS, 200, 2), &mut log);
    log.run_until(&mut m, 1_000 * MS);
    // A: prefill 10 ms + step 20 ms -> first token at 30 ms; a 20 ms step -> 50 ms. B waits
    // for that step to end; the next step holds both: 20 + 1 + 20 (B's prefill) = 41 ms -> 91
    // ms, A's last token and B's first; then B alone: 20 ms -> 111 ms.
    assert_eq!(log.first, vec![(30 * MS, 1), (91 * MS, 2)]);
    assert_eq!(
        log.steps,
        vec![
            (50 * MS, 20 * MS, 1),
            (91 * MS, 41 * MS, 1),
            (111 * MS, 20 * MS, 1)
        ]
    );
    assert_eq!(log.done, vec![(91 * MS, 1), (111 * MS, 2)]);
    assert_eq!(
        log.tokens,
        vec![
            (30 * MS, 1, 1, false),
            (50 * MS, 1, 2, false),
            (91 * MS, 1, 3, true),
            (91 * MS, 2, 1, false),
            (111 * MS, 2, 2, true),
        ]
    );
    assert_eq!(log.served, 0, "the token model steps the batch itself");
    assert_eq!(
        m.llm_state(),
        Some(LlmState {
            running: 0,
            waiting: 0,
            kv_cache_usage: 0.0
        })
    );
}

#[test]
fn the_kv_cache_holds_a_sequence_back_until_another_leaves() {
    // 500 tokens of cache: A reserves 100 + 3, B 400 + 2: together 505 > 500.
    let (mut m, mut log) = model(8, 500);
    m.offer(0, ask(1, 0, 100, 3), &mut log);
    m.offer(MS, ask(2, MS, 400, 2), &mut log);
    log.run_until(&mut m, 5 * MS);
    let st = m.llm_state().expect("an LLM");
    assert_eq!(
        (st.running, st.waiting),
        (1, 1),
        "B holds a slot, waiting to join"
    );
    assert!((st.kv_cache_usage - 103.0 / 500.0).abs() < 1e-12);
    assert_eq!(
        m.batch_waiting.get(),
        1,
        "a policy on the queue sees B waiting"
    );
    log.run_until(&mut m, 1_000 * MS);
    assert_eq!(m.batch_waiting.get(), 0);
    // B waited from 1 ms to 70 ms: 69 ms of one request waiting.
    assert_eq!(m.batch_waiting.integral(70 * MS), 69 * MS as u128);
    // A alone: 30, 50, 70 ms. Then B: 40 ms prefill + 20 ms -> 130 ms, 150 ms.
    assert_eq!(log.done, vec![(70 * MS, 1), (150 * MS, 2)]);
    assert_eq!(log.first, vec![(30 * MS, 1), (130 * MS, 2)]);
    // A sequence larger than the whole cache still runs, alone.
    let (mut m, mut log) = model(8, 50);
    m.offer(0, ask(3, 0, 100, 1), &mut log);
    log.run_until(&mut m, 1_000 * MS);
    assert_eq!(log.done, vec![(30 * MS, 3)]);
}

#[test]
fn a_full_batch_leaves_requests_in_the_queue_until_a_slot_frees() {
    let (mut m, mut log) = model(1, 100_000);
    m.offer(0, ask(1, 0, 100, 2), &mut log);
    m.offer(MS, ask(2, MS, 100, 1), &mut log);
    let st = m.llm_state().expect("an LLM");
    assert_eq!(
        (st.running, st.waiting),
        (1, 1),
        "B waits in the service's queue"
    );
    log.run_until(&mut m, 1_000 * MS);
    // A: 30, 50 ms; B then: 30 ms more.
    assert_eq!(log.done, vec![(50 * MS, 1), (80 * MS, 2)]);
}

#[test]
fn an_evicted_pod_finishes_its_batch_in_its_grace_period_or_loses_it() {
    use crate::PodPhase;
    let (mut m, mut log) = model(8, 100_000);
    m.offer(0, ask(1, 0, 100, 10), &mut log);
    m.offer(0, ask(2, 0, 100, 100), &mut log);
    log.run_until(&mut m, 35 * MS);
    m.evict_pod(35 * MS, 0, &mut log).expect("pod 0 serves");
    log.run_until(&mut m, 5_000 * MS);
    // Request 1 ends within the 1 s grace period; request 2 (100 tokens at about 21 ms) does
    // not, and fails with its pod: its step timers after that are stale and do nothing.
    assert_eq!(log.done.iter().map(|d| d.1).collect::<Vec<_>>(), vec![1]);
    assert_eq!(log.dropped, vec![(1_035 * MS, 2, Dropped::Killed)]);
    let first = m.pods().next().expect("pod 0");
    assert_eq!(first.phase, PodPhase::Gone);
    assert_eq!(m.batch_waiting.get(), 0);
    // The replacement serves the next request from the start.
    let ready = m
        .pods()
        .find(|p| p.phase == PodPhase::Ready)
        .expect("a replacement")
        .id;
    assert_ne!(ready, 0);
    m.offer(5_000 * MS, ask(3, 5_000 * MS, 100, 1), &mut log);
    log.run_until(&mut m, 6_000 * MS);
    assert_eq!(log.done.last(), Some(&(5_030 * MS, 3)));
}
