//! HTTP request (JSON body, path variables, query string) to protobuf bytes.
//!
//! The order is grpc-gateway's generated handlers' order: decode the body, then
//! set path variables (so they override body values), then populate query
//! parameters (skipped for `body: "*"`, and filtered of the body field and of the
//! path-variable fields).

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, ReflectMessage as _, Value,
};

use crate::parse::{Syntax, parse_leaf};
use crate::plan::LeafType;
use crate::{BodyPlan, FieldPath, JsonOptions, MethodPlan, TranscodeError};

pub(crate) fn request_to_proto(
    plan: &MethodPlan,
    opts: &JsonOptions,
    body: &[u8],
    path_values: &[String],
    query: Option<&str>,
) -> Result<Bytes, TranscodeError> {
    if path_values.len() != plan.path_fields.len() {
        return Err(TranscodeError(format!(
            "expected {} path values, got {}",
            plan.path_fields.len(),
            path_values.len()
        )));
    }
    let de_opts = DeserializeOptions::new().deny_unknown_fields(opts.strict);

    let mut msg = match &plan.body {
        BodyPlan::Whole if !is_blank(body) => decode_message_body(plan, body, &de_opts)?,
        BodyPlan::Field(field) if !is_blank(body) => {
            let mut msg = DynamicMessage::new(plan.input.clone());
            decode_field_body(&mut msg, field, body, &de_opts)?;
            msg
        }
        _ => DynamicMessage::new(plan.input.clone()),
    };

    for ((path, leaf), value) in plan
        .path_fields
        .iter()
        .zip(&plan.path_leaves)
        .zip(path_values)
    {
        set_path_value(&mut msg, path, *leaf, value)?;
    }

    if let Some(q) = query
        && !matches!(plan.body, BodyPlan::Whole)
        && !q.is_empty()
    {
        crate::query::populate(&mut msg, plan, opts, q)?;
    }

    Ok(msg.encode_to_vec().into())
}

/// grpc-gateway treats an empty (or all-whitespace) body as io.EOF and accepts it
/// as an empty message.
fn is_blank(body: &[u8]) -> bool {
    body.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn json_error(e: serde_json::Error) -> TranscodeError {
    TranscodeError(format!("invalid JSON body: {e}"))
}

/// `body: "*"`: the body is the whole request message. serde_json's recursion limit
/// (128) turns hostile nesting into an error instead of a stack overflow.
fn decode_message_body(
    plan: &MethodPlan,
    body: &[u8],
    de_opts: &DeserializeOptions,
) -> Result<DynamicMessage, TranscodeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let msg = DynamicMessage::deserialize_with_options(plan.input.clone(), &mut de, de_opts)
        .map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(msg)
}

/// `body: "field"`: the body is that field's JSON value.
fn decode_field_body(
    msg: &mut DynamicMessage,
    field: &FieldDescriptor,
    body: &[u8],
    de_opts: &DeserializeOptions,
) -> Result<(), TranscodeError> {
    if let (prost_reflect::Kind::Message(desc), false, false) =
        (field.kind(), field.is_list(), field.is_map())
    {
        let mut de = serde_json::Deserializer::from_slice(body);
        let value =
            DynamicMessage::deserialize_with_options(desc, &mut de, de_opts).map_err(json_error)?;
        de.end().map_err(json_error)?;
        msg.set_field(field, Value::Message(value));
        return Ok(());
    }
    // A repeated, map or scalar field: prost-reflect only deserializes whole
    // messages, so present the value as `{"<field>": <body>}`. This path is rare
    // (most rules name a message field), so the copy is acceptable.
    let name = field.name();
    let mut wrapped = Vec::with_capacity(body.len() + name.len() + 5);
    wrapped.extend_from_slice(b"{\"");
    wrapped.extend_from_slice(name.as_bytes());
    wrapped.extend_from_slice(b"\":");
    wrapped.extend_from_slice(body);
    wrapped.extend_from_slice(b"\n}");
    let mut de = serde_json::Deserializer::from_slice(&wrapped);
    let mut parsed = DynamicMessage::deserialize_with_options(msg.descriptor(), &mut de, de_opts)
        .map_err(json_error)?;
    de.end().map_err(json_error)?;
    if let Some(v) = parsed.take_field(field) {
        msg.set_field(field, v);
    }
    Ok(())
}

/// Sets one path variable's value, creating intermediate messages.
fn set_path_value(
    msg: &mut DynamicMessage,
    path: &FieldPath,
    leaf: LeafType,
    raw: &str,
) -> Result<(), TranscodeError> {
    let (last, parents) = path
        .0
        .split_last()
        .ok_or_else(|| TranscodeError("empty field path".into()))?;
    let mut target = msg;
    for field in parents {
        target = match target.get_field_mut(field) {
            Value::Message(m) => m,
            _ => return Err(TranscodeError(format!("{} is not a message", field.name()))),
        };
    }
    let err = |e: String| {
        TranscodeError(format!(
            "type mismatch, parameter: {}, error: {e}",
            path_name(path)
        ))
    };
    // grpc-gateway: a top-level variable goes through runtime/convert.go (repeated
    // split on ','); a nested one through PopulateFieldFromPath (query.go rules,
    // one value appended to a repeated field).
    let kind = last.kind();
    if parents.is_empty() {
        if last.is_list() {
            let items = raw
                .split(',')
                .map(|s| parse_leaf(&kind, leaf, s, Syntax::Convert))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            target.set_field(last, Value::List(items));
        } else {
            let v = parse_leaf(&kind, leaf, raw, Syntax::Convert).map_err(err)?;
            target.set_field(last, v);
        }
    } else {
        let v = parse_leaf(&kind, leaf, raw, Syntax::Query).map_err(err)?;
        if last.is_list() {
            if let Value::List(items) = target.get_field_mut(last) {
                items.push(v);
            }
        } else {
            target.set_field(last, v);
        }
    }
    Ok(())
}

/// The dotted proto name of a path, for error messages only.
fn path_name(path: &FieldPath) -> String {
    let mut s = String::new();
    for (i, f) in path.0.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(f.name());
    }
    s
}
