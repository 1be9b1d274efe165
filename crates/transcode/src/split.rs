//! Incremental splitting of a streamed request body into JSON values, for client
//! and bidirectional streaming.
//!
//! grpc-gateway reads a streaming request body with Go's `json.Decoder`, which
//! accepts a sequence of JSON values separated by optional whitespace: newline-
//! delimited (`{..}\n{..}\n`), concatenated (`{..}{..}`) or anything in between.
//! Each value is forwarded upstream as soon as it is complete, so the splitter
//! must find value boundaries in a body that arrives in arbitrary pieces, without
//! waiting for the end and without parsing twice: it only tracks string, escape
//! and nesting state (no recursion, so hostile nesting costs nothing here) and
//! hands each complete value's bytes to [`message_from_json`](crate::message_from_json),
//! which does the real parsing and reports real syntax errors.

use bytes::{Buf, Bytes, BytesMut};

use crate::TranscodeError;

/// Splits a byte stream into top-level JSON values. Feed it with
/// [`push`](Self::push), take values with [`next_value`](Self::next_value), and
/// call [`finish`](Self::finish) at the end of the body.
#[derive(Debug)]
pub struct JsonSplitter {
    buf: BytesMut,
    /// How far into `buf` the current value has been scanned.
    scanned: usize,
    /// Whether a value has started (its first byte is `buf[0]`).
    started: bool,
    /// The current value is a bare scalar (number, `true`, `false`, `null`),
    /// which ends at whitespace, the start of another value or the end of input.
    scalar: bool,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Largest accepted value, in bytes.
    limit: usize,
}

impl JsonSplitter {
    /// A splitter that rejects any single value longer than `limit` bytes (the
    /// body as a whole is unbounded: a bidirectional stream may last for hours).
    pub fn new(limit: usize) -> Self {
        JsonSplitter {
            buf: BytesMut::new(),
            scanned: 0,
            started: false,
            scalar: false,
            depth: 0,
            in_string: false,
            escaped: false,
            limit,
        }
    }

    /// Appends the next piece of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete value, `Ok(None)` if more input is needed, or an error
    /// when the pending value is longer than the limit or starts with a closing
    /// bracket.
    pub fn next_value(&mut self) -> Result<Option<Bytes>, TranscodeError> {
        if !self.started {
            let skip = self
                .buf
                .iter()
                .position(|b| !is_space(*b))
                .unwrap_or(self.buf.len());
            self.buf.advance(skip);
            let Some(&first) = self.buf.first() else {
                return Ok(None);
            };
            match first {
                b'}' | b']' => {
                    return Err(TranscodeError(format!(
                        "invalid JSON body: unexpected {:?} looking for beginning of value",
                        first as char
                    )));
                }
                b'{' | b'[' | b'"' => self.scalar = false,
                _ => self.scalar = true,
            }
            self.started = true;
            self.scanned = 0;
        }
        let end = if self.scalar {
            self.scan_scalar()
        } else {
            self.scan_nested()
        };
        match end {
            Some(end) => Ok(Some(self.take(end))),
            None if self.buf.len() > self.limit => Err(self.too_large()),
            None => Ok(None),
        }
    }

    /// Call at the end of the body: the trailing value if it is a complete
    /// scalar (`1` with no newline after it), nothing if only whitespace is left,
    /// or an error for a value cut off mid-way.
    pub fn finish(&mut self) -> Result<Option<Bytes>, TranscodeError> {
        if let Some(v) = self.next_value()? {
            return Ok(Some(v));
        }
        if !self.started {
            return Ok(None);
        }
        if self.scalar {
            let len = self.buf.len();
            return Ok(Some(self.take(len)));
        }
        Err(TranscodeError(
            "invalid JSON body: unexpected end of JSON input".into(),
        ))
    }

    /// Bytes buffered but not yet returned (for tests and limits).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, end: usize) -> Bytes {
        self.started = false;
        self.scanned = 0;
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
        self.buf.split_to(end).freeze()
    }

    fn too_large(&self) -> TranscodeError {
        TranscodeError(format!(
            "request message exceeds the {}-byte limit",
            self.limit
        ))
    }

    /// Scans an object, array or string; returns its end (exclusive) once the
    /// closing byte has arrived.
    fn scan_nested(&mut self) -> Option<usize> {
        let mut i = self.scanned;
        while i < self.buf.len() {
            let b = self.buf[i];
            i += 1;
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i); // a top-level string value
                    }
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    // A stray closer is left for the JSON parser to report.
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        self.scanned = i;
        None
    }

    /// Scans a bare scalar; it ends before whitespace or the start of another value.
    fn scan_scalar(&mut self) -> Option<usize> {
        let from = self.scanned.max(1);
        let end = self.buf[from..]
            .iter()
            .position(|b| is_space(*b) || matches!(b, b'{' | b'[' | b'"'))
            .map(|p| from + p);
        if end.is_none() {
            self.scanned = self.buf.len();
        }
        end
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}
