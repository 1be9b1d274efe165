//! The google.api.http path template language: parser and single-template matcher.
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! A parsed [`Template`] is kept *flat*: its [`Segment`]s are the shape the path
//! must have (variables contribute their inner segments, `{x}` being `{x=*}`),
//! and each [`Variable`] records which range of those segments it captures. The
//! flat shape is what the route table's trie and its conflict detection work on;
//! the variable ranges are only needed once a route has been chosen, to extract
//! the captured values.
//!
//! Parsing follows grpc-gateway's `internal/httprule` where the spec is silent:
//!
//! - A colon in the *last* segment starts the verb; when that segment is a
//!   literal the *last* colon is used (`/v1/a:b:c` is literal `a:b`, verb `c`), and
//!   after a variable or wildcard everything after the colon is the verb.
//!   Colons in earlier segments and inside variables are part of literals.
//! - Literals are RFC 3986 `pchar`s (unreserved, sub-delims, `:`, `@`, and
//!   well-formed `%XX`).
//!
//! and is stricter in two places, because both are almost certainly mistakes:
//!
//! - `*` is only accepted as a whole segment (`*` or `**`): grpc-gateway would
//!   silently take `/files/*.txt` as the literal `*.txt`.
//! - At most one `**` per template (grpc-gateway's pattern compiler also rejects
//!   a second one). With a single `**` every other segment has a fixed width, so
//!   how many segments the `**` consumes is determined by the path length and the
//!   captures are never ambiguous.

use std::fmt;
use std::ops::Range;

/// One segment of a template's flat shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches exactly this (still percent-encoded) path segment.
    Literal(String),
    /// `*`: exactly one segment, which may be empty.
    Wildcard,
    /// `**`: zero or more segments.
    DeepWildcard,
}

/// A `{field.path=...}` variable of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The dotted field path, e.g. `book.name`.
    pub field_path: String,
    /// The range of [`Template::segments`] this variable captures.
    pub segments: Range<usize>,
    /// Whether the variable can span several path segments (more than one inner
    /// segment, or a `**`). This decides how its value is percent-decoded: a
    /// single-segment value decodes everything, a multi-segment one keeps `%2F`.
    pub multi_segment: bool,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
    /// Index of the single `**` segment, if any.
    deep: Option<usize>,
}

/// A template that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path template {template:?} at byte {position}: {message}")]
pub struct ParseError {
    /// The template as written.
    pub template: String,
    /// Byte offset into the template where the problem was found.
    pub position: usize,
    /// What is wrong with it, worded for `/status` and `switchboard check`.
    pub message: String,
}

/// A captured path value that cannot be decoded. The request is the client's
/// fault (HTTP 400), as in grpc-gateway's `MalformedSequenceError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// A `%` not followed by two hex digits; carries the offending text.
    #[error("malformed path escape {0:?}")]
    MalformedEscape(String),
    /// The decoded bytes are not UTF-8, so they cannot be a protobuf string.
    #[error("path value {0:?} is not valid UTF-8 after percent-decoding")]
    InvalidUtf8(String),
}

impl Template {
    /// Parses a template such as `/v1/{name=shelves/*/books/*}:archive`.
    pub fn parse(source: &str) -> Result<Template, ParseError> {
        Parser::new(source).parse()
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The flat shape: what each path segment must be.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The variables in template order (the order path values are returned in).
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The custom verb without its colon, if any.
    pub fn verb(&self) -> Option<&str> {
        self.verb.as_deref()
    }

    /// The template with variable names erased (`/v1/*/books/**:verb`). Two
    /// templates with the same shape match exactly the same set of paths.
    pub fn shape(&self) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Literal(lit) => out.push_str(lit),
                Segment::Wildcard => out.push('*'),
                Segment::DeepWildcard => out.push_str("**"),
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// Matches a raw (still percent-encoded) request path against this template
    /// alone, verb included. Returns the decoded variable values in template
    /// order, `Ok(None)` if the path does not match, or an error if it matches
    /// but a captured value is malformed.
    ///
    /// The route table does not call this per route: it finds the route with its
    /// trie and only then calls [`Template::capture`].
    pub fn match_path(&self, path: &str) -> Result<Option<Vec<String>>, CaptureError> {
        let Some(rest) = path.strip_prefix('/') else {
            return Ok(None);
        };
        let rest = match &self.verb {
            None => rest,
            Some(verb) => match strip_verb(rest, verb) {
                Some(stripped) => stripped,
                None => return Ok(None),
            },
        };
        self.capture(rest)
    }

    /// Matches the path *segments* (the path after its leading `/`, with this
    /// template's verb already removed) and extracts the variable values.
    pub fn capture(&self, rest: &str) -> Result<Option<Vec<String>>, CaptureError> {
        self.capture_with(rest, Decoding::ExceptSlash)
    }

    /// [`Template::capture`] with the given decoding of multi-segment values.
    pub(crate) fn capture_with(
        &self,
        rest: &str,
        decoding: Decoding,
    ) -> Result<Option<Vec<String>>, CaptureError> {
        let spans = segment_spans(rest);
        let Some(layout) = Layout::new(spans.len(), self.segments.len(), self.deep) else {
            return Ok(None);
        };
        for (i, seg) in self.segments.iter().enumerate() {
            if let Segment::Literal(lit) = seg {
                let span = spans[layout.covered(i).start].clone();
                if &rest[span] != lit {
                    return Ok(None);
                }
            }
        }
        let variables = self
            .variables
            .iter()
            .map(|v| (v.segments.clone(), v.multi_segment));
        extract(rest, &spans, &layout, variables, decoding).map(Some)
    }

    /// What the route table keeps of this template (see [`Captures`]).
    pub(crate) fn captures(&self) -> Captures {
        Captures {
            width: self.segments.len(),
            deep: self.deep,
            variables: self
                .variables
                .iter()
                .map(|v| (v.segments.clone(), v.multi_segment))
                .collect(),
        }
    }
}

/// The part of a [`Template`] the route table keeps per route: enough to
/// extract the variable values from a path that the trie has already matched
/// against the template's literals and verb. The whole template (its source,
/// literals and field paths, a few hundred bytes in several allocations) was a
/// large share of the table's memory, for nothing the request path reads.
#[derive(Debug, Clone)]
pub(crate) struct Captures {
    /// Number of segments in the flat shape.
    width: usize,
    /// Index of the `**` segment, if any.
    deep: Option<usize>,
    /// Each variable's segment range, and whether it is multi-segment.
    variables: Box<[(Range<usize>, bool)]>,
}

impl Captures {
    /// [`Template::capture`] without the literal checks: `rest` must be a path
    /// the trie matched to this template.
    pub(crate) fn capture(
        &self,
        rest: &str,
        decoding: Decoding,
    ) -> Result<Option<Vec<String>>, CaptureError> {
        let spans = segment_spans(rest);
        let Some(layout) = Layout::new(spans.len(), self.width, self.deep) else {
            return Ok(None);
        };
        extract(
            rest,
            &spans,
            &layout,
            self.variables.iter().cloned(),
            decoding,
        )
        .map(Some)
    }
}

/// How the segments of a path line up with a template's flat shape.
struct Layout {
    deep: Option<usize>,
    /// Number of path segments the `**` takes; everything else takes one.
    deep_width: usize,
}

impl Layout {
    /// `None` when a path of `segments` segments cannot match a shape of `width`.
    fn new(segments: usize, width: usize, deep: Option<usize>) -> Option<Layout> {
        let deep_width = match deep {
            None if segments == width => 0,
            Some(_) if segments + 1 >= width => segments + 1 - width,
            _ => return None,
        };
        Some(Layout { deep, deep_width })
    }

    /// The range of path segments covered by template segment `i`.
    fn covered(&self, i: usize) -> Range<usize> {
        let w = self.deep_width;
        match self.deep {
            Some(d) if i == d => d..d + w,
            Some(d) if i > d => i + w - 1..i + w,
            _ => i..i + 1,
        }
    }
}

/// How captured values are percent-decoded (grpc-gateway's `unescape` per
/// `UnescapingMode`): a single-segment value is fully decoded except under
/// [`Decoding::Verbatim`]; a multi-segment one keeps what the mode reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoding {
    /// Values are used as they appear in the (already decoded) path: `Legacy`.
    Verbatim,
    /// Everything is decoded: `AllCharacters`.
    All,
    /// Multi-segment values keep `%2F`: `AllExceptSlash`, the google.api.http spec.
    ExceptSlash,
    /// Multi-segment values keep RFC 6570 reserved characters: `AllExceptReserved`.
    ExceptReserved,
}

impl Decoding {
    /// Whether a `%XX` decoding to `byte` stays escaped in a value.
    fn keeps(self, byte: u8, multi_segment: bool) -> bool {
        match self {
            _ if !multi_segment => false,
            Decoding::Verbatim | Decoding::All => false,
            Decoding::ExceptSlash => byte == b'/',
            Decoding::ExceptReserved => matches!(
                byte,
                b'!' | b'#'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'?'
                    | b'@'
                    | b'['
                    | b']'
            ),
        }
    }
}

/// Decodes each variable's value, given its segment range and whether it is
/// multi-segment.
fn extract(
    rest: &str,
    spans: &[Range<usize>],
    layout: &Layout,
    variables: impl ExactSizeIterator<Item = (Range<usize>, bool)>,
    decoding: Decoding,
) -> Result<Vec<String>, CaptureError> {
    let mut values = Vec::with_capacity(variables.len());
    for (segments, multi_segment) in variables {
        let first = layout.covered(segments.start).start;
        let end = layout.covered(segments.end - 1).end;
        let raw = if first == end {
            ""
        } else {
            &rest[spans[first].start..spans[end - 1].end]
        };
        if decoding == Decoding::Verbatim {
            values.push(raw.to_owned());
        } else {
            values.push(percent_decode(raw, |b| decoding.keeps(b, multi_segment))?);
        }
    }
    Ok(values)
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Removes `:verb` from the last segment of `rest` (a path without its leading
/// `/`). Like grpc-gateway's mux, the segment must be longer than `:verb`: a
/// last segment that is exactly `:verb` carries no verb.
pub(crate) fn strip_verb<'p>(rest: &'p str, verb: &str) -> Option<&'p str> {
    let last = &rest[rest.rfind('/').map_or(0, |i| i + 1)..];
    let body = last.strip_suffix(verb)?.strip_suffix(':')?;
    if body.is_empty() {
        return None;
    }
    Some(&rest[..rest.len() - verb.len() - 1])
}

/// Byte ranges of the `/`-separated segments of `rest`. Empty segments count,
/// as in grpc-gateway (`strings.Split`): `a//b` is three segments, `a/` two.
fn segment_spans(rest: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::with_capacity(8);
    let mut start = 0;
    for (i, b) in rest.bytes().enumerate() {
        if b == b'/' {
            spans.push(start..i);
            start = i + 1;
        }
    }
    spans.push(start..rest.len());
    spans
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a captured value: every well-formed escape is decoded unless
/// `keep` says the byte it stands for stays escaped (the google.api.http spec
/// keeps `%2F`/`%2f` in a multi-segment value, so the value's real separators
/// stay distinguishable from escaped ones).
pub(crate) fn percent_decode(raw: &str, keep: impl Fn(u8) -> bool) -> Result<String, CaptureError> {
    if !raw.contains('%') {
        return Ok(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hi = bytes.get(i + 1).copied().and_then(hex_value);
        let lo = bytes.get(i + 2).copied().and_then(hex_value);
        match (hi, lo) {
            (Some(hi), Some(lo)) => {
                let decoded = hi << 4 | lo;
                if keep(decoded) {
                    out.extend_from_slice(&bytes[i..i + 3]);
                } else {
                    out.push(decoded);
                }
                i += 3;
            }
            _ => {
                let end = (i + 3).min(bytes.len());
                let bad = String::from_utf8_lossy(&bytes[i..end]).into_owned();
                return Err(CaptureError::MalformedEscape(bad));
            }
        }
    }
    String::from_utf8(out).map_err(|_| CaptureError::InvalidUtf8(raw.to_owned()))
}

/// Recursive-descent parser over the template's bytes (the grammar is ASCII;
/// any other byte is reported as an invalid character).
struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    deep: Option<usize>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            segments: Vec::new(),
            variables: Vec::new(),
            deep: None,
        }
    }

    fn error(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            template: self.src.to_owned(),
            position,
            message: message.into(),
        }
    }

    /// Describes the character at `pos` for error messages.
    fn char_at(&self, pos: usize) -> String {
        match self.src.get(pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "end of template".to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn parse(mut self) -> Result<Template, ParseError> {
        if self.peek() != Some(b'/') {
            return Err(self.error(0, "template must start with '/'"));
        }
        self.pos = 1;
        self.segments_list(false)?;
        let verb = match self.peek() {
            None => None,
            Some(b':') => Some(self.verb()?),
            Some(b'}') => return Err(self.error(self.pos, "'}' without a matching '{'")),
            Some(_) => {
                return Err(self.error(
                    self.pos,
                    format!("expected '/' or ':' here, found {}", self.char_at(self.pos)),
                ));
            }
        };
        Ok(Template {
            source: self.src.to_owned(),
            segments: self.segments,
            variables: self.variables,
            verb,
            deep: self.deep,
        })
    }

    /// `Segments = Segment { "/" Segment }`, top-level or inside a variable.
    fn segments_list(&mut self, in_variable: bool) -> Result<(), ParseError> {
        loop {
            self.segment(in_variable)?;
            if self.peek() == Some(b'/') {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    fn segment(&mut self, in_variable: bool) -> Result<(), ParseError> {
        let start = self.pos;
        match self.peek() {
            None | Some(b'/') => return Err(self.error(start, "empty segment")),
            Some(b'}') if in_variable => return Err(self.error(start, "empty segment")),
            Some(b'{') if in_variable => {
                return Err(self.error(start, "variables cannot be nested"));
            }
            Some(b'{') => return self.variable(),
            _ => {}
        }
        // Scan the segment's text: up to '/', the end, or the closing '}'.
        let mut end = start;
        while end < self.bytes.len() {
            match self.bytes[end] {
                b'/' => break,
                b'}' if in_variable => break,
                _ => end += 1,
            }
        }
        // In the last top-level segment, the last colon starts the verb.
        if !in_variable && end == self.bytes.len() {
            if let Some(colon) = self.src[start..end].rfind(':') {
                end = start + colon;
            }
        }
        self.pos = end;
        let text = &self.src[start..end];
        let segment = match text {
            "" => return Err(self.error(start, "empty segment")),
            "*" => Segment::Wildcard,
            "**" => {
                if self.deep.is_some() {
                    return Err(self.error(start, "at most one '**' is allowed per template"));
                }
                self.deep = Some(self.segments.len());
                Segment::DeepWildcard
            }
            _ => {
                self.check_literal(start, end, "segment")?;
                Segment::Literal(text.to_owned())
            }
        };
        self.segments.push(segment);
        Ok(())
    }

    /// Checks that `src[start..end]` is RFC 3986 `pchar`s, minus `*`.
    fn check_literal(&self, start: usize, end: usize, what: &str) -> Result<(), ParseError> {
        let mut i = start;
        while i < end {
            match self.bytes[i] {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => {}
                b'-' | b'.' | b'_' | b'~' => {}
                b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'+' | b',' | b';' | b'=' => {}
                b':' | b'@' => {}
                b'%' => {
                    let ok = i + 2 < end
                        && self.bytes[i + 1].is_ascii_hexdigit()
                        && self.bytes[i + 2].is_ascii_hexdigit();
                    if !ok {
                        return Err(self.error(i, "'%' must be followed by two hex digits"));
                    }
                    i += 2;
                }
                b'*' => {
                    return Err(
                        self.error(i, "'*' is only allowed as a whole segment ('*' or '**')")
                    );
                }
                b'{' => {
                    return Err(self.error(i, "a variable must be a whole segment"));
                }
                b'}' => return Err(self.error(i, "'}' without a matching '{'")),
                _ => {
                    return Err(self.error(
                        i,
                        format!("invalid character {} in {what}", self.char_at(i)),
                    ));
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// `Variable = "{" FieldPath [ "=" Segments ] "}"`; `pos` is at the `{`.
    fn variable(&mut self) -> Result<(), ParseError> {
        let open = self.pos;
        self.pos += 1;
        let path_start = self.pos;
        self.field_path()?;
        let field_path = self.src[path_start..self.pos].to_owned();
        if self.variables.iter().any(|v| v.field_path == field_path) {
            return Err(self.error(path_start, format!("duplicate variable {field_path:?}")));
        }
        let first = self.segments.len();
        match self.peek() {
            Some(b'=') => {
                self.pos += 1;
                self.segments_list(true)?;
            }
            Some(b'}') => self.segments.push(Segment::Wildcard),
            None => {}
            Some(_) => {
                return Err(self.error(
                    self.pos,
                    format!(
                        "expected '.', '=' or '}}' in variable, found {}",
                        self.char_at(self.pos)
                    ),
                ));
            }
        }
        match self.peek() {
            Some(b'}') => self.pos += 1,
            None => {
                return Err(self.error(
                    self.pos,
                    format!("unterminated variable: '{{' at byte {open} is never closed"),
                ));
            }
            Some(_) => {
                return Err(self.error(
                    self.pos,
                    format!("expected '}}', found {}", self.char_at(self.pos)),
                ));
            }
        }
        let segments = first..self.segments.len();
        let multi_segment = segments.len() != 1 || self.segments[first] == Segment::DeepWildcard;
        self.variables.push(Variable {
            field_path,
            segments,
            multi_segment,
        });
        Ok(())
    }

    /// `FieldPath = IDENT { "." IDENT }`, IDENT being `[A-Za-z_][A-Za-z0-9_]*`.
    fn field_path(&mut self) -> Result<(), ParseError> {
        loop {
            let start = self.pos;
            match self.peek() {
                Some(b'A'..=b'Z' | b'a'..=b'z' | b'_') => self.pos += 1,
                Some(b'}' | b'=') if self.bytes[start - 1] == b'{' => {
                    return Err(self.error(start, "empty variable name"));
                }
                Some(b'0'..=b'9') => {
                    return Err(self.error(start, "field name cannot start with a digit"));
                }
                Some(b'{') => return Err(self.error(start, "variables cannot be nested")),
                _ => {
                    return Err(self.error(
                        start,
                        format!("expected a field name, found {}", self.char_at(start)),
                    ));
                }
            }
            while let Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_') = self.peek() {
                self.pos += 1;
            }
            if self.peek() == Some(b'.') {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    /// `Verb = ":" LITERAL`; `pos` is at the `:`. The verb runs to the end.
    fn verb(&mut self) -> Result<String, ParseError> {
        let start = self.pos + 1;
        let end = self.bytes.len();
        if start == end {
            return Err(self.error(self.pos, "empty verb after ':'"));
        }
        if let Some(slash) = self.src[start..].find('/') {
            return Err(self.error(start + slash, "a verb cannot contain '/'"));
        }
        self.check_literal(start, end, "verb")?;
        self.pos = end;
        Ok(self.src[start..end].to_owned())
    }
}

#[cfg(test)]
mod tests;
