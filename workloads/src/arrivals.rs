//! TEMPORARY stand-in (replaced by the real stream).
#![allow(missing_docs)]
use crate::Plan;
use crate::dist::Sampler;
use crate::traffic::Shape;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub t_ns: u64,
    pub class: u16,
    pub service_s: f64,
}
pub struct ArrivalStream {
    rng: Pcg64Mcg,
    t: f64,
    rate: f64,
    end: f64,
    svc: Sampler,
    rng2: Pcg64Mcg,
    bursts: Vec<(f64, u64)>,
}
impl ArrivalStream {
    pub fn new(plan: &Plan) -> Self {
        let mut rate = 0.0;
        let mut bursts = vec![];
        for s in &plan.traffic.shapes {
            match s {
                Shape::Steady { rate: r, .. } => rate += r.resolve(plan.capacity_rps),
                Shape::Burst { requests, at, .. } => bursts.push((at.as_secs_f64(), *requests)),
                _ => {}
            }
        }
        ArrivalStream {
            rng: Pcg64Mcg::seed_from_u64(plan.seed),
            rng2: Pcg64Mcg::seed_from_u64(plan.seed + 1),
            t: 0.0,
            rate,
            end: plan.duration.as_secs_f64(),
            svc: plan.service.time.sampler(),
            bursts,
        }
    }
}
impl Iterator for ArrivalStream {
    type Item = Arrival;
    fn next(&mut self) -> Option<Arrival> {
        if let Some(b) = self.bursts.first_mut() {
            if b.0 <= self.t || self.rate == 0.0 {
                b.1 -= 1;
                let t = b.0;
                if b.1 == 0 {
                    self.bursts.remove(0);
                }
                return Some(Arrival {
                    t_ns: (t * 1e9) as u64,
                    class: 0,
                    service_s: self.svc.sample_secs(&mut self.rng2),
                });
            }
        }
        if self.rate <= 0.0 {
            return None;
        }
        let u: f64 = self.rng.random::<f64>();
        self.t += -(1.0 - u).ln() / self.rate;
        if self.t >= self.end {
            return None;
        }
        Some(Arrival {
            t_ns: (self.t * 1e9) as u64,
            class: 0,
            service_s: self.svc.sample_secs(&mut self.rng2),
        })
    }
}
