//! HTTP request (JSON or protobuf body, path variables, query string) to
//! protobuf bytes.
//!
//! The order is grpc-gateway's generated handlers' order: decode the body (and,
//! for a PATCH, fill its FieldMask from the JSON keys), then set path variables
//! (so they override body values), then populate query parameters (skipped for
//! `body: "*"`, and filtered of the body field and of the path-variable fields).
//! A `google.api.HttpBody` body target takes the raw bytes instead of decoding.

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, ReflectMessage as _, Value,
};

use crate::parse::{Syntax, parse_leaf};
use crate::plan::LeafType;
use crate::{BodyPlan, Codec, FieldPath, JsonOptions, MethodPlan, RequestBody, TranscodeError};

pub(crate) fn request_to_proto(
    plan: &MethodPlan,
    opts: &JsonOptions,
    body: RequestBody<'_>,
    path_values: &[String],
    query: Option<&str>,
) -> Result<Bytes, TranscodeError> {
    if let Some(one) = crate::onepass::request_to_proto(plan, opts, &body, path_values, query) {
        // Every unit test of this crate doubles as a differential test.
        #[cfg(test)]
        crate::onepass::assert_same_request(
            &plan.input,
            &one,
            reference_request_to_proto(plan, opts, body, path_values, query).as_deref(),
        );
        return Ok(one);
    }
    reference_request_to_proto(plan, opts, body, path_values, query)
}

/// The reference path: a `DynamicMessage` built by prost-reflect, then encoded.
pub(crate) fn reference_request_to_proto(
    plan: &MethodPlan,
    opts: &JsonOptions,
    body: RequestBody<'_>,
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
    let mut msg = if plan.raw_request {
        raw_body_message(plan, &body)
    } else if body.codec == Codec::Protobuf {
        proto_body_message(plan, body.bytes)?
    } else {
        json_body_message(plan, opts, body.bytes)?
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

/// One message of a streaming request body: the whole request message, as
/// grpc-gateway's streaming handlers decode it (no path variables, no query
/// parameters, whatever the rule's `body` says).
pub(crate) fn message_from_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    json: &[u8],
) -> Result<Bytes, TranscodeError> {
    if let Some(one) = crate::onepass::message_from_json(plan, opts, json) {
        #[cfg(test)]
        crate::onepass::assert_same_request(
            &plan.input,
            &one,
            reference_message_from_json(plan, opts, json).as_deref(),
        );
        return Ok(one);
    }
    reference_message_from_json(plan, opts, json)
}

/// The reference path for one streamed message.
pub(crate) fn reference_message_from_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    json: &[u8],
) -> Result<Bytes, TranscodeError> {
    let de_opts = DeserializeOptions::new().deny_unknown_fields(opts.strict);
    Ok(decode_message_body(plan, json, &de_opts)?
        .encode_to_vec()
        .into())
}

/// The request message holding a JSON body, and, for a PATCH planned with a
/// FieldMask, that mask filled from the body's keys when the client sent none
/// (grpc-gateway's generated handler checks right after decoding the body; a
/// mask in the query string, populated later, still replaces it).
fn json_body_message(
    plan: &MethodPlan,
    opts: &JsonOptions,
    body: &[u8],
) -> Result<DynamicMessage, TranscodeError> {
    let de_opts = DeserializeOptions::new().deny_unknown_fields(opts.strict);
    let mut msg = match &plan.body {
        BodyPlan::Whole if !is_blank(body) => decode_message_body(plan, body, &de_opts)?,
        BodyPlan::Field(field) if !is_blank(body) => {
            let mut msg = DynamicMessage::new(plan.input.clone());
            decode_field_body(body_parent(&mut msg, plan), field, body, &de_opts)?;
            msg
        }
        _ => DynamicMessage::new(plan.input.clone()),
    };
    if let (Some(mask), BodyPlan::Field(field)) = (&plan.patch_mask, &plan.body)
        && let Kind::Message(body_desc) = field.kind()
    {
        let empty = match msg.get_field(mask).as_ref() {
            Value::Message(m) => !msg.has_field(mask) || mask_paths_empty(m),
            _ => true,
        };
        if empty {
            let paths = crate::fieldmask::mask_from_json(body, &body_desc)?;
            let Kind::Message(mask_desc) = mask.kind() else {
                unreachable!("planned FieldMask field is a message")
            };
            let mut m = DynamicMessage::new(mask_desc);
            m.set_field_by_number(
                1,
                Value::List(paths.into_iter().map(Value::String).collect()),
            );
            msg.set_field(mask, Value::Message(m));
        }
    }
    Ok(msg)
}

fn mask_paths_empty(mask: &DynamicMessage) -> bool {
    mask.get_field_by_number(1)
        .as_deref()
        .and_then(Value::as_list)
        .is_none_or(<[Value]>::is_empty)
}

/// A binary protobuf body (grpc-gateway's `ProtoMarshaller`): the whole request
/// for `body: "*"`, the body field's message for `body: "field"`. A body field
/// that is not a singular message cannot be given this way, as in grpc-gateway.
fn proto_body_message(plan: &MethodPlan, body: &[u8]) -> Result<DynamicMessage, TranscodeError> {
    let bad = |e: prost::DecodeError| TranscodeError(format!("invalid protobuf body: {e}"));
    match &plan.body {
        BodyPlan::Whole => DynamicMessage::decode(plan.input.clone(), body).map_err(bad),
        BodyPlan::Field(field) => match field.kind() {
            Kind::Message(desc) if !field.is_list() && !field.is_map() => {
                let value = DynamicMessage::decode(desc, body).map_err(bad)?;
                let mut msg = DynamicMessage::new(plan.input.clone());
                body_parent(&mut msg, plan).set_field(field, Value::Message(value));
                Ok(msg)
            }
            _ => Err(TranscodeError("unable to unmarshal non proto field".into())),
        },
        BodyPlan::None => Ok(DynamicMessage::new(plan.input.clone())),
    }
}

/// A `google.api.HttpBody` body target: the raw bytes and the Content-Type as
/// sent (parameters included), whatever the codec. For `body: "field"` the field
/// is left unset when there is neither a body nor a Content-Type.
fn raw_body_message(plan: &MethodPlan, body: &RequestBody<'_>) -> DynamicMessage {
    let mut msg = DynamicMessage::new(plan.input.clone());
    let content_type = body.content_type.unwrap_or("");
    let fill = |m: &mut DynamicMessage| {
        m.set_field_by_number(1, Value::String(content_type.to_owned()));
        m.set_field_by_number(2, Value::Bytes(Bytes::copy_from_slice(body.bytes)));
    };
    match &plan.body {
        BodyPlan::Whole => fill(&mut msg),
        BodyPlan::Field(field) if !body.bytes.is_empty() || !content_type.is_empty() => {
            if let Value::Message(m) = body_parent(&mut msg, plan).get_field_mut(field) {
                fill(m);
            }
        }
        _ => {}
    }
    msg
}

/// The message that holds the body field: the request itself, or for a dotted
/// `body` path the innermost parent, created (with every message on the way,
/// a oneof member included, which selects it) if absent.
fn body_parent<'m>(msg: &'m mut DynamicMessage, plan: &MethodPlan) -> &'m mut DynamicMessage {
    let mut target = msg;
    for field in &plan.body_parents {
        if !target.has_field(field) {
            // Setting the member clears any other member of its oneof.
            let Kind::Message(desc) = field.kind() else {
                unreachable!("planned body parents are message fields")
            };
            target.set_field(field, Value::Message(DynamicMessage::new(desc)));
        }
        target = match target.get_field_mut(field) {
            Value::Message(m) => m,
            _ => unreachable!("planned body parents are singular message fields"),
        };
    }
    target
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
