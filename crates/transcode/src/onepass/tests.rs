//! The one-pass printer against the reference path: a generated corpus over
//! random descriptors and messages (the same generator the fuzz target uses),
//! and checks that ordinary responses really take the one-pass path.

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};

use super::generate::{Source, descriptors, message};
use super::{differential, response_to_json};
use crate::{JsonOptions, MethodPlan};

/// Every combination of the four print options.
fn all_opts() -> Vec<JsonOptions> {
    (0..16u8)
        .map(|b| JsonOptions {
            emit_unpopulated: b & 1 != 0,
            strict: b & 2 != 0,
            use_proto_names: b & 4 != 0,
            enums_as_ints: b & 8 != 0,
        })
        .collect()
}

/// xorshift64*: a reproducible byte stream per seed.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn generated_corpus_agrees_with_the_reference() {
    let opts = all_opts();
    let (mut cases, mut one_pass, mut both_failed) = (0, 0, 0);
    for seed in 0..1500u64 {
        let data = bytes(seed, 4096);
        let mut src = Source::new(&data);
        let Some((_pool, root)) = descriptors(&mut src) else {
            continue;
        };
        for i in 0..4 {
            // Mostly generated messages; raw bytes too, as the fuzz target does.
            let proto = if i == 3 {
                let rest = src.rest();
                rest[..rest.len().min((seed % 40) as usize)].to_vec()
            } else {
                message(&mut src, &root, 0)
            };
            for o in &opts[..] {
                cases += 1;
                let (one, reference) = differential(&root, o, &proto);
                match (one, reference) {
                    (Some(one), Ok(r)) => {
                        one_pass += 1;
                        assert_eq!(
                            String::from_utf8_lossy(&one),
                            String::from_utf8_lossy(&r),
                            "seed {seed}, {o:?}, input {proto:02x?}"
                        );
                    }
                    (Some(one), Err(e)) => panic!(
                        "seed {seed}: one-pass printed {} where the reference fails ({e}), \
                         {o:?}, input {proto:02x?}",
                        String::from_utf8_lossy(&one)
                    ),
                    (None, Err(_)) => both_failed += 1,
                    (None, Ok(_)) => {}
                }
            }
        }
    }
    eprintln!("{cases} cases, {one_pass} in one pass, {both_failed} failed on both paths");
    // Not vacuous: most cases really ran in one pass, and errors were exercised.
    assert!(cases > 50_000, "{cases} cases");
    assert!(one_pass * 3 > cases, "{one_pass} of {cases} in one pass");
    assert!(both_failed > 1000, "{both_failed} failures");
}

/// Ordinary responses (every field kind of the crate's test schema, set and
/// unset) take the one-pass path, so the differential checks in the other
/// unit tests compare two different printers.
#[test]
fn ordinary_responses_take_the_one_pass_path() {
    for method in [
        "t.Svc/Echo",
        "t.Svc/Get",
        "t.Svc/Order",
        "t.Svc/Scalar",
        "t2.S2/Get",
    ] {
        let plan = MethodPlan::new(&crate::tests::method(method), "*", &[], "").unwrap();
        let mut msg = DynamicMessage::new(plan.output.clone());
        for field in plan.output.fields() {
            let value = match field.kind() {
                prost_reflect::Kind::Message(m)
                    if m.full_name().starts_with("google.protobuf.") =>
                {
                    continue;
                }
                _ if field.is_list() || field.is_map() => continue,
                kind => Value::default_value(&kind),
            };
            msg.set_field(&field, value);
        }
        let proto = msg.encode_to_vec();
        for o in all_opts() {
            let one = response_to_json(&plan, &o, &proto);
            assert!(one.is_some(), "{method} bailed");
            let reference = crate::response::reference_response_to_json(&plan, &o, &proto);
            assert_eq!(one.unwrap(), reference.unwrap(), "{method} {o:?}");
        }
    }
}

/// Routes whose output the reference writer owns get no program.
#[test]
fn response_body_and_whole_well_known_responses_use_the_reference_path() {
    let plan = MethodPlan::new(&crate::tests::method("t.Svc/Get"), "*", &[], "name").unwrap();
    assert!(response_to_json(&plan, &JsonOptions::default(), b"").is_none());
    let pool = DescriptorPool::global();
    let any = pool.get_message_by_name("google.protobuf.Struct").unwrap();
    assert!(super::program::Program::compile(&any).is_none());
}
