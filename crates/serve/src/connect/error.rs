//! Connect's error body and HTTP status per code (connectrpc.com/docs/protocol,
//! "Error codes" and "Unary-Error"): `{"code": "not_found", "message": "...",
//! "details": [{"type": "pkg.Type", "value": "<base64>", "debug": {...}}]}`.
//!
//! The same JSON object is the `error` of a stream's end-of-stream message, so
//! one writer serves both. Details come from the backend's
//! `grpc-status-details-bin`; `value` is the detail's bytes in unpadded
//! standard base64 (as connect-go writes it), and `debug` is the detail printed
//! as JSON when the backend's descriptors know its type (left out otherwise,
//! as connect-go does without descriptors).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use prost_reflect::DescriptorPool;
use switchboard_transcode as transcode;
use tonic::{Code, Status};

use super::codec::json_options;

/// Connect's name for a gRPC code (the same sixteen codes, lower snake case).
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary Connect error. The specification's table is
/// grpc-gateway's, code for code (499, 500, 400, 504, 404, 409, 403, 429, 400,
/// 409, 400, 501, 500, 503, 500, 401), so the gateway's one table serves both;
/// the unit test pins every code, so a divergence on either side shows.
pub(crate) fn http_status(code: Code) -> u16 {
    transcode::http_status_for(code as i32)
}

/// The Connect error JSON for `status`. `pool` decodes the details' `debug`.
pub(crate) fn error_json(pool: Option<&DescriptorPool>, status: &Status) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + status.message().len());
    out.extend_from_slice(b"{\"code\":\"");
    // Connect has no "ok" error: an OK status here is a bug upstream; say unknown.
    let code = match status.code() {
        Code::Ok => Code::Unknown,
        c => c,
    };
    out.extend_from_slice(code_name(code).as_bytes());
    out.push(b'"');
    if !status.message().is_empty() {
        out.extend_from_slice(b",\"message\":");
        push_json_string(&mut out, status.message());
    }
    let details = if status.details().is_empty() {
        Vec::new()
    } else {
        transcode::status_details(status.details())
    };
    if !details.is_empty() {
        out.extend_from_slice(b",\"details\":[");
        let opts = json_options(false);
        for (i, d) in details.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"type\":");
            push_json_string(&mut out, d.type_name());
            out.extend_from_slice(b",\"value\":\"");
            out.extend_from_slice(STANDARD_NO_PAD.encode(&d.value).as_bytes());
            out.push(b'"');
            if let Some(debug) =
                pool.and_then(|p| transcode::message_to_json(p, &opts, d.type_name(), &d.value))
            {
                out.extend_from_slice(b",\"debug\":");
                out.extend_from_slice(&debug);
            }
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
    out
}

/// Appends `s` as a JSON string.
pub(crate) fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly what JSON requires; a str cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}
