//! What every driver measures and every report reads: the Run of one setup and its Recorder and
//! histograms, the score that ranks the setups, `report.json` and its figures, the statistics of
//! repeated runs, and a sweep's results.

pub mod drive;
pub mod record;
pub mod repeat;
pub mod report;
pub mod run;
pub mod score;
pub mod stats;
pub mod sweep;
pub mod window_hist;
