//! Differential target: the one-pass protobuf -> JSON printer against the
//! prost-reflect reference path, on fuzzed descriptors (proto2/proto3, every
//! field kind, maps, oneofs, well-known types, out-of-order and sparse field
//! numbers) and fuzzed wire bytes, under every combination of the print
//! options. Where the one-pass printer answers, it must answer exactly what
//! the reference answers; where the reference fails, it must not answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_transcode::JsonOptions;
use switchboard_transcode::fuzzing::{Source, descriptors, differential, message};

fuzz_target!(|data: &[u8]| {
    let mut src = Source::new(data);
    let Some((_pool, root)) = descriptors(&mut src) else {
        return;
    };
    let flags = src.byte();
    let opts = JsonOptions {
        emit_unpopulated: flags & 1 != 0,
        strict: false,
        use_proto_names: flags & 2 != 0,
        enums_as_ints: flags & 4 != 0,
    };
    // Generated messages reach deep into the schema; raw bytes find what the
    // generator never writes.
    let proto = if flags & 8 != 0 {
        src.rest().to_vec()
    } else {
        message(&mut src, &root, 0)
    };
    let (one, reference) = differential(&root, &opts, &proto);
    if let Some(one) = one {
        match reference {
            Ok(r) => assert!(
                one == r,
                "one-pass {:?} != reference {:?}",
                String::from_utf8_lossy(&one),
                String::from_utf8_lossy(&r)
            ),
            Err(e) => panic!(
                "one-pass printed {:?} where the reference fails: {e}",
                String::from_utf8_lossy(&one)
            ),
        }
    }
});
