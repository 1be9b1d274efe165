//! A config given as a value (the embedding library's builder) instead of a
//! file: the reloader reads it where it would read the file, so a value
//! config goes through the same rebuild, publish and status as a file does.

use std::path::Path;
use std::sync::{Arc, Mutex};

use switchboard_config::{Config, ConfigError};

/// A config held in memory, shared between the reloader and whoever may
/// replace it. Each replacement is a new generation: a reload over the same
/// generation is like a reload over a file's unchanged bytes (discovery runs
/// again; the version moves only if an API changed).
#[derive(Debug, Clone)]
pub struct ConfigValue {
    inner: Arc<Mutex<(Config, u64)>>,
}

impl ConfigValue {
    /// A value source starting at `config`.
    pub fn new(config: Config) -> ConfigValue {
        ConfigValue {
            inner: Arc::new(Mutex::new((config, 0))),
        }
    }

    /// Makes `config` what the next reload applies.
    pub fn replace(&self, config: Config) {
        let mut slot = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let generation = slot.1.wrapping_add(1);
        *slot = (config, generation);
    }

    /// The config and its generation, validated as a file would be
    /// (`label` names it in errors); the generation stands in for the file's
    /// hash.
    pub(crate) fn read(&self, label: &Path) -> Result<(Config, u64), Vec<ConfigError>> {
        let (config, generation) = self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        config.validate(label)?;
        Ok((config, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_starts_a_new_generation_and_is_validated_on_read() {
        let label = Path::new(switchboard_config::IN_CODE);
        let value = ConfigValue::new(Config::default());
        let (_, first) = value.read(label).unwrap();
        assert_eq!(value.read(label).unwrap().1, first);
        let mut bad = Config::default();
        bad.backends
            .push(switchboard_config::Backend::new("", ["127.0.0.1:1"]));
        value.replace(bad);
        let errors = value.read(label).unwrap_err();
        assert!(
            errors[0].message.contains("must not be empty"),
            "{errors:?}"
        );
        value.replace(Config::default());
        assert_ne!(value.read(label).unwrap().1, first);
    }
}
