//! Error reporting: a message located at `file:line:column`, YAML parser errors
//! rephrased, and "did you mean" suggestions by edit distance.

use std::path::Path;

use serde_saphyr::{Location, MessageFormatter};

use crate::ConfigError;

pub(super) fn pos(l: &Location) -> (u64, u64) {
    (l.line(), l.column())
}

pub(super) fn located(file: &Path, at: Option<&Location>, message: String) -> ConfigError {
    // serde-saphyr uses line 0 for "unknown".
    let at = at.filter(|l| l.line() > 0);
    ConfigError {
        file: file.to_path_buf(),
        line: at.map(|l| l.line() as usize),
        column: at.map(|l| l.column() as usize),
        message,
    }
}

pub(super) fn yaml_error(err: &serde_saphyr::Error, file: &Path) -> ConfigError {
    located(file, err.location().as_ref(), yaml_message(err))
}

/// Rewords the errors users actually hit; anything else keeps serde-saphyr's wording
/// (without its location suffix and snippet, since we render our own location).
pub(super) fn yaml_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match err.without_snippet() {
        E::AliasError { error, .. } => yaml_message(error),
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut msg = format!("unknown key `{field}`");
            if let Some(near) = did_you_mean(field, expected) {
                msg += &format!(" (did you mean `{near}`?)");
            }
            msg + &format!("; allowed keys here: {}", expected.join(", "))
        }
        E::SerdeMissingField { field, .. } => format!("missing required key `{field}`"),
        E::DuplicateMappingKey { key: Some(k), .. } => format!("duplicate key `{k}`"),
        E::Unexpected { expected, .. } => match *expected {
            "mapping start" => "expected a mapping (`key: value` pairs)".into(),
            "sequence start" => "expected a list".into(),
            "string scalar" => "expected a string".into(),
            other => format!("expected {other}"),
        },
        E::InvalidScalar { ty, .. } => match *ty {
            "u64" | "usize" => "expected a whole number of bytes (0 to 2^64-1)".into(),
            "bool" | "boolean" => "expected `true` or `false`".into(),
            other => format!("invalid value, expected {other}"),
        },
        E::NullIntoString { .. } => "expected a string, found nothing (null)".into(),
        other => serde_saphyr::DefaultMessageFormatter
            .format_message(other)
            .into_owned(),
    }
}

/// The allowed key closest to `typo`, if it is plausibly a typo or a truncation.
pub(super) fn did_you_mean<'a>(typo: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|&k| {
            let truncated = typo.len() >= 3 && k.starts_with(typo);
            (if truncated { 0 } else { edit_distance(typo, k) }, k)
        })
        .filter(|&(d, k)| d <= 2.max(k.len() / 4))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = (prev + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = cur;
        }
    }
    row[b.len()]
}
