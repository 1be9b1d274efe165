//! Validation of `runtime:` (see [`crate::Runtime`]): the model's name and the
//! worker count, each error pointing at its node.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validator::Validator;
use crate::{Runtime, RuntimeModel};

/// Upper bound of `runtime.workers`: far beyond any machine's cores, low
/// enough that a typo (`workers: 40000`) is an error instead of 40,000 threads.
const MAX_WORKERS: u64 = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRuntime {
    model: Option<Spanned<String>>,
    workers: Option<Spanned<u64>>,
}

impl Validator {
    pub(super) fn runtime(&mut self, raw: Option<RawRuntime>) -> Runtime {
        let defaults = Runtime::default();
        let Some(raw) = raw else { return defaults };
        let model = match raw.model {
            None => defaults.model,
            Some(m) => RuntimeModel::from_name(&m.value).unwrap_or_else(|| {
                self.error(
                    &m.referenced,
                    format!(
                        "runtime.model: unknown model `{}`; expected one of {}",
                        m.value,
                        RuntimeModel::NAMES.join(", ")
                    ),
                );
                defaults.model
            }),
        };
        let workers = match raw.workers {
            None => defaults.workers,
            Some(w) if w.value > MAX_WORKERS => {
                self.error(
                    &w.referenced,
                    format!(
                        "runtime.workers must be at most {MAX_WORKERS} (0: one per core), got {}",
                        w.value
                    ),
                );
                defaults.workers
            }
            Some(w) => w.value as usize,
        };
        Runtime { model, workers }
    }
}

#[cfg(test)]
mod tests {
    use crate::load::test_support::{errors, parse};
    use crate::{Runtime, RuntimeModel};

    #[test]
    fn defaults_to_the_workers_model_one_per_core() {
        let c = parse("{}").unwrap();
        assert_eq!(c.runtime, Runtime::default());
        assert_eq!(c.runtime.model, RuntimeModel::Workers);
        assert_eq!(c.runtime.workers, 0);
        let c = parse("runtime: {workers: 2}\n").unwrap();
        assert_eq!(c.runtime.model, RuntimeModel::Workers);
        assert_eq!(c.runtime.workers, 2);
    }

    #[test]
    fn every_key() {
        let c = parse("runtime:\n  model: workers\n  workers: 3\n").unwrap();
        assert_eq!(
            c.runtime,
            Runtime {
                model: RuntimeModel::Workers,
                workers: 3,
            }
        );
        let c = parse("runtime: {model: shared}\n").unwrap();
        assert_eq!(c.runtime.model, RuntimeModel::Shared);
    }

    #[test]
    fn bad_values_are_located_errors() {
        let e = errors("runtime:\n  model: threads\n");
        assert!(
            e.iter()
                .any(|e| e.contains("2:10") && e.contains("unknown model `threads`")),
            "{e:?}"
        );
        let e = errors("runtime:\n  workers: 5000\n");
        assert!(
            e.iter()
                .any(|e| e.contains("2:12") && e.contains("at most 1024")),
            "{e:?}"
        );
        let e = errors("runtime:\n  workers: -1\n");
        assert!(e.iter().any(|e| e.contains(":2:")), "{e:?}");
        let e = errors("runtime:\n  threads: 2\n");
        assert!(
            e.iter().any(|e| e.contains("unknown key `threads`")),
            "{e:?}"
        );
    }
}
