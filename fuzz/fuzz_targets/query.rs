//! The query-string decoder (grpc-gateway's `PopulateQueryParameters` rules) on
//! arbitrary strings, with and without a body, for plans whose messages hold
//! every field kind, maps, oneofs and well-known types. Never a panic.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use switchboard_transcode::{Codec, JsonOptions, RequestBody, decode_request};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(rest) else {
        return;
    };
    let plans = common::plans();
    let plan = &plans[usize::from(selector) % plans.len()];
    let opts = JsonOptions {
        strict: selector & 0x40 != 0,
        ..JsonOptions::default()
    };
    let path: Vec<String> = plan.path_fields.iter().map(|_| "p".into()).collect();
    let body = RequestBody {
        bytes: b"",
        content_type: None,
        codec: Codec::Json,
    };
    let _ = decode_request(plan, &opts, body, &path, Some(query));
});
