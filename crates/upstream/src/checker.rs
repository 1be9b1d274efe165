//! A backend's health-check settings and the handle of a running check, as the
//! endpoint keeps it: a leaf, so the endpoint (which holds a [`Checker`]) and the
//! check loop in `health` (which reads and marks the endpoint) do not import
//! each other.

use std::time::Duration;

/// Active health-check settings of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Time between checks of one endpoint.
    pub interval: Duration,
    /// Deadline of one check.
    pub timeout: Duration,
    /// Passing checks in a row that make an unhealthy endpoint healthy again.
    pub healthy_threshold: u32,
    /// Failing checks in a row that take an endpoint out of rotation.
    pub unhealthy_threshold: u32,
    /// Service name sent in the request; empty asks about the server as a whole.
    pub service: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            healthy_threshold: 1,
            unhealthy_threshold: 2,
            service: String::new(),
        }
    }
}

/// A running check; aborting on drop means replacing or removing the checker
/// stops the task.
#[derive(Debug)]
pub(crate) struct Checker {
    /// The settings the task runs with (an unchanged config keeps the task).
    pub(crate) config: HealthCheckConfig,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
