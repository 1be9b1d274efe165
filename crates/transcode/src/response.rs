//! Protobuf response bytes to JSON: the one entry point every call shape's
//! response goes through. The route's plan picks the one-pass printer
//! (`onepass/`) or the reference printer (`writer.rs`); both print by the same
//! rules, through the same `Writer`.

use crate::writer::reference_response_to_json;
use crate::{JsonOptions, MethodPlan, TranscodeError};

/// The route's plan decides the path: the one-pass printer (wire bytes straight
/// to JSON, see [`crate::onepass`]) when the route has a compiled program and the
/// bytes stay within what it handles, else the reference path (`writer.rs`), which also
/// writes every error (so both paths fail with the same message).
pub(crate) fn response_to_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    proto: &[u8],
) -> Result<Vec<u8>, TranscodeError> {
    if let Some(json) = crate::onepass::response_to_json(plan, opts, proto) {
        // Every unit test of this crate doubles as a differential test.
        #[cfg(test)]
        crate::onepass::assert_same_as_reference(plan, opts, proto, &json);
        return Ok(json);
    }
    reference_response_to_json(plan, opts, proto)
}
