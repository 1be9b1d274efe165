//! The one-pass printer against the reference path: a generated corpus over
//! random descriptors and messages (the same generator the fuzz target uses),
//! and checks that ordinary responses really take the one-pass path.

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};

use super::generate::{Source, descriptors, json, message};
use super::{differential, differential_request, response_to_json, same_request};
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

#[test]
fn generated_request_corpus_agrees_with_the_reference() {
    let (mut cases, mut one_pass, mut both_failed) = (0, 0, 0);
    for seed in 0..1500u64 {
        let data = bytes(seed ^ 0x5eed, 4096);
        let mut src = Source::new(&data);
        let Some((_pool, root)) = descriptors(&mut src) else {
            continue;
        };
        for _ in 0..6 {
            let Some(body) = json(&mut src, &root) else {
                continue;
            };
            for strict in [false, true] {
                cases += 1;
                match differential_request(&root, strict, &body) {
                    (Some(one), Ok(r)) => {
                        one_pass += 1;
                        assert!(
                            same_request(&root, &one, &r),
                            "seed {seed}, strict {strict}: {} gave {one:02x?}, reference {r:02x?}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    (Some(one), Err(e)) => panic!(
                        "seed {seed}, strict {strict}: {} gave {one:02x?} where the reference fails: {e}",
                        String::from_utf8_lossy(&body)
                    ),
                    (None, Err(_)) => both_failed += 1,
                    (None, Ok(_)) => {}
                }
            }
        }
    }
    eprintln!("{cases} request cases, {one_pass} in one pass, {both_failed} failed on both paths");
    assert!(cases > 5_000, "{cases} cases");
    assert!(one_pass * 3 > cases, "{one_pass} of {cases} in one pass");
    assert!(both_failed > 500, "{both_failed} failures");
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
            let reference = crate::writer::reference_response_to_json(&plan, &o, &proto);
            assert_eq!(one.unwrap(), reference.unwrap(), "{method} {o:?}");
        }
    }
}

/// Ordinary requests (a whole-message body, a body field with a top-level
/// path variable, a streamed message) take the one-pass path; nested path
/// variables, query parameters and PATCH masks take the reference path.
#[test]
fn ordinary_requests_take_the_one_pass_path() {
    use crate::{Codec, RequestBody};
    let json = |b: &'static [u8]| RequestBody {
        bytes: b,
        content_type: Some("application/json"),
        codec: Codec::Json,
    };
    let opts = JsonOptions::default();
    let whole = MethodPlan::new(
        &crate::tests::method("t.Svc/Echo"),
        "*",
        &["display_name"],
        "",
    )
    .unwrap();
    let body = br#"{"scalars":{"i64":"5","s":"x","color":"RED"},"tags":["a","b"],
        "counts":{"k":1},"text":"t","opt":0,"ts":"2024-01-02T03:04:05Z","label":"body"}"#;
    let one = super::request_to_proto(&whole, &opts, &json(body), &["path".into()], None);
    let one = one.expect("whole-message body in one pass");
    let reference = crate::request::reference_request_to_proto(
        &whole,
        &opts,
        json(body),
        &["path".into()],
        None,
    )
    .unwrap();
    assert!(same_request(&whole.input, &one, &reference));
    // The path variable won over the body.
    let msg = DynamicMessage::decode(whole.input.clone(), one).unwrap();
    assert_eq!(
        msg.get_field_by_name("display_name").unwrap().as_str(),
        Some("path")
    );

    let field =
        MethodPlan::new(&crate::tests::method("t.Svc/Get"), "inner", &["name"], "").unwrap();
    let got = super::request_to_proto(
        &field,
        &opts,
        &json(br#"{"name":"n","n":3}"#),
        &["x".into()],
        None,
    );
    assert!(got.is_some(), "body field with a path variable in one pass");
    let streamed = super::message_from_json(&field, &opts, br#"{"name":"n","ids":[1,2]}"#);
    assert!(streamed.is_some(), "streamed message in one pass");

    let nested =
        MethodPlan::new(&crate::tests::method("t.Svc/Get"), "", &["inner.name"], "").unwrap();
    assert!(super::request_to_proto(&nested, &opts, &json(b""), &["x".into()], None).is_none());
    assert!(
        super::request_to_proto(&field, &opts, &json(b"{}"), &["x".into()], Some("id=1")).is_none()
    );
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

/// Plans prepared with one cache share one compiled library per direction:
/// a type reachable from several roots (`t.Inner` from `All` and `Small`) is
/// compiled once, and the shared programs print and encode as the reference.
#[test]
fn a_cache_compiles_each_type_once_for_all_its_plans() {
    let mut cache = crate::ProgramCache::default();
    let mut echo = MethodPlan::new(&crate::tests::method("t.Svc/Echo"), "*", &[], "").unwrap();
    let mut get = MethodPlan::new(&crate::tests::method("t.Svc/Get"), "*", &[], "").unwrap();
    let mut again = MethodPlan::new(&crate::tests::method("t.Svc/Get"), "", &["name"], "").unwrap();
    for plan in [&mut echo, &mut get, &mut again] {
        plan.prepare(&mut cache);
    }
    cache.finish();
    let (e, g, a) = (&echo.onepass, &get.onepass, &again.onepass);
    fn out(s: &super::Slot) -> &super::program::Program {
        s.response.get().and_then(Option::as_ref).expect("compiled")
    }
    fn inp(s: &super::Slot) -> &super::encode::InProgram {
        s.request.get().and_then(Option::as_ref).expect("compiled")
    }
    assert!(out(e).same_lib(out(g)) && inp(e).same_lib(inp(g)));
    assert!(
        std::sync::Arc::ptr_eq(&g.response, &a.response),
        "one program per type"
    );
    let names = inp(e).lib_names();
    assert_eq!(names.iter().filter(|n| **n == "t.Inner").count(), 1);
    assert!(names.contains(&"t.Small") && names.contains(&"t.All"));
    let inner = out(e)
        .msgs()
        .iter()
        .filter(|m| m.desc.full_name() == "t.Inner")
        .count();
    assert_eq!(inner, 1, "t.Inner printed by one record");

    let desc = get.output.clone();
    let mut msg = DynamicMessage::new(desc.clone());
    msg.set_field_by_name("name", Value::String("n\"q".into()));
    let mut inner = DynamicMessage::new(
        desc.get_field_by_name("inner")
            .unwrap()
            .kind()
            .as_message()
            .unwrap()
            .clone(),
    );
    inner.set_field_by_name("name", Value::String("in".into()));
    msg.set_field_by_name("inner", Value::Message(inner));
    let proto = msg.encode_to_vec();
    for o in all_opts() {
        let one = response_to_json(&get, &o, &proto).expect("one pass");
        let reference = crate::writer::reference_response_to_json(&get, &o, &proto).unwrap();
        assert_eq!(one, reference, "{o:?}");
    }
    let body = br#"{"name":"x","inner":{"name":"y","child":{"n":2}},"labels":{"a":"b"}}"#;
    let one = super::message_from_json(&get, &JsonOptions::default(), body).expect("one pass");
    let (_, reference) = differential_request(&get.input, false, body);
    assert!(same_request(&get.input, &one, &reference.unwrap()));
}
