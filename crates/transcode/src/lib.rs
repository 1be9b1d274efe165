//! The transcoder: HTTP/JSON requests to protobuf bytes, protobuf bytes to JSON
//! responses, and gRPC statuses to grpc-gateway-compatible HTTP errors.
//!
//! Everything that can be resolved once per route (message descriptors, field
//! descriptors for path variables, the body field, `response_body`) is resolved
//! in [`MethodPlan::for_binding`] (the PATCH FieldMask field and whether either
//! side is `google.api.HttpBody` too), which the route table calls at build time. The
//! per-request functions only walk what the plan already holds. This crate does
//! no IO and has no async: it is unit-tested and benchmarked in isolation.
//!
//! Defaults follow grpc-gateway v2's `JSONPb` marshaler so that its clients see no
//! difference: unpopulated fields are emitted, unknown request fields are ignored,
//! int64 prints as a string, enums as names.
//!
//! Besides JSON, bodies can be binary protobuf (`application/x-protobuf`, see
//! [`negotiate`]) and `google.api.HttpBody` request and response messages carry
//! raw bytes with their own content type, as grpc-gateway's `HTTPBodyMarshaler`
//! does for responses.

mod codec;
mod detail;
mod fieldmask;
mod form;
mod onepass;
mod parse;
mod plan;
mod query;
mod request;
mod response;
mod split;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mapping;
#[cfg(test)]
mod tests_parity;
mod writer;

use bytes::Bytes;
use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor, MethodDescriptor};

pub use codec::{Codec, Encoded, Negotiated, PROTOBUF_MEDIA_TYPE, negotiate};
pub use detail::{StatusDetail, message_to_json, status_details};
pub use form::{FORM_MEDIA_TYPE, form_parameters, is_form};
pub use onepass::ProgramCache;
pub use plan::is_json_well_known;
pub use split::JsonSplitter;
pub use writer::civil_from_days;

/// Hooks for the differential fuzz target (`fuzz/fuzz_targets/onepass.rs`;
/// feature `fuzzing`, never enabled by the gateway): the random descriptor and
/// message generator, and both response paths side by side.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::onepass::generate::{Source, descriptors, json, message};
    pub use crate::onepass::{differential, differential_request, same_request};
}

/// Per-backend JSON options; defined by the config stage, which owns their defaults.
pub use switchboard_config::JsonOptions;

/// Which part of the HTTP request becomes the request message (`HttpRule.body`).
#[derive(Debug, Clone)]
pub enum BodyPlan {
    /// `body` empty: no body is read; every field comes from the path and query.
    None,
    /// `body: "*"`: the whole JSON body is the request message; no query parameters.
    Whole,
    /// `body: "field"` (or a dotted path, `body: "payload.input_value"`): the
    /// JSON body is that field's value. This is the path's *leaf*; the message
    /// fields leading to it are [`MethodPlan::body_parents`].
    Field(FieldDescriptor),
}

/// A dotted field path (`book.name`) resolved to descriptors, outermost first.
#[derive(Debug, Clone)]
pub struct FieldPath(pub Vec<FieldDescriptor>);

/// Everything needed to transcode one route, resolved at table-build time.
#[derive(Debug, Clone)]
pub struct MethodPlan {
    /// The gRPC method the plan calls.
    pub method: MethodDescriptor,
    /// Its request message, decoded from path, query and body.
    pub input: MessageDescriptor,
    /// Its response message, printed as JSON.
    pub output: MessageDescriptor,
    /// Which part of the request message the HTTP body fills.
    pub body: BodyPlan,
    /// For a dotted `body` path, the singular message fields from the request
    /// down to the leaf's message, outermost first (empty for a top-level
    /// field): created on decoding, as grpc-gateway's generated
    /// `AssignableExpr` does, oneof members included.
    pub body_parents: Vec<FieldDescriptor>,
    /// One entry per path-template variable, in the template's variable order.
    pub path_fields: Vec<FieldPath>,
    /// `HttpRule.response_body`: print only this field of the response.
    pub response_body: Option<FieldDescriptor>,
    /// How to parse each path variable's string, parallel to `path_fields`.
    pub(crate) path_leaves: Vec<plan::LeafType>,
    /// The FieldMask field to fill from the JSON body's keys when the client sends
    /// no mask (PATCH with `body: "field"`; see [`MethodPlan::for_binding`]).
    pub patch_mask: Option<FieldDescriptor>,
    /// The body target (the request, or the `body` field) is `google.api.HttpBody`:
    /// the raw HTTP body and its Content-Type become its `data` and `content_type`.
    pub raw_request: bool,
    /// The response is `google.api.HttpBody` (and no `response_body`): its `data`
    /// is written as-is with its `content_type`.
    pub raw_response: bool,
    /// The method is marked `idempotency_level = NO_SIDE_EFFECTS`, so protocols
    /// with cacheable reads (Connect's unary GET) may call it with a GET.
    pub no_side_effects: bool,
    /// The one-pass transcoder's program for this route ([`onepass`]).
    pub(crate) onepass: onepass::Slot,
}

/// A plan that cannot be built: the rule names a field the message lacks, etc.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// A request that cannot be transcoded. Always the client's fault: maps to
/// HTTP 400 with gRPC code INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranscodeError(pub String);

/// The HTTP request body, with what decoding it needs from the headers.
#[derive(Debug, Clone, Copy)]
pub struct RequestBody<'a> {
    /// The raw body (may be empty).
    pub bytes: &'a [u8],
    /// The `Content-Type` header as sent; only a `google.api.HttpBody` target
    /// keeps it (in its `content_type`).
    pub content_type: Option<&'a str>,
    /// How to read `bytes` (the negotiated inbound codec).
    pub codec: Codec,
}

/// Builds the protobuf-encoded request message from the HTTP request parts, in
/// any codec: a JSON body is transcoded, a protobuf body is decoded as the body
/// target's message (then path variables and query parameters apply as for
/// JSON), and a `google.api.HttpBody` target takes the raw bytes.
///
/// `path_values` are the matched variable values (already percent-decoded per
/// the template rules), in plan order; `query` is the raw query string without `?`.
pub fn decode_request(
    plan: &MethodPlan,
    opts: &JsonOptions,
    body: RequestBody<'_>,
    path_values: &[String],
    query: Option<&str>,
) -> Result<Bytes, TranscodeError> {
    request::request_to_proto(plan, opts, body, path_values, query)
}

/// Encodes a protobuf response for the client in the outbound codec: JSON as
/// [`response_to_json`], protobuf as the upstream bytes (or the `response_body`
/// field's message), and a `google.api.HttpBody` response as its raw data with
/// its own `content_type`, whatever the codec.
pub fn encode_response(
    plan: &MethodPlan,
    opts: &JsonOptions,
    codec: Codec,
    proto: Bytes,
) -> Result<Encoded, TranscodeError> {
    codec::encode_response(plan, opts, codec, proto)
}

/// A gRPC error as a binary `google.rpc.Status`, for clients whose outbound codec
/// is protobuf (grpc-gateway writes errors with the outbound marshaler).
pub fn status_to_proto(code: i32, message: &str, details_bin: Option<&[u8]>) -> Vec<u8> {
    codec::status_to_proto(code, message, details_bin)
}

/// Encodes one message of a client- or bidi-streaming request body (one value
/// found by [`JsonSplitter`]) as the method's whole input message.
///
/// As in grpc-gateway's streaming handlers, each value is the entire request
/// message: path variables and query parameters do not apply (grpc-gateway
/// refuses path parameters on client-streaming methods, and so does
/// [`MethodPlan::new`]), and `json.strict` rejects unknown fields as for unary.
pub fn message_from_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    json: &[u8],
) -> Result<Bytes, TranscodeError> {
    request::message_from_json(plan, opts, json)
}

/// Prints a protobuf-encoded response message as JSON (honouring `response_body`).
pub fn response_to_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    proto: &[u8],
) -> Result<Vec<u8>, TranscodeError> {
    response::response_to_json(plan, opts, proto)
}

/// The HTTP status grpc-gateway v2 uses for a gRPC status code.
pub fn http_status_for(code: i32) -> u16 {
    status::http_status_for(code)
}

/// Renders a gRPC error as grpc-gateway's JSON error body
/// `{"code": n, "message": "...", "details": [...]}`.
///
/// `details_bin` is the raw `grpc-status-details-bin` trailer value (an encoded
/// `google.rpc.Status`), if the backend sent one; its `Any` details are decoded
/// through `pool` (the backend's descriptors) and printed as JSON with `@type`.
pub fn status_to_json(
    pool: Option<&DescriptorPool>,
    opts: &JsonOptions,
    code: i32,
    message: &str,
    details_bin: Option<&[u8]>,
) -> Vec<u8> {
    status::status_to_json(pool, opts, code, message, details_bin)
}
