//! One-pass transcoding: protobuf wire bytes straight to JSON, driven by a
//! program compiled once per route, without materializing a `DynamicMessage`
//! (the approach of Envoy's transcoder, whose `ProtoStreamObjectSource` walks
//! the wire format and writes JSON as it goes).
//!
//! The prost-reflect path (`DynamicMessage` + the writer in `writer.rs`)
//! stays the reference and the fallback: the route's plan decides which runs.
//! - At plan time: a route whose response type itself prints through the
//!   reference path (`Any`, `Struct`, ... as the whole response), or that uses
//!   `response_body`, has no program and always takes the reference path.
//! - Per message: sub-messages of types the program marks
//!   [`program::Shape::Reference`] are decoded by prost-reflect and printed by
//!   the reference writer in place.
//! - Per response: input the printer does not reproduce itself (see
//!   [`print`]'s doc) makes it bail, and the reference path answers, errors
//!   included, so both paths always give the same bytes.
//!
//! The programs are compiled at table build ([`MethodPlan::prepare`] into a
//! [`ProgramCache`]), so the request path never compiles one: one library of
//! compiled message types per pool and direction, which every route's program
//! indexes into, so a type many routes reach is held once. (A plan nobody
//! prepared compiles a library of its own on its first use.)
//!
//! Equality with the reference is checked three ways: every unit test of this
//! crate runs both paths and compares them (see `response.rs`), a generated
//! corpus over random descriptors and messages runs as an ordinary test
//! (`tests.rs`), and a cargo-fuzz target (`fuzz/fuzz_targets/onepass.rs`)
//! does the same on fuzzed descriptors and inputs.

pub(crate) mod encode;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod generate;
pub(crate) mod print;
pub(crate) mod program;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, Value};

use crate::parse::{Syntax, parse_leaf};
use crate::{BodyPlan, Codec, JsonOptions, MethodPlan, RequestBody};
use encode::{Ctx, InProgram};
use program::Program;

/// A route's one-pass programs, each compiled once (at table build, see
/// [`MethodPlan::prepare`], else on first use) and shared by clones of the
/// plan and, through a [`ProgramCache`], by every route of the same pool with
/// the same message type. `None` inside: the route always takes the
/// reference path that way.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot {
    response: Shared<Program>,
    request: Shared<InProgram>,
}

/// A program compiled on its first use, shared by whoever holds the `Arc`.
type Shared<T> = Arc<OnceLock<Option<T>>>;

impl Slot {
    fn request(&self, plan: &MethodPlan) -> Option<&InProgram> {
        self.request
            .get_or_init(|| InProgram::compile(&plan.input))
            .as_ref()
    }

    fn response(&self, plan: &MethodPlan) -> Option<&Program> {
        self.response
            .get_or_init(|| {
                // grpc-gateway marshals a response_body field's Go value, not
                // the message: the reference writer owns those rules.
                if plan.response_body.is_some() {
                    return None;
                }
                Program::compile(&plan.output)
            })
            .as_ref()
    }
}

/// The one-pass programs of one descriptor pool's message types, for a table
/// build: a program depends only on its message type (the request encoder on
/// the input, the response printer on the output), so the routes of every
/// method and binding with the same types share one, and every program of the
/// cache shares one library of compiled message types per direction (a type
/// reachable from many roots is compiled once). Use one cache per pool (a name
/// means one type only within a pool), and call [`ProgramCache::finish`] once
/// every route is prepared (dropping the cache does the same).
#[derive(Debug, Default)]
pub struct ProgramCache {
    requests: HashMap<String, Shared<InProgram>>,
    responses: HashMap<String, Shared<Program>>,
    in_compiler: encode::InCompiler,
    out_compiler: program::Compiler,
    /// Slots to fill at [`ProgramCache::finish`], with their roots' indices.
    pending_requests: Vec<(u32, Shared<InProgram>)>,
    pending_responses: Vec<(u32, Shared<Program>)>,
}

impl ProgramCache {
    /// Publishes the compiled libraries to every plan prepared with this
    /// cache. Until then those plans would compile their own programs on
    /// first use; a table build calls this before any request can arrive.
    pub fn finish(&mut self) {
        if !self.pending_requests.is_empty() {
            let lib = Arc::new(std::mem::take(&mut self.in_compiler).finish());
            for (root, slot) in self.pending_requests.drain(..) {
                // A slot used before `finish` compiled its own program: keep it.
                let _ = slot.set(InProgram::of(&lib, root));
            }
        }
        if !self.pending_responses.is_empty() {
            let lib = Arc::new(std::mem::take(&mut self.out_compiler).finish());
            for (root, slot) in self.pending_responses.drain(..) {
                let _ = slot.set(Program::of(&lib, root));
            }
        }
        self.requests.clear();
        self.responses.clear();
    }
}

impl Drop for ProgramCache {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The program slot of message type `name` in one direction's `slots`: the
/// one already made for it, or a new one, queued in `pending` with the root
/// index `compile` gives it in that direction's library.
fn slot_for<T>(
    slots: &mut HashMap<String, Shared<T>>,
    pending: &mut Vec<(u32, Shared<T>)>,
    name: &str,
    compile: impl FnOnce() -> u32,
) -> Shared<T> {
    if let Some(slot) = slots.get(name) {
        return slot.clone();
    }
    let slot = Shared::default();
    pending.push((compile(), slot.clone()));
    slots.insert(name.to_owned(), slot.clone());
    slot
}

impl MethodPlan {
    /// Compiles the route's one-pass programs (request encoder and response
    /// printer) into `cache`'s libraries, or takes them from `cache`; they
    /// reach the plan at [`ProgramCache::finish`]. The table builder calls it
    /// for every route, so that no request pays for a compilation.
    pub fn prepare(&mut self, cache: &mut ProgramCache) {
        let (input, output) = (&self.input, &self.output);
        self.onepass.request = slot_for(
            &mut cache.requests,
            &mut cache.pending_requests,
            input.full_name(),
            || cache.in_compiler.root(input),
        );
        // grpc-gateway marshals a response_body field's Go value, not the
        // message: the reference writer owns those rules (no program).
        if self.response_body.is_none() {
            self.onepass.response = slot_for(
                &mut cache.responses,
                &mut cache.pending_responses,
                output.full_name(),
                || cache.out_compiler.root(output),
            );
        }
    }
}

/// The response as JSON through the one-pass printer, or `None` when the
/// reference path must answer (see the module doc).
pub(crate) fn response_to_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    proto: &[u8],
) -> Option<Vec<u8>> {
    let prog = plan.onepass.response(plan)?;
    print::print(prog, opts, proto).ok()
}

/// The request message through the one-pass encoder, or `None` when the
/// reference path must build it: a JSON body (or none) for the whole request
/// or a top-level message field, top-level path variables, and no query
/// parameters (unless the body is `*`, which ignores them) or PATCH mask.
pub(crate) fn request_to_proto(
    plan: &MethodPlan,
    opts: &JsonOptions,
    body: &RequestBody<'_>,
    path_values: &[String],
    query: Option<&str>,
) -> Option<Bytes> {
    let query_applies =
        !matches!(plan.body, BodyPlan::Whole) && query.is_some_and(|q| !q.is_empty());
    if plan.raw_request
        || body.codec != Codec::Json
        || plan.patch_mask.is_some()
        || query_applies
        || path_values.len() != plan.path_fields.len()
        || plan.path_fields.iter().any(|p| p.0.len() != 1)
    {
        return None;
    }
    let prog = plan.onepass.request(plan)?;
    let de_opts = DeserializeOptions::new().deny_unknown_fields(opts.strict);
    let cx = Ctx {
        prog,
        opts: &de_opts,
        strict: opts.strict,
    };
    let blank = body
        .bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let mut segs = match &plan.body {
        BodyPlan::Whole if !blank => encode::decode_root(&cx, body.bytes).ok()?,
        BodyPlan::Field(field) if !blank => {
            if !plan.body_parents.is_empty() {
                return None;
            }
            let (fi, mi) = prog.root_message_field(field.number())?;
            let inner = encode::decode_message(&cx, mi, body.bytes).ok()?;
            let mut seg = Vec::with_capacity(inner.len() + 8);
            prost::encoding::encode_key(
                field.number(),
                prost::encoding::WireType::LengthDelimited,
                &mut seg,
            );
            prost::encoding::encode_varint(inner.len() as u64, &mut seg);
            seg.extend_from_slice(&inner);
            let mut segs = encode::Segments::default();
            segs.set(fi, field.number(), &seg, &[]);
            segs
        }
        _ => encode::Segments::default(),
    };
    // Path variables override the body (grpc-gateway's order), each set as
    // the reference sets it (a top-level variable: convert.go's syntax,
    // repeated split on ',').
    for ((path, leaf), raw) in plan
        .path_fields
        .iter()
        .zip(&plan.path_leaves)
        .zip(path_values)
    {
        let field = &path.0[0];
        let kind = field.kind();
        let value = if field.is_list() {
            let items = raw
                .split(',')
                .map(|s| parse_leaf(&kind, *leaf, s, Syntax::Convert))
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            Value::List(items)
        } else {
            parse_leaf(&kind, *leaf, raw, Syntax::Convert).ok()?
        };
        let mut one = DynamicMessage::new(plan.input.clone());
        one.set_field(field, value);
        let (fi, others) = prog.root_field(field.number())?;
        segs.set(fi, field.number(), &one.encode_to_vec(), &others);
    }
    Some(segs.finish().into())
}

/// One message of a streaming request body through the one-pass encoder.
pub(crate) fn message_from_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    json: &[u8],
) -> Option<Bytes> {
    let prog = plan.onepass.request(plan)?;
    let de_opts = DeserializeOptions::new().deny_unknown_fields(opts.strict);
    let cx = Ctx {
        prog,
        opts: &de_opts,
        strict: opts.strict,
    };
    encode::decode_message(&cx, prog.root(), json)
        .ok()
        .map(Bytes::from)
}

/// Test builds: a one-pass request must be the reference's message: the same
/// bytes, or (maps, which prost-reflect writes in hash order) the same message.
#[cfg(test)]
pub(crate) fn assert_same_request(
    desc: &prost_reflect::MessageDescriptor,
    one: &[u8],
    reference: Result<&[u8], &crate::TranscodeError>,
) {
    let reference = match reference {
        Ok(r) => r,
        Err(e) => panic!("one-pass encoded {one:02x?} where the reference fails: {e}"),
    };
    assert!(
        same_request(desc, one, reference),
        "one-pass {one:02x?} != reference {reference:02x?}"
    );
}

#[cfg(any(test, feature = "fuzzing"))]
fn has_map(desc: &prost_reflect::MessageDescriptor, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == desc.full_name()) {
        return false;
    }
    seen.push(desc.full_name().to_owned());
    desc.fields().any(|f| {
        f.is_map() || matches!(f.kind(), prost_reflect::Kind::Message(m) if has_map(&m, seen))
    })
}

/// Test builds: the one-pass output must be the reference output.
#[cfg(test)]
pub(crate) fn assert_same_as_reference(
    plan: &MethodPlan,
    opts: &JsonOptions,
    proto: &[u8],
    json: &[u8],
) {
    let reference = crate::writer::reference_response_to_json(plan, opts, proto);
    assert_eq!(
        reference.as_deref().map(String::from_utf8_lossy),
        Ok(String::from_utf8_lossy(json)),
        "one-pass and reference disagree on {proto:02x?} ({opts:?})"
    );
}

/// Both paths on one message of type `desc`: the one-pass output (`None`: it
/// bailed) and the reference result. For the differential tests and fuzz
/// target; the one-pass output, when there is one, must equal the reference's.
#[cfg(any(test, feature = "fuzzing"))]
#[allow(unreachable_pub)] // public through `crate::fuzzing` with the feature only
pub fn differential(
    desc: &prost_reflect::MessageDescriptor,
    opts: &JsonOptions,
    proto: &[u8],
) -> (Option<Vec<u8>>, Result<Vec<u8>, crate::TranscodeError>) {
    let one = Program::compile(desc).and_then(|p| print::print(&p, opts, proto).ok());
    (
        one,
        crate::writer::reference_message_json(desc, opts, proto),
    )
}

/// Both request paths on one JSON message of type `desc`: the one-pass
/// encoding (`None`: it declined) and the reference result.
#[cfg(any(test, feature = "fuzzing"))]
#[allow(unreachable_pub)] // public through `crate::fuzzing` with the feature only
pub fn differential_request(
    desc: &prost_reflect::MessageDescriptor,
    strict: bool,
    json: &[u8],
) -> (Option<Vec<u8>>, Result<Vec<u8>, String>) {
    let de_opts = DeserializeOptions::new().deny_unknown_fields(strict);
    let one = InProgram::compile(desc).and_then(|prog| {
        let cx = Ctx {
            prog: &prog,
            opts: &de_opts,
            strict,
        };
        encode::decode_message(&cx, prog.root(), json).ok()
    });
    let mut de = serde_json::Deserializer::from_slice(json);
    let reference = DynamicMessage::deserialize_with_options(desc.clone(), &mut de, &de_opts)
        .and_then(|m| de.end().map(|()| m.encode_to_vec()))
        .map_err(|e| e.to_string());
    (one, reference)
}

/// Whether a one-pass request encoding and the reference's are the same
/// message: the same bytes, or, where maps make the reference's byte order
/// random, the same decoded message.
#[cfg(any(test, feature = "fuzzing"))]
#[allow(unreachable_pub)] // public through `crate::fuzzing` with the feature only
pub fn same_request(desc: &prost_reflect::MessageDescriptor, one: &[u8], reference: &[u8]) -> bool {
    if one == reference {
        return true;
    }
    if !has_map(desc, &mut Vec::new()) {
        return false;
    }
    let decode = |b: &[u8]| DynamicMessage::decode(desc.clone(), b).ok();
    match (decode(one), decode(reference)) {
        (Some(a), Some(b)) if a == b => true,
        // NaN is not equal to itself; printed JSON (maps sorted) compares it.
        (Some(_), Some(_)) => {
            let print = |b: &[u8]| {
                crate::writer::reference_message_json(desc, &JsonOptions::default(), b).ok()
            };
            print(one).is_some_and(|a| Some(a) == print(reference))
        }
        _ => false,
    }
}
