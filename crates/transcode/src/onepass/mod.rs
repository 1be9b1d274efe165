//! One-pass transcoding: protobuf wire bytes straight to JSON, driven by a
//! program compiled once per route, without materializing a `DynamicMessage`
//! (the approach of Envoy's transcoder, whose `ProtoStreamObjectSource` walks
//! the wire format and writes JSON as it goes).
//!
//! The prost-reflect path (`DynamicMessage` + the writer in `response.rs`)
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
//! The program is compiled on a route's first response (not at table build,
//! which stays as fast and as small as before) and shared by the plan's clones.
//!
//! Equality with the reference is checked three ways: every unit test of this
//! crate runs both paths and compares them (see `response.rs`), a generated
//! corpus over random descriptors and messages runs as an ordinary test
//! (`tests.rs`), and a cargo-fuzz target (`fuzz/fuzz_targets/onepass.rs`)
//! does the same on fuzzed descriptors and inputs.

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod generate;
pub(crate) mod print;
pub(crate) mod program;
#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use crate::{JsonOptions, MethodPlan};
use program::Program;

/// A route's one-pass program, compiled on first use and shared by clones of
/// the plan. `None` inside: the route always takes the reference path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot(Arc<OnceLock<Option<Program>>>);

impl Slot {
    fn response(&self, plan: &MethodPlan) -> Option<&Program> {
        self.0
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

/// Test builds: the one-pass output must be the reference output.
#[cfg(test)]
pub(crate) fn assert_same_as_reference(
    plan: &MethodPlan,
    opts: &JsonOptions,
    proto: &[u8],
    json: &[u8],
) {
    let reference = crate::response::reference_response_to_json(plan, opts, proto);
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
        crate::response::reference_message_json(desc, opts, proto),
    )
}
