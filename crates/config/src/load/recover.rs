//! Reporting every unknown key and mistyped value of a file, not just the first.
//!
//! serde stops at the first error it meets, so a file with seven mistakes used to
//! print one. Here each such error (an unknown key, a value of the wrong type) is
//! recorded and the mapping entry it points at is blanked out of the text, spaces
//! for characters and newlines kept, so every later line keeps its line and
//! column; then the text is parsed again. The last parse, over a text with every
//! bad entry removed, feeds the semantic checks, which report the values that are
//! well-typed but invalid. YAML syntax errors, and errors inside flow collections
//! (`{a: 1, b: 2}` on one line), cannot be cut out this way: parsing stops there.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::ConfigError;

/// At most this many errors are collected before giving up (each costs a parse).
const MAX_ERRORS: usize = 100;

/// Parses `text` as `T`, collecting every recoverable serde error on the way.
/// `None` when the last error could not be cut out of the text.
pub(super) fn parse<T: DeserializeOwned>(text: &str, file: &Path) -> (Option<T>, Vec<ConfigError>) {
    let mut text = text.to_string();
    let mut errors = Vec::new();
    loop {
        let err = match serde_saphyr::from_str::<T>(&text) {
            Ok(value) => return (Some(value), errors),
            Err(e) => e,
        };
        errors.push(super::yaml_error(&err, file));
        let at = err
            .location()
            .map(|l| (l.line() as usize, l.column() as usize));
        let cut = match at {
            Some((line, column)) if recoverable(&err) && errors.len() < MAX_ERRORS => {
                blank_entry(&text, line, column)
            }
            _ => None,
        };
        match cut {
            Some(cleaned) if cleaned != text => text = cleaned,
            _ => return (None, errors),
        }
    }
}

/// Errors about one entry's key or value, which removing the entry resolves.
fn recoverable(err: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    match err.without_snippet() {
        E::AliasError { error, .. } => recoverable(error),
        E::SerdeUnknownField { .. }
        | E::InvalidScalar { .. }
        | E::NullIntoString { .. }
        | E::Unexpected { .. } => true,
        _ => false,
    }
}

/// `text` with the block-mapping entry at `line`:`column` (1-based; the key's or
/// the value's position) replaced by spaces: from its key to the end of the line,
/// and every following line indented deeper than the key (its nested value).
/// `None` when the position is not in a block mapping entry.
fn blank_entry(text: &str, line: usize, column: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let target = *lines.get(line.checked_sub(1)?)?;
    let chars: Vec<char> = target.chars().collect();
    // The key starts after the indentation and any `- ` sequence markers.
    let mut key = 0;
    loop {
        while key < chars.len() && chars[key] == ' ' {
            key += 1;
        }
        if key + 1 < chars.len() && chars[key] == '-' && chars[key + 1] == ' ' {
            key += 1;
            continue;
        }
        break;
    }
    let at = column.checked_sub(1)?;
    if at < key || key >= chars.len() {
        return None;
    }
    // Between the key and the error there must be no flow collection.
    if chars[key..at.min(chars.len())]
        .iter()
        .any(|c| matches!(c, '{' | '[' | ','))
    {
        return None;
    }
    // The entry's nested value: the run of following lines indented deeper.
    let nested_end = line
        + lines[line..]
            .iter()
            .take_while(|l| nested_under(l, key))
            .count();
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i + 1 == line {
            out.extend(chars[..key].iter());
            out.extend(std::iter::repeat_n(' ', chars.len() - key));
        } else if i + 1 > line && i < nested_end {
            out.extend(std::iter::repeat_n(' ', l.chars().count()));
        } else {
            out.push_str(l);
        }
    }
    Some(out)
}

/// True when `line`, following an entry whose key is at `key`, is blank or
/// indented deeper than the key (part of the entry's value).
fn nested_under(line: &str, key: usize) -> bool {
    let rest = line.trim_start_matches(' ');
    rest.is_empty() || line.len() - rest.len() > key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_an_entry_and_its_nested_lines_keeping_positions() {
        let text = "a: 1\nbogus:\n  x: 1\n  y: 2\nb: 2\n";
        let out = blank_entry(text, 2, 1).unwrap();
        assert_eq!(out, "a: 1\n      \n      \n      \nb: 2\n");
    }

    #[test]
    fn blanks_a_first_key_after_a_sequence_marker() {
        let text = "l:\n  - bogus: 1\n    name: a\n";
        let out = blank_entry(text, 2, 5).unwrap();
        assert_eq!(out, "l:\n  -         \n    name: a\n");
    }

    #[test]
    fn blanks_from_the_key_for_a_value_error() {
        let text = "limits:\n  max_body_bytes: lots\n";
        let out = blank_entry(text, 2, 19).unwrap();
        assert_eq!(out, "limits:\n                      \n");
    }

    #[test]
    fn refuses_flow_collections() {
        assert!(blank_entry("limits: {a: 1, bogus: 2}\n", 1, 16).is_none());
    }
}
