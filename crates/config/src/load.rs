//! Reading YAML into [`Config`]: parsing, defaults and validation, each problem
//! reported with file:line:column. (Stub: to be implemented.)

use std::path::Path;

use crate::{Config, ConfigError};

/// Reads and validates a config file. All problems found are returned, not just the first.
pub fn load_file(path: &Path) -> Result<Config, Vec<ConfigError>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&text, path),
        Err(e) => Err(vec![ConfigError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: format!("cannot read config: {e}"),
        }]),
    }
}

/// Parses and validates YAML text; `file` is only used to label errors and resolve
/// relative paths.
pub fn parse_str(_text: &str, file: &Path) -> Result<Config, Vec<ConfigError>> {
    Err(vec![ConfigError {
        file: file.to_path_buf(),
        line: None,
        column: None,
        message: "not implemented".into(),
    }])
}
