//! The process's threading model (`runtime:`): how requests are spread over
//! threads. Read at startup only; a reload that changes it is reported in
//! `restart_required`.

/// `runtime:`: which threading model serves the public listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Runtime {
    /// `runtime.model`. Default [`RuntimeModel::Workers`]: it measured less
    /// CPU and fewer context switches per request than the shared model (see
    /// the README's "Worker model").
    pub model: RuntimeModel,
    /// `runtime.workers`: worker threads of the workers model; 0 (the default)
    /// is one per core (`std::thread::available_parallelism`). Ignored by the
    /// shared model.
    pub workers: usize,
}

/// `runtime.model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeModel {
    /// One multi-thread tokio runtime for everything (work stealing): a
    /// request may be read on one thread and its upstream connection driven
    /// on another. Kept for embedders and for comparison; opt in with
    /// `model: shared`.
    Shared,
    /// Envoy's / Pingora's worker model: N threads, each with its own
    /// single-thread runtime, its own `SO_REUSEPORT` accept loop and its own
    /// HTTP/2 connection to each endpoint, so a request never wakes another
    /// thread. The default.
    #[default]
    Workers,
}

impl RuntimeModel {
    /// The names `runtime.model` accepts, in documentation order.
    pub const NAMES: [&'static str; 2] = ["shared", "workers"];

    /// The model called `name` in YAML.
    pub fn from_name(name: &str) -> Option<RuntimeModel> {
        match name {
            "shared" => Some(RuntimeModel::Shared),
            "workers" => Some(RuntimeModel::Workers),
            _ => None,
        }
    }
}

impl Runtime {
    /// Worker threads the workers model starts: `workers`, or one per core
    /// when it is 0 (at least one). `None` for the shared model.
    pub fn worker_threads(&self) -> Option<usize> {
        match self.model {
            RuntimeModel::Shared => None,
            RuntimeModel::Workers if self.workers > 0 => Some(self.workers),
            RuntimeModel::Workers => Some(
                std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(1),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_resolve_zero_to_the_cores() {
        assert!(Runtime::default().worker_threads().is_some_and(|n| n >= 1));
        let shared = Runtime {
            model: RuntimeModel::Shared,
            workers: 2,
        };
        assert_eq!(shared.worker_threads(), None);
        let two = Runtime {
            model: RuntimeModel::Workers,
            workers: 2,
        };
        assert_eq!(two.worker_threads(), Some(2));
        let per_core = Runtime {
            model: RuntimeModel::Workers,
            workers: 0,
        };
        assert!(per_core.worker_threads().is_some_and(|n| n >= 1));
        for name in RuntimeModel::NAMES {
            assert!(RuntimeModel::from_name(name).is_some(), "{name}");
        }
        assert_eq!(RuntimeModel::from_name("Workers"), None);
    }
}
