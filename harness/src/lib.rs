//! The drivers that turn a [`workloads::Plan`] into measured runs, the autoscaler policies they
//! share, and the report every driver produces.

pub mod autoscale;
pub mod figures;
pub mod record;
pub mod report;
pub mod run;
pub mod score;
pub mod sim;
pub mod stats;
pub mod sweep;
pub mod window_hist;
