//! The request decoder on arbitrary bodies: JSON and binary protobuf, strict and
//! lenient, against every body shape. It must never panic; every failure is a
//! `TranscodeError` (a 400 for the client).

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use switchboard_transcode::{Codec, JsonOptions, RequestBody, decode_request};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let plans = common::plans();
    let plan = &plans[usize::from(selector) % plans.len()];
    let codec = if selector & 0x80 == 0 {
        Codec::Json
    } else {
        Codec::Protobuf
    };
    let opts = JsonOptions {
        strict: selector & 0x40 != 0,
        ..JsonOptions::default()
    };
    let path: Vec<String> = plan
        .path_fields
        .iter()
        .map(|_| "shelves/1".into())
        .collect();
    let body = RequestBody {
        bytes: body,
        content_type: Some("application/json"),
        codec,
    };
    let _ = decode_request(plan, &opts, body, &path, None);
});
