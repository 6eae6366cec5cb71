//! The embedded simulated cluster: a discrete-event simulation of an inference service on node
//! pools, in virtual time, bit-for-bit reproducible for a seed.

mod events;
mod queue;
