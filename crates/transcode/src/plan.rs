//! Building a [`MethodPlan`]: resolving a google.api.http rule's `body`, path
//! variables and `response_body` against the method's descriptors once, at
//! route-table build time, so the per-request code never looks a field up by name.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};

use crate::{BodyPlan, FieldPath, MethodPlan, PlanError};

/// The value type of a path-variable or query-parameter leaf, as far as parsing a
/// string into it is concerned. Resolved at plan time for path variables (so the
/// request path only matches on this enum) and per request for query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafType {
    /// A non-message field (scalar or enum); parsed by the field's [`Kind`].
    Scalar,
    /// One of the nine `google.protobuf.*Value` wrappers; parsed by the kind of its
    /// `value` field (number 1).
    Wrapper,
    Timestamp,
    Duration,
    FieldMask,
    /// `google.protobuf.Struct`: grpc-gateway parses a query value as JSON.
    Struct,
    /// `google.protobuf.Value`: grpc-gateway parses a query value as JSON.
    Value,
}

/// Classifies a message type for string parsing; `None` for messages that cannot
/// be given as a single string (grpc-gateway answers "unsupported message type").
pub(crate) fn message_leaf(desc: &MessageDescriptor) -> Option<LeafType> {
    let name = desc.full_name().strip_prefix("google.protobuf.")?;
    Some(match name {
        "DoubleValue" | "FloatValue" | "Int64Value" | "UInt64Value" | "Int32Value"
        | "UInt32Value" | "BoolValue" | "StringValue" | "BytesValue" => LeafType::Wrapper,
        "Timestamp" => LeafType::Timestamp,
        "Duration" => LeafType::Duration,
        "FieldMask" => LeafType::FieldMask,
        "Struct" => LeafType::Struct,
        "Value" => LeafType::Value,
        _ => return None,
    })
}

impl MethodPlan {
    /// Resolves a google.api.http rule (or the default `POST /pkg.Svc/Method`
    /// route, which is `body = "*"`, no path vars) against the method's descriptors.
    ///
    /// `body` is the rule's body string (`""`, `"*"` or a field name);
    /// `path_vars` are the template's variable field paths (`"book.name"`) in order;
    /// `response_body` is the rule's response_body (`""` for none).
    ///
    /// Field names are proto field names, as in the google.api.http spec. A path
    /// variable's intermediate fields must be singular message fields; its leaf must
    /// be a scalar or enum (repeated allowed: grpc-gateway splits the value on `,`),
    /// or a wrapper, Timestamp, Duration or FieldMask message. A client-streaming
    /// method takes no path variables (as in grpc-gateway).
    pub fn new(
        method: &MethodDescriptor,
        body: &str,
        path_vars: &[&str],
        response_body: &str,
    ) -> Result<MethodPlan, PlanError> {
        Self::for_binding(method, "POST", body, path_vars, response_body)
    }

    /// [`MethodPlan::new`] for a binding whose HTTP method matters to the mapping:
    /// a `PATCH` with `body: "field"` gets its FieldMask filled from the body when
    /// the client sends none (see [`MethodPlan::patch_mask`]).
    pub fn for_binding(
        method: &MethodDescriptor,
        http_method: &str,
        body: &str,
        path_vars: &[&str],
        response_body: &str,
    ) -> Result<MethodPlan, PlanError> {
        let input = method.input();
        let output = method.output();

        let (body_plan, body_parents) = match body {
            "" => (BodyPlan::None, Vec::new()),
            "*" => (BodyPlan::Whole, Vec::new()),
            path => {
                let (parents, leaf) = resolve_body_path(&input, path)?;
                (BodyPlan::Field(leaf), parents)
            }
        };

        // grpc-gateway's generator: "cannot use path parameter in client streaming"
        // (each streamed message is a whole request; there is no one message to
        // bind a path value to).
        if method.is_client_streaming() && !path_vars.is_empty() {
            return Err(PlanError(format!(
                "{}: cannot use path parameter in client streaming",
                method.full_name()
            )));
        }

        let mut path_fields = Vec::with_capacity(path_vars.len());
        let mut path_leaves = Vec::with_capacity(path_vars.len());
        for var in path_vars {
            let (path, leaf) = resolve_path_var(&input, var)?;
            path_fields.push(path);
            path_leaves.push(leaf);
        }

        let response_body = match response_body {
            "" | "*" => None,
            name => Some(output.get_field_by_name(name).ok_or_else(|| {
                PlanError(format!(
                    "response_body field {name:?} not found in {}",
                    output.full_name()
                ))
            })?),
        };

        // grpc-gateway fills the mask of a top-level body field only.
        let patch_mask = if http_method == "PATCH" && body_parents.is_empty() {
            patch_mask_field(&input, &body_plan)
        } else {
            None
        };
        let raw_request = match &body_plan {
            BodyPlan::Whole => is_http_body(&input),
            BodyPlan::Field(f) => {
                matches!(f.kind(), Kind::Message(m) if is_http_body(&m) && !f.is_list())
            }
            BodyPlan::None => false,
        };
        let raw_response = response_body.is_none() && is_http_body(&output);
        let no_side_effects = has_no_side_effects(method);

        Ok(MethodPlan {
            method: method.clone(),
            input,
            output,
            body: body_plan,
            body_parents,
            path_fields,
            response_body,
            path_leaves,
            patch_mask,
            raw_request,
            raw_response,
            no_side_effects,
            onepass: Default::default(),
        })
    }
}

/// `option idempotency_level = NO_SIDE_EFFECTS` (google.protobuf.MethodOptions,
/// field 34, value 1): read once here, since the options are decoded on demand.
fn has_no_side_effects(method: &MethodDescriptor) -> bool {
    const NO_SIDE_EFFECTS: i32 = 1;
    method
        .options()
        .get_field_by_name("idempotency_level")
        .is_some_and(|v| v.as_enum_number() == Some(NO_SIDE_EFFECTS))
}

/// A `google.protobuf` type with its own JSON form (Any, Timestamp, Duration,
/// FieldMask, Struct, Value, ListValue, Empty, the wrappers): its fields are
/// never addressed one by one from a query string, nor documented as query
/// parameters.
pub fn is_json_well_known(desc: &MessageDescriptor) -> bool {
    is_json_well_known_name(desc.full_name())
}

/// [`is_json_well_known`] by full name: the one list of `google.protobuf`
/// types with their own JSON form, which the reference writer also reads
/// (`Any` nests all of them but `Empty` under `"value"`).
pub(crate) fn is_json_well_known_name(full_name: &str) -> bool {
    matches!(
        full_name.strip_prefix("google.protobuf."),
        Some(
            "Any"
                | "Timestamp"
                | "Duration"
                | "FieldMask"
                | "Struct"
                | "Value"
                | "ListValue"
                | "Empty"
                | "DoubleValue"
                | "FloatValue"
                | "Int64Value"
                | "UInt64Value"
                | "Int32Value"
                | "UInt32Value"
                | "BoolValue"
                | "StringValue"
                | "BytesValue"
        )
    )
}

/// `google.api.HttpBody`: raw bytes with a content type, in either direction.
pub(crate) fn is_http_body(desc: &MessageDescriptor) -> bool {
    desc.full_name() == "google.api.HttpBody"
}

/// The FieldMask field grpc-gateway's generator fills for a PATCH
/// (`template.go`, `FieldMaskField` and `$isFieldMask`): the body is one
/// message field (not `*`), and the request has exactly one top-level field of
/// type `google.protobuf.FieldMask` (two or more: none is filled). Whatever that
/// field is called; conventionally `update_mask`.
fn patch_mask_field(input: &MessageDescriptor, body: &BodyPlan) -> Option<FieldDescriptor> {
    let BodyPlan::Field(body) = body else {
        return None;
    };
    if !matches!(body.kind(), Kind::Message(_)) || body.is_list() || body.is_map() {
        return None;
    }
    let mut masks = input.fields().filter(
        |f| matches!(f.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask"),
    );
    let mask = masks.next()?;
    if masks.next().is_some() || mask.is_list() || mask == *body {
        return None;
    }
    Some(mask)
}

/// Resolves a rule's `body` field path (`book`, or dotted: `payload.input_value`)
/// as grpc-gateway's descriptor loader does (`resolveFieldPath`): every
/// component but the last must be a message field (a oneof member included);
/// here it must also be singular, since a body cannot be appended to a list.
/// The leaf may be of any type (its JSON value is the body).
fn resolve_body_path(
    input: &MessageDescriptor,
    path: &str,
) -> Result<(Vec<FieldDescriptor>, FieldDescriptor), PlanError> {
    let mut msg = input.clone();
    let mut parents = Vec::new();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = msg.get_field_by_name(part).ok_or_else(|| {
            PlanError(format!(
                "body field {path:?} not found in {}: no field {part:?} in {}",
                input.full_name(),
                msg.full_name()
            ))
        })?;
        if parts.peek().is_none() {
            return Ok((parents, field));
        }
        match field.kind() {
            Kind::Message(m) if !field.is_list() && !field.is_map() => msg = m,
            _ => {
                return Err(PlanError(format!(
                    "body field {path:?}: {part:?} is not a singular message field"
                )));
            }
        }
        parents.push(field);
    }
    Err(PlanError("empty body field path".into()))
}

/// Resolves one dotted path variable (`book.author.name`) to its field chain.
fn resolve_path_var(
    input: &MessageDescriptor,
    var: &str,
) -> Result<(FieldPath, LeafType), PlanError> {
    if var.is_empty() {
        return Err(PlanError("empty path variable".into()));
    }
    let mut fields = Vec::new();
    let mut msg = input.clone();
    let mut parts = var.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = msg.get_field_by_name(part).ok_or_else(|| {
            PlanError(format!(
                "path variable {var:?}: field {part:?} not found in {}",
                msg.full_name()
            ))
        })?;
        if parts.peek().is_some() {
            // Intermediate: must be a singular message we can create on demand.
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => msg = m,
                _ => {
                    return Err(PlanError(format!(
                        "path variable {var:?}: {part:?} is not a singular message field"
                    )));
                }
            }
            fields.push(field);
            continue;
        }
        let leaf = match field.kind() {
            _ if field.is_map() => None,
            Kind::Message(_) if field.is_list() => None,
            Kind::Message(m) => message_leaf(&m).filter(|l| {
                matches!(
                    l,
                    LeafType::Wrapper
                        | LeafType::Timestamp
                        | LeafType::Duration
                        | LeafType::FieldMask
                )
            }),
            _ => Some(LeafType::Scalar),
        };
        let leaf = leaf.ok_or_else(|| {
            PlanError(format!(
                "path variable {var:?}: field {} has a type that cannot be bound from a path",
                field.full_name()
            ))
        })?;
        fields.push(field);
        return Ok((FieldPath(fields), leaf));
    }
    unreachable!("split yields at least one part")
}
