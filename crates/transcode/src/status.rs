//! gRPC status to HTTP: grpc-gateway v2's status-code table
//! (runtime/errors.go `HTTPStatusFromCode`) and its error body, which is
//! `google.rpc.Status` printed by the same protojson marshaler as responses
//! (runtime/errors.go `DefaultHTTPErrorHandler`): `{"code":N,"message":"...","details":[...]}`.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::DescriptorPool;

use crate::JsonOptions;
use crate::writer::Writer;

/// The HTTP status grpc-gateway v2 uses for a gRPC status code; 500 for codes it
/// does not know.
pub(crate) fn http_status_for(code: i32) -> u16 {
    match code {
        0 => 200,  // OK
        1 => 499,  // Canceled
        2 => 500,  // Unknown
        3 => 400,  // InvalidArgument
        4 => 504,  // DeadlineExceeded
        5 => 404,  // NotFound
        6 => 409,  // AlreadyExists
        7 => 403,  // PermissionDenied
        8 => 429,  // ResourceExhausted
        9 => 400,  // FailedPrecondition (deliberately not 412)
        10 => 409, // Aborted
        11 => 400, // OutOfRange
        12 => 501, // Unimplemented
        13 => 500, // Internal
        14 => 503, // Unavailable
        15 => 500, // DataLoss
        16 => 401, // Unauthenticated
        _ => 500,
    }
}

/// `google.rpc.Status`, decoded from `grpc-status-details-bin`. Only the details are
/// used: code and message come from `grpc-status`/`grpc-message`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}

/// The standard google.rpc types (Status, Code and the error details:
/// BadRequest, ErrorInfo, RetryInfo, ...), compiled from the bundled protos at
/// build time (see build.rs).
pub(crate) fn standard_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(&include_bytes!(concat!(env!("OUT_DIR"), "/google_rpc.bin"))[..])
            .expect("bundled google.rpc descriptors decode")
    })
}

/// The pool a detail is printed through: the backend's when it knows the type
/// (its own version wins), else the standard google.rpc types when they have
/// it, so a grpcio backend's BadRequest prints decoded as in grpc-gateway.
fn detail_pool<'p>(backend: &'p DescriptorPool, type_url: &str) -> &'p DescriptorPool {
    let name = type_url.rsplit_once('/').map_or(type_url, |(_, n)| n);
    if backend.get_message_by_name(name).is_none()
        && standard_pool().get_message_by_name(name).is_some()
    {
        return standard_pool();
    }
    backend
}

pub(crate) fn status_to_json(
    pool: Option<&DescriptorPool>,
    opts: &JsonOptions,
    code: i32,
    message: &str,
    details_bin: Option<&[u8]>,
) -> Vec<u8> {
    // A trailer that does not decode is ignored rather than failing the error
    // response itself.
    let details = details_bin
        .and_then(|b| RpcStatus::decode(b).ok())
        .map(|s| s.details)
        .unwrap_or_default();
    let mut w = Writer::new(opts, 64 + message.len());
    w.out.push(b'{');
    let mut comma = false;
    if code != 0 || opts.emit_unpopulated {
        w.out.extend_from_slice(b"\"code\":");
        w.out.extend_from_slice(code.to_string().as_bytes());
        comma = true;
    }
    if !message.is_empty() || opts.emit_unpopulated {
        if comma {
            w.out.push(b',');
        }
        w.out.extend_from_slice(b"\"message\":");
        w.string(message);
        comma = true;
    }
    if !details.is_empty() || opts.emit_unpopulated {
        if comma {
            w.out.push(b',');
        }
        w.out.extend_from_slice(b"\"details\":[");
        let empty = DescriptorPool::new();
        let backend_pool = pool.unwrap_or(&empty);
        for (i, any) in details.iter().enumerate() {
            if i > 0 {
                w.out.push(b',');
            }
            let mark = w.out.len();
            let pool = detail_pool(backend_pool, &any.type_url);
            if w.any_parts(pool, &any.type_url, &any.value).is_err() {
                // A detail that cannot be printed (bytes that do not decode as the
                // named type): fall back to the opaque form rather than lose the error.
                w.out.truncate(mark);
                w.any_parts(&empty, &any.type_url, &any.value)
                    .expect("opaque Any form cannot fail");
            }
        }
        w.out.push(b']');
    }
    w.out.push(b'}');
    w.out
}
