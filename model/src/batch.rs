//! The token model's continuous batching, per pod (see `scalebench_core::llm` for the model).
//!
//! With `[service.llm]` a pod's concurrency slots are its batch's places: a request routed to a
//! pod takes a slot at once and waits there to *join* the batch (vLLM's per-engine waiting
//! queue) until a step starts with room for it, in the batch and in the KV cache. A pod runs
//! one step at a time: at its start the waiting sequences join in order while they fit; its
//! length is `step(batch) + prefill of those that joined`, divided by the pod's speed; at its
//! end every sequence in the batch has one more token (the first one for those that joined),
//! those with all their tokens leave (their slot and KV reservation are freed and the host
//! gets the request back through [`Host::done`]), and the next step starts if anything is
//! left. A sequence that alone needs more KV cache than a replica has joins an empty batch
//! (the cache is a bound on sharing, not a reason to refuse a request the scenario made).

use std::collections::VecDeque;

use scalebench_core::llm::{TokenModel, Tokens};

use crate::pods::PodPhase;
use crate::{Host, Model, Request, SlotId, Timer};

/// A sequence in a pod's batch.
#[derive(Debug, Clone, Copy)]
struct Seq {
    slot: u32,
    /// Tokens it still has to produce.
    left: u32,
    /// Tokens it has produced.
    made: u32,
    /// KV-cache tokens it holds.
    kv: u64,
}

/// One pod's batching state. Empty (and allocation-free) for a pod that serves no LLM.
#[derive(Debug, Clone, Default)]
pub(crate) struct Batch {
    running: Vec<Seq>,
    /// Slots whose request waits to join, oldest first.
    waiting: VecDeque<u32>,
    kv_used: u64,
    /// When the step in progress started, if one is.
    step_started: Option<u64>,
    /// Sequences that joined at the step in progress (the first `joined` of `running`'s tail).
    joined: u32,
    /// Set while a step's end is handled, so that requests the freed slots take from the
    /// queue wait for the next step rather than start one inside it.
    ending: bool,
}

impl Batch {
    /// Sequences decoding now.
    pub(crate) fn running(&self) -> u32 {
        self.running.len() as u32
    }

    /// Requests holding a slot but waiting to join the batch.
    pub(crate) fn waiting(&self) -> u32 {
        self.waiting.len() as u32
    }

    /// KV-cache tokens reserved.
    pub(crate) fn kv_used(&self) -> u64 {
        self.kv_used
    }
}

/// A request's token counts under the token model; one output token at least.
#[inline]
fn tokens_of<W: Request>(w: &W) -> Tokens {
    let t = w.tokens().unwrap_or(Tokens {
        prompt: 0,
        output: 1,
    });
    Tokens {
        prompt: t.prompt,
        output: t.output.max(1),
    }
}

impl<W: Request> Model<W> {
    /// A request took `slot` of `pod` under the token model: it waits to join the batch.
    pub(crate) fn join_batch(&mut self, pod: u32, slot: u32, host: &mut impl Host<W>) {
        self.batch_waiting.add(self.now, 1);
        let b = &mut self.pods[pod as usize].batch;
        b.waiting.push_back(slot);
        if b.step_started.is_none() && !b.ending {
            self.start_step(pod, host);
        }
    }

    /// Starts `pod`'s next step if it has anything to decode.
    fn start_step(&mut self, pod: u32, host: &mut impl Host<W>) {
        let Some(m) = self.llm else { return };
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        let b = &mut p.batch;
        let mut prefill = 0u64;
        let mut joined = 0;
        while let Some(&slot) = b.waiting.front() {
            if b.running.len() as u32 >= m.max_batch {
                break;
            }
            let Some(w) = p.slots.get(slot as usize).and_then(|s| s.req.as_ref()) else {
                // Its request is gone (cannot happen while the pod lives; be safe).
                b.waiting.pop_front();
                self.batch_waiting.sub(now, 1);
                continue;
            };
            let t = tokens_of(w);
            let kv = TokenModel::kv_tokens(t);
            if !b.running.is_empty() && b.kv_used + kv > m.kv_cache_tokens {
                break;
            }
            b.waiting.pop_front();
            b.kv_used += kv;
            prefill += m.prefill_ns(t.prompt);
            b.running.push(Seq {
                slot,
                left: t.output,
                made: 0,
                kv,
            });
            joined += 1;
        }
        if joined > 0 {
            self.batch_waiting.sub(now, u64::from(joined));
        }
        if b.running.is_empty() {
            b.step_started = None;
            return;
        }
        let work = m.step_ns(b.running.len() as u32) + prefill;
        let speed = p.speed * self.settings.speed;
        let ns = if speed == 1.0 {
            work
        } else {
            (work as f64 / speed + 0.5) as u64
        };
        b.step_started = Some(now);
        b.joined = joined;
        host.schedule(now + ns.max(1), Timer::Step { pod });
    }

    /// `pod`'s step ends now: one token for every sequence in its batch.
    pub(crate) fn step_done<H: Host<W>>(&mut self, pod: u32, host: &mut H) {
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        if p.state == PodPhase::Gone {
            return;
        }
        let Some(started) = p.batch.step_started.take() else {
            return;
        };
        let b = &mut p.batch;
        b.ending = true;
        let first_new = b.running.len() - b.joined as usize;
        let mut continuing = 0u32;
        let mut finished = Vec::new();
        for (i, s) in b.running.iter_mut().enumerate() {
            s.left -= 1;
            s.made += 1;
            let slot = &mut p.slots[s.slot as usize];
            let id = SlotId {
                pod,
                slot: s.slot,
                token: slot.token,
            };
            if let Some(w) = slot.req.as_mut() {
                if i >= first_new {
                    host.first_token(now, id, w);
                } else {
                    continuing += 1;
                }
                if H::STREAMS {
                    host.token(now, id, w, s.made, s.left == 0);
                }
            }
            if s.left == 0 {
                finished.push(id);
            }
        }
        if continuing > 0 {
            host.decode_step(now, now - started, continuing);
        }
        if !finished.is_empty() {
            let b = &mut self.pods[pod as usize].batch;
            let mut freed = 0;
            b.running.retain(|s| {
                let done = s.left == 0;
                if done {
                    freed += s.kv;
                }
                !done
            });
            b.kv_used -= freed;
            for id in finished {
                if let Some(w) = self.finish(now, id, host) {
                    host.done(now, w);
                }
            }
        }
        let p = &mut self.pods[pod as usize];
        if p.state != PodPhase::Gone {
            p.batch.ending = false;
            self.start_step(pod, host);
        }
    }
}
