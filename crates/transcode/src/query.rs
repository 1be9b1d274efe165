//! Query parameters into the request message, following grpc-gateway v2's
//! `runtime.PopulateQueryParameters` (runtime/query.go, `DefaultQueryParser`) and
//! Go's `url.ParseQuery`.
//!
//! - The query is split on `&`; a `;` in a pair is an error (Go >= 1.17); each key
//!   and value is percent-decoded with `+` as space; a bad `%` escape is an error.
//! - A key is a dotted field path (`a.b.c`); each segment is matched by proto name,
//!   then by json name. Intermediate segments must be singular message fields.
//! - `key[sub]=v` (map syntax): the bracket content is prepended to the key's values,
//!   so a map field gets exactly `[sub, v]` (any other count is an error).
//! - Repeated fields take every value of their key, in order; a singular field given
//!   more than one value under the same key is an error.
//! - Setting a field of a oneof that already has another member set is an error.
//! - Parameters whose path starts with the body field or a path-variable field are
//!   ignored, as grpc-gateway's generated filter does.
//! - Unknown parameters are ignored (grpc-gateway logs them), unless `strict`.
//!
//! Go groups a key's values in a map before populating; we process pairs in query
//! order and count same-key pairs where grouping would matter, which gives the same
//! results without building the map.

use std::borrow::Cow;

use percent_encoding::percent_decode;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage as _, Value};

use crate::parse::{Syntax, parse_any_kind, parse_scalar};
use crate::{BodyPlan, JsonOptions, MethodPlan, TranscodeError};

pub(crate) fn populate(
    msg: &mut DynamicMessage,
    plan: &MethodPlan,
    opts: &JsonOptions,
    query: &str,
) -> Result<(), TranscodeError> {
    // Decode everything first: Go's ParseQuery reports a bad escape anywhere in the
    // query, even in a parameter that would later be ignored.
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for part in query.split('&') {
        if part.contains(';') {
            return Err(TranscodeError(
                "invalid semicolon separator in query".into(),
            ));
        }
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((unescape(k)?, unescape(v)?));
    }

    let mut chain: Vec<FieldDescriptor> = Vec::new();
    for (i, (raw_key, value)) in pairs.iter().enumerate() {
        // `key[sub]`: Go's regexp `^(.*)\[(.*)\]$` (greedy: the last '[').
        let (key, bracket) = match raw_key
            .strip_suffix(']')
            .and_then(|k| k.rfind('[').map(|p| (k, p)))
        {
            Some((k, p)) => (&k[..p], Some(&k[p + 1..])),
            None => (&raw_key[..], None),
        };
        let same_key = || pairs.iter().filter(|(k, _)| k == raw_key).count();
        let first_of_key = !pairs[..i].iter().any(|(k, _)| k == raw_key);

        chain.clear();
        let resolved = resolve(msg, key, &mut chain);
        // The filter applies before any error about the path, as in grpc-gateway.
        if is_filtered(plan, &chain) {
            continue;
        }
        match resolved {
            Resolved::Field => {}
            Resolved::Unknown if !opts.strict => continue,
            Resolved::Unknown => {
                return Err(TranscodeError(format!("unknown query parameter {key:?}")));
            }
            Resolved::NotMessage(part) => {
                return Err(TranscodeError(format!(
                    "invalid path: {part:?} is not a message"
                )));
            }
            Resolved::WellKnown(part, type_name) => {
                return Err(TranscodeError(format!(
                    "invalid path: {part:?} is a {type_name}, whose fields cannot be set one by one \
                     (query parameter {key:?})"
                )));
            }
        }
        let leaf = chain.last().expect("resolved chain is non-empty").clone();

        // Walk to the message holding the leaf, checking oneofs on the way.
        let mut target: &mut DynamicMessage = msg;
        for field in &chain[..chain.len() - 1] {
            check_oneof(target, field)?;
            target = match target.get_field_mut(field) {
                Value::Message(m) => m,
                _ => unreachable!("resolve checked intermediate fields"),
            };
        }
        check_oneof(target, &leaf)?;

        let err = |e: String| TranscodeError(format!("parsing field {:?}: {e}", leaf.name()));
        if leaf.is_map() {
            // Values are [bracket, v...]: exactly one pair of `key[sub]=v` is valid.
            let (Some(sub), 1) = (bracket, same_key()) else {
                return Err(TranscodeError(format!(
                    "more than one value provided for key {:?} in map {:?}",
                    bracket.unwrap_or(value),
                    leaf.full_name()
                )));
            };
            let Kind::Message(entry) = leaf.kind() else {
                unreachable!("map fields have message kind")
            };
            let k = parse_scalar(&entry.map_entry_key_field().kind(), sub, Syntax::Query)
                .map_err(err)?;
            let k = map_key(k).ok_or_else(|| err("invalid map key".into()))?;
            let v = parse_any_kind(&entry.map_entry_value_field().kind(), value, Syntax::Query)
                .map_err(err)?;
            if let Value::Map(m) = target.get_field_mut(&leaf) {
                m.insert(k, v);
            }
        } else if leaf.is_list() {
            let kind = leaf.kind();
            let mut items = Vec::with_capacity(2);
            if let (Some(sub), true) = (bracket, first_of_key) {
                items.push(parse_any_kind(&kind, sub, Syntax::Query).map_err(err)?);
            }
            items.push(parse_any_kind(&kind, value, Syntax::Query).map_err(err)?);
            if let Value::List(list) = target.get_field_mut(&leaf) {
                list.extend(items);
            }
        } else {
            if bracket.is_some() || same_key() > 1 {
                // Go groups a key's values (`key[sub]` contributes `sub` first).
                let values: Vec<&str> = bracket
                    .into_iter()
                    .chain(
                        pairs
                            .iter()
                            .filter(|(k, _)| k == raw_key)
                            .map(|(_, v)| &v[..]),
                    )
                    .collect();
                return Err(TranscodeError(format!(
                    "too many values for field {:?}: {}",
                    leaf.name(),
                    values.join(", ")
                )));
            }
            let v = parse_any_kind(&leaf.kind(), value, Syntax::Query).map_err(err)?;
            target.set_field(&leaf, v);
        }
    }
    Ok(())
}

/// How far a dotted key resolved.
enum Resolved<'k> {
    /// Every segment names a field; intermediate ones are singular messages.
    Field,
    /// Some segment names no field (grpc-gateway ignores the parameter).
    Unknown,
    /// This non-final segment is not a singular message field (an error).
    NotMessage(&'k str),
    /// This non-final segment is a well-known type with its own JSON form
    /// (`any.type_url`, `value.null_value`): an error, since its fields are
    /// the type's internals, not API fields (the OpenAPI document does not
    /// offer them either).
    WellKnown(&'k str, String),
}

/// Resolves a dotted key into `chain`, which holds the resolved prefix when
/// resolution stops early (the filter still applies to it).
fn resolve<'k>(
    msg: &DynamicMessage,
    key: &'k str,
    chain: &mut Vec<FieldDescriptor>,
) -> Resolved<'k> {
    let mut desc = msg.descriptor();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(field) = desc
            .get_field_by_name(part)
            .or_else(|| desc.get_field_by_json_name(part))
        else {
            return Resolved::Unknown;
        };
        let last = parts.peek().is_none();
        let next = match field.kind() {
            Kind::Message(m) if !field.is_list() && !field.is_map() => Some(m),
            _ => None,
        };
        chain.push(field);
        if !last {
            match next {
                Some(m) if crate::plan::is_json_well_known(&m) => {
                    return Resolved::WellKnown(part, m.full_name().to_owned());
                }
                Some(m) => desc = m,
                None => return Resolved::NotMessage(part),
            }
        }
    }
    Resolved::Field
}

/// grpc-gateway's filter: the body field and every path-variable field path; a
/// parameter is ignored if one of them is a prefix of its (resolved) path.
fn is_filtered(plan: &MethodPlan, chain: &[FieldDescriptor]) -> bool {
    if let BodyPlan::Field(body) = &plan.body {
        let n = plan.body_parents.len();
        if chain.len() > n && chain[..n] == plan.body_parents[..] && chain[n] == *body {
            return true;
        }
    }
    plan.path_fields
        .iter()
        .any(|p| !p.0.is_empty() && chain.starts_with(&p.0))
}

/// grpc-gateway: "field already set for oneof" unless re-entering the same message
/// member.
fn check_oneof(msg: &DynamicMessage, field: &FieldDescriptor) -> Result<(), TranscodeError> {
    let Some(oneof) = field.containing_oneof() else {
        return Ok(());
    };
    if oneof.is_synthetic() {
        return Ok(());
    }
    for other in oneof.fields() {
        if msg.has_field(&other) {
            let same_message = other == *field && matches!(field.kind(), Kind::Message(_));
            if !same_message {
                return Err(TranscodeError(format!(
                    "field already set for oneof {:?}",
                    oneof.name()
                )));
            }
        }
    }
    Ok(())
}

fn map_key(v: Value) -> Option<MapKey> {
    Some(match v {
        Value::Bool(b) => MapKey::Bool(b),
        Value::I32(n) => MapKey::I32(n),
        Value::I64(n) => MapKey::I64(n),
        Value::U32(n) => MapKey::U32(n),
        Value::U64(n) => MapKey::U64(n),
        Value::String(s) => MapKey::String(s),
        _ => return None,
    })
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` must be two hex digits. Borrows
/// when there is nothing to decode (the common case).
fn unescape(s: &str) -> Result<Cow<'_, str>, TranscodeError> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    for (i, _) in b.iter().enumerate().filter(|(_, c)| **c == b'%') {
        let ok = b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
        if !ok {
            let end = (i + 3).min(b.len());
            return Err(TranscodeError(format!(
                "invalid URL escape {:?}",
                String::from_utf8_lossy(&b[i..end])
            )));
        }
    }
    let plus_fixed: Cow<'_, [u8]> = if b.contains(&b'+') {
        Cow::Owned(
            b.iter()
                .map(|&c| if c == b'+' { b' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(b)
    };
    let decoded: Vec<u8> = percent_decode(&plus_fixed).collect();
    String::from_utf8(decoded)
        .map(Cow::Owned)
        .map_err(|_| TranscodeError(format!("query parameter {s:?} is not valid UTF-8")))
}
