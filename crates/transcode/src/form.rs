//! HTML form bodies (`application/x-www-form-urlencoded`) bound like query
//! parameters, as grpc-gateway's generated handlers do for a route without a
//! `body`: they call Go's `Request.ParseForm`, which reads a POST, PUT or PATCH
//! body of that media type, and populate the request from `Request.Form`, the
//! body's values followed by the query's, grouped by key. So a form field and
//! a query parameter naming the same singular field are "too many values", and
//! path-bound fields are filtered out as for the query. This is also what
//! grpc-gateway's POST-to-GET path-length fallback relies on: the form carries
//! what a too-long GET URL would have.

use std::borrow::Cow;

use crate::{BodyPlan, MethodPlan, TranscodeError};

/// The form media type (grpc-gateway's path-length fallback wants exactly this
/// `Content-Type`; `ParseForm` accepts parameters such as `; charset=utf-8`).
pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether `content_type`'s media type is [`FORM_MEDIA_TYPE`], parameters
/// allowed and case ignored (Go's `mime.ParseMediaType`).
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM_MEDIA_TYPE))
}

/// The parameter string to bind for a request to `plan`'s route: the query as
/// sent, or, when the route has no `body` and the request is a POST, PUT or
/// PATCH with a form body, the form's pairs followed by the query's (Go's
/// `Request.Form` order, which [`crate::decode_request`]'s query binding then
/// groups by key). `None` when there is nothing to bind.
pub fn form_parameters<'a>(
    plan: &MethodPlan,
    http_method: &str,
    content_type: Option<&str>,
    body: &[u8],
    query: Option<&'a str>,
) -> Result<Option<Cow<'a, str>>, TranscodeError> {
    let reads_form = matches!(plan.body, BodyPlan::None)
        && matches!(http_method, "POST" | "PUT" | "PATCH")
        && is_form(content_type);
    if !reads_form || body.is_empty() {
        return Ok(query.map(Cow::Borrowed));
    }
    let form = std::str::from_utf8(body)
        .map_err(|_| TranscodeError("invalid form body: not valid UTF-8".into()))?;
    Ok(Some(match query {
        Some(q) if !q.is_empty() => Cow::Owned(format!("{form}&{q}")),
        _ => Cow::Owned(form.to_owned()),
    }))
}
