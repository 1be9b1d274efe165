//! The FieldMask grpc-gateway fills in for a PATCH whose client sent none:
//! a port of `runtime.FieldMaskFromRequestBody` (runtime/fieldmask.go), so a
//! partial update changes exactly the fields present in the JSON body.
//!
//! Rules (each one grpc-gateway's):
//! - Paths are proto field names; JSON keys are matched by proto name, then by
//!   JSON name. An unknown key is an error (even though the body decode itself
//!   ignores unknown fields), so a PATCH with a typo fails with 400 rather than
//!   silently updating nothing.
//! - Objects are descended into for message fields; a non-object value, `null`,
//!   or an empty object `{}` ends a path there (so `{}` at the top yields the
//!   single path `""`, as in grpc-gateway).
//! - Repeated and map fields end the path (FieldMask semantics: no recursion).
//! - `google.protobuf.Struct` / `Value` fields: the JSON keys below them are
//!   appended verbatim (`attrs.a.b`), without matching any descriptor.
//! - A singular `google.protobuf.Any` field must be an object with `@type`; its
//!   path is the raw JSON key with no parent prefix (grpc-gateway's quirk, kept
//!   for identical masks).
//! - Paths are sorted (byte order), duplicates kept.

use std::collections::VecDeque;

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::Value;

use crate::TranscodeError;

/// One queued JSON node: its dotted path and, for message nodes, its type.
struct Item<'a> {
    path: String,
    node: Option<&'a Value>,
    msg: Option<MessageDescriptor>,
}

/// The mask paths for a JSON body decoded into a message of type `desc`.
/// A blank body gives no paths (grpc-gateway's `io.EOF` case).
pub(crate) fn mask_from_json(
    body: &[u8],
    desc: &MessageDescriptor,
) -> Result<Vec<String>, TranscodeError> {
    if body
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Ok(Vec::new());
    }
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| TranscodeError(format!("invalid JSON body: {e}")))?;
    let mut paths = Vec::new();
    let mut queue = VecDeque::from([Item {
        path: String::new(),
        node: Some(&root),
        msg: Some(desc.clone()),
    }]);
    while let Some(item) = queue.pop_front() {
        match item.node {
            Some(Value::Object(m)) if !m.is_empty() => {
                for (k, v) in m {
                    let Some(md) = &item.msg else {
                        return Err(TranscodeError(
                            "JSON structure did not match request type".into(),
                        ));
                    };
                    let fd = md
                        .get_field_by_name(k)
                        .or_else(|| md.get_field_by_json_name(k))
                        .ok_or_else(|| {
                            TranscodeError(format!(
                                "could not find field {k:?} in {:?}",
                                md.full_name()
                            ))
                        })?;
                    let fmsg = match fd.kind() {
                        Kind::Message(m) => Some(m),
                        _ => None,
                    };
                    let fmsg_name = fmsg.as_ref().map(|m| m.full_name());
                    if matches!(
                        fmsg_name,
                        Some("google.protobuf.Struct" | "google.protobuf.Value")
                    ) {
                        for p in paths_blindly(fd.name(), v) {
                            queue.push_back(Item {
                                path: join(&item.path, &p),
                                node: None,
                                msg: None,
                            });
                        }
                        continue;
                    }
                    if fmsg_name == Some("google.protobuf.Any") && !fd.is_list() {
                        if v.as_object().is_some_and(|o| o.contains_key("@type")) {
                            queue.push_back(Item {
                                path: k.clone(),
                                node: None,
                                msg: None,
                            });
                            continue;
                        }
                        return Err(TranscodeError(format!(
                            "could not find field @type in {k:?} in message {:?}",
                            md.full_name()
                        )));
                    }
                    let path = join(&item.path, fd.name());
                    if fd.is_list() || fd.is_map() {
                        paths.push(path);
                    } else {
                        queue.push_back(Item {
                            path,
                            node: Some(v),
                            msg: fmsg,
                        });
                    }
                }
            }
            // An empty object is a leaf even at the top (path "").
            Some(Value::Object(_)) => paths.push(item.path),
            _ if !item.path.is_empty() => paths.push(item.path),
            _ => {}
        }
    }
    paths.sort_unstable();
    Ok(paths)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// grpc-gateway's `buildPathsBlindly`: every leaf below a Struct/Value field,
/// by raw JSON keys.
fn paths_blindly(name: &str, v: &Value) -> Vec<String> {
    let Value::Object(m) = v else {
        return vec![name.to_owned()];
    };
    let mut paths = Vec::new();
    let mut queue = VecDeque::from([(name.to_owned(), m)]);
    while let Some((path, m)) = queue.pop_front() {
        for (k, v) in m {
            let p = format!("{path}.{k}");
            match v {
                Value::Object(inner) => queue.push_back((p, inner)),
                _ => paths.push(p),
            }
        }
    }
    paths
}
