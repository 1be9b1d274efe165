//! Differential target: the one-pass JSON -> protobuf encoder against
//! prost-reflect's deserializer, on fuzzed descriptors and JSON (a rendering
//! of a fuzzed message with odd values swapped in, or the raw input). Where the
//! one-pass encoder answers, its bytes must be the reference's (or, where maps
//! make the reference's byte order random, the same message); where the
//! reference fails, it must not answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_transcode::fuzzing::{
    Source, descriptors, differential_request, json, same_request,
};

fuzz_target!(|data: &[u8]| {
    let mut src = Source::new(data);
    let Some((_pool, root)) = descriptors(&mut src) else {
        return;
    };
    let flags = src.byte();
    let body = if flags & 2 != 0 {
        src.rest().to_vec()
    } else {
        match json(&mut src, &root) {
            Some(b) => b,
            None => return,
        }
    };
    let (one, reference) = differential_request(&root, flags & 1 != 0, &body);
    if let Some(one) = one {
        match reference {
            Ok(r) => assert!(
                same_request(&root, &one, &r),
                "one-pass {one:02x?} != reference {r:02x?}"
            ),
            Err(e) => panic!("one-pass encoded {one:02x?} where the reference fails: {e}"),
        }
    }
});
