//! What users watch: counters, `show`, Prometheus text, link events and captures. Reads the
//! state and the data path; the only thing it changes is the data path's capture switch.
pub mod capture;
pub mod counters;
pub mod delivery;
pub mod monitor;
pub mod prometheus;
pub mod show;
