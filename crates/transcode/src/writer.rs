//! The reference response printer: protobuf response bytes (decoded into a
//! `DynamicMessage`) to JSON, byte-for-byte as grpc-gateway v2's default
//! marshaler prints them (`runtime.JSONPb` over protojson with
//! `EmitUnpopulated: true`), but compact and with no whitespace randomisation.
//!
//! This is a direct writer rather than prost-reflect's serde `Serialize` because
//! protojson's unpopulated-field rules cannot be expressed with `SerializeOptions`:
//! with `EmitUnpopulated`, protojson (encoding/protojson/encode.go,
//! `unpopulatedFieldRanger`)
//! - prints unset fields that have presence (singular message fields, proto2
//!   optional scalars) as `null`;
//! - never prints unset members of a oneof, real or synthetic (so unset proto3
//!   `optional` fields are omitted);
//! - prints other unset fields with their default (`0`, `""`, `[]`, `{}`, first
//!   enum value name).
//!
//! Fields are printed in declaration order (protojson's `IndexNameFieldOrder`), map
//! entries sorted by key (`GenericKeyOrder`), floats as Go's `strconv` `'f'` or
//! `'e'` format with protojson's exponent fix-ups, strings escaped as protojson does
//! (only `"`, `\` and control characters). Well-known types use their JSON forms.
//!
//! With `response_body`, grpc-gateway marshals the field's Go value: a message goes
//! through protojson, but anything else through `JSONPb.marshalNonProtoField`, i.e.
//! mostly `encoding/json`: 64-bit integers as JSON numbers, strings HTML-escaped, an
//! empty repeated field as `[]` (or `null` without EmitUnpopulated), an unset proto3
//! `optional` as `null`. [`Writer::response_body`] reproduces that.
//!
//! A leaf: the one-pass printer (`onepass/`) prints through the same [`Writer`]
//! primitives, and `response.rs` chooses between the two.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};

use crate::parse::MAX_DURATION_SECONDS;
use crate::{JsonOptions, MethodPlan, TranscodeError};

/// The reference path: decode a `DynamicMessage` through prost-reflect, then
/// print it. The one-pass printer must agree with it byte for byte.
pub(crate) fn reference_response_to_json(
    plan: &MethodPlan,
    opts: &JsonOptions,
    proto: &[u8],
) -> Result<Vec<u8>, TranscodeError> {
    let msg = decode_output(&plan.output, proto)?;
    let mut w = Writer::new(opts, proto.len() * 2 + 16);
    match &plan.response_body {
        None => w.message(&msg)?,
        Some(field) => w.response_body(&msg, field)?,
    }
    Ok(w.out)
}

fn decode_output(desc: &MessageDescriptor, proto: &[u8]) -> Result<DynamicMessage, TranscodeError> {
    DynamicMessage::decode(desc.clone(), proto)
        .map_err(|e| TranscodeError(format!("invalid response message: {e}")))
}

/// The reference path for a whole message of type `desc` (no `response_body`).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn reference_message_json(
    desc: &MessageDescriptor,
    opts: &JsonOptions,
    proto: &[u8],
) -> Result<Vec<u8>, TranscodeError> {
    let msg = decode_output(desc, proto)?;
    let mut w = Writer::new(opts, proto.len() * 2 + 16);
    w.message(&msg)?;
    Ok(w.out)
}

/// Error from printing: protojson refuses values with no JSON form.
type Res = Result<(), TranscodeError>;

fn fail(msg: String) -> Res {
    Err(TranscodeError(msg))
}

/// A JSON writer over a byte buffer, carrying the output options.
pub(crate) struct Writer<'a> {
    pub(crate) out: Vec<u8>,
    pub(crate) opts: &'a JsonOptions,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(opts: &'a JsonOptions, capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
            opts,
        }
    }

    /// A message, honouring well-known types.
    pub(crate) fn message(&mut self, msg: &DynamicMessage) -> Res {
        let desc = msg.descriptor();
        if let Some(wkt) = desc.full_name().strip_prefix("google.protobuf.")
            && self.well_known(wkt, msg)?
        {
            return Ok(());
        }
        self.out.push(b'{');
        self.fields(msg, &desc, false)?;
        self.out.push(b'}');
        Ok(())
    }

    /// The fields of a regular message, without braces; `comma` says whether a
    /// member precedes (the `@type` of an `Any`).
    fn fields(&mut self, msg: &DynamicMessage, desc: &MessageDescriptor, mut comma: bool) -> Res {
        let emit = self.opts.emit_unpopulated;
        let mut one = |w: &mut Self, field: FieldDescriptor| -> Res {
            let mut has = msg.has_field(&field);
            if !has && !emit && is_float(&field) {
                // protobuf-go's Has() compares float bits, so -0.0 is populated;
                // prost-reflect compares values and calls it default.
                has = match *msg.get_field(&field) {
                    Value::F64(f) => f.to_bits() != 0,
                    Value::F32(f) => f.to_bits() != 0,
                    _ => false,
                };
            }
            if !has {
                // Unset oneof members (synthetic ones too) are never printed.
                if !emit || field.field_descriptor_proto().oneof_index.is_some() {
                    return Ok(());
                }
            }
            if comma {
                w.out.push(b',');
            }
            comma = true;
            let name = if w.opts.use_proto_names {
                field.name()
            } else {
                field.json_name()
            };
            w.string(name);
            w.out.push(b':');
            if !has && field.supports_presence() {
                w.out.extend_from_slice(b"null");
                return Ok(());
            }
            w.field_value(&msg.get_field(&field), &field)
        };
        // protojson orders by declaration index; prost-reflect iterates by number.
        // They agree unless the .proto declares fields out of number order.
        let decl = &desc.descriptor_proto().field;
        if decl.windows(2).all(|p| p[0].number() < p[1].number()) {
            for field in desc.fields() {
                one(self, field)?;
            }
        } else {
            for fp in decl {
                if let Some(field) = desc.get_field(fp.number() as u32) {
                    one(self, field)?;
                }
            }
        }
        Ok(())
    }

    /// A field's value: list, map or singular.
    fn field_value(&mut self, value: &Value, field: &FieldDescriptor) -> Res {
        match value {
            Value::List(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.singular(item, field)?;
                }
                self.out.push(b']');
                Ok(())
            }
            Value::Map(map) => {
                let Kind::Message(entry) = field.kind() else {
                    return fail(format!("map field {} without entry type", field.name()));
                };
                self.map(map, &entry.map_entry_value_field())
            }
            v => self.singular(v, field),
        }
    }

    /// A map as a JSON object with keys in protojson's `GenericKeyOrder`.
    fn map(
        &mut self,
        map: &std::collections::HashMap<MapKey, Value>,
        value_field: &FieldDescriptor,
    ) -> Res {
        let mut entries: Vec<(&MapKey, &Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.out.push(b'{');
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.map_key(k);
            self.out.push(b':');
            self.singular(v, value_field)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn map_key(&mut self, k: &MapKey) {
        match k {
            MapKey::String(s) => self.string(s),
            MapKey::Bool(b) => self.raw_quoted(if *b { "true" } else { "false" }),
            MapKey::I32(n) => self.quoted_display(n),
            MapKey::I64(n) => self.quoted_display(n),
            MapKey::U32(n) => self.quoted_display(n),
            MapKey::U64(n) => self.quoted_display(n),
        }
    }

    /// A singular value of `field` (or a list/map element of it).
    fn singular(&mut self, value: &Value, field: &FieldDescriptor) -> Res {
        match value {
            Value::Bool(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::I32(n) => self.display(n),
            Value::U32(n) => self.display(n),
            Value::I64(n) => self.quoted_display(n),
            Value::U64(n) => self.quoted_display(n),
            Value::F32(f) => self.float(*f as f64, true),
            Value::F64(f) => self.float(*f, false),
            Value::String(s) => self.string(s),
            Value::Bytes(b) => self.base64(b),
            Value::EnumNumber(n) => {
                let Kind::Enum(e) = field.kind() else {
                    return fail(format!("enum value for non-enum field {}", field.name()));
                };
                if e.full_name() == "google.protobuf.NullValue" {
                    self.out.extend_from_slice(b"null");
                } else {
                    match e.get_value(*n) {
                        Some(v) if !self.opts.enums_as_ints => self.string(v.name()),
                        _ => self.display(n),
                    }
                }
            }
            Value::Message(m) => return self.message(m),
            Value::List(_) | Value::Map(_) => return self.field_value(value, field),
        }
        Ok(())
    }

    /// Well-known types with a special JSON form. Returns false for the others
    /// (including Empty, which protojson prints as a regular message).
    fn well_known(&mut self, name: &str, msg: &DynamicMessage) -> Result<bool, TranscodeError> {
        match name {
            "Any" => self.any(msg)?,
            "Timestamp" => self.timestamp(msg)?,
            "Duration" => self.duration(msg)?,
            "DoubleValue" | "FloatValue" | "Int64Value" | "UInt64Value" | "Int32Value"
            | "UInt32Value" | "BoolValue" | "StringValue" | "BytesValue" => {
                let desc = msg.descriptor();
                let Some(field) = desc.get_field(1) else {
                    return Ok(false);
                };
                self.singular(&msg.get_field(&field), &field)?;
            }
            "Struct" => {
                let Some(field) = msg.descriptor().get_field(1) else {
                    return Ok(false);
                };
                self.field_value(&msg.get_field(&field), &field)?;
            }
            "ListValue" => {
                let Some(field) = msg.descriptor().get_field(1) else {
                    return Ok(false);
                };
                self.field_value(&msg.get_field(&field), &field)?;
            }
            "Value" => self.known_value(msg)?,
            "FieldMask" => self.field_mask(msg)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn any(&mut self, msg: &DynamicMessage) -> Res {
        let url = msg.get_field_by_number(1);
        let url = url.as_deref().and_then(Value::as_str).unwrap_or("");
        let bytes = msg.get_field_by_number(2);
        let bytes: &[u8] = bytes
            .as_deref()
            .and_then(Value::as_bytes)
            .map_or(&[], |b| b);
        if url.is_empty() {
            if bytes.is_empty() {
                self.out.extend_from_slice(b"{}");
                return Ok(());
            }
            return fail("google.protobuf.Any: type_url is not set".into());
        }
        let desc = msg.descriptor();
        self.any_parts(desc.parent_pool(), url, bytes)
    }

    /// An `Any` given as its parts, resolved through `pool` (the backend's
    /// descriptors). protojson fails when the type is unknown; we degrade to
    /// `{"@type": url, "value": "<base64>"}` so an error detail or response from a
    /// type missing from reflection still reaches the client.
    pub(crate) fn any_parts(
        &mut self,
        pool: &prost_reflect::DescriptorPool,
        url: &str,
        bytes: &[u8],
    ) -> Res {
        let name = url.rsplit_once('/').map_or(url, |(_, n)| n);
        let Some(desc) = pool.get_message_by_name(name) else {
            self.out.extend_from_slice(b"{\"@type\":");
            self.string(url);
            self.out.extend_from_slice(b",\"value\":");
            self.base64(bytes);
            self.out.push(b'}');
            return Ok(());
        };
        let inner = DynamicMessage::decode(desc.clone(), bytes).map_err(|e| {
            TranscodeError(format!(
                "google.protobuf.Any: unable to unmarshal {url:?}: {e}"
            ))
        })?;
        self.out.extend_from_slice(b"{\"@type\":");
        self.string(url);
        if is_special_wkt(desc.full_name()) {
            self.out.extend_from_slice(b",\"value\":");
            self.message(&inner)?;
        } else {
            self.fields(&inner, &desc, true)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn timestamp(&mut self, msg: &DynamicMessage) -> Res {
        let (secs, nanos) = secs_nanos(msg);
        self.timestamp_parts(secs, nanos)
    }

    /// A Timestamp from its two fields (shared with the one-pass printer).
    pub(crate) fn timestamp_parts(&mut self, secs: i64, nanos: i32) -> Res {
        if !(-62_135_596_800..=253_402_300_799).contains(&secs) {
            return fail(format!(
                "google.protobuf.Timestamp: seconds out of range {secs}"
            ));
        }
        if !(0..=999_999_999).contains(&nanos) {
            return fail(format!(
                "google.protobuf.Timestamp: nanos out of range {nanos}"
            ));
        }
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let _ = write!(
            self.out,
            "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        );
        self.fraction(nanos as u32);
        self.out.extend_from_slice(b"Z\"");
        Ok(())
    }

    fn duration(&mut self, msg: &DynamicMessage) -> Res {
        let (secs, nanos) = secs_nanos(msg);
        self.duration_parts(secs, nanos)
    }

    /// A Duration from its two fields (shared with the one-pass printer).
    pub(crate) fn duration_parts(&mut self, secs: i64, nanos: i32) -> Res {
        if !(-MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&secs) {
            return fail(format!(
                "google.protobuf.Duration: seconds out of range {secs}"
            ));
        }
        if !(-999_999_999..=999_999_999).contains(&nanos) {
            return fail(format!(
                "google.protobuf.Duration: nanos out of range {nanos}"
            ));
        }
        if (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
            return fail(
                "google.protobuf.Duration: signs of seconds and nanos do not match".into(),
            );
        }
        self.out.push(b'"');
        if secs < 0 || nanos < 0 {
            self.out.push(b'-');
        }
        let _ = write!(self.out, "{}", secs.unsigned_abs());
        self.fraction(nanos.unsigned_abs());
        self.out.extend_from_slice(b"s\"");
        Ok(())
    }

    /// `.nnn`, `.nnnnnn` or `.nnnnnnnnn`, or nothing for zero (protojson trims
    /// trailing zero groups of three).
    fn fraction(&mut self, nanos: u32) {
        if nanos == 0 {
        } else if nanos.is_multiple_of(1_000_000) {
            let _ = write!(self.out, ".{:03}", nanos / 1_000_000);
        } else if nanos.is_multiple_of(1_000) {
            let _ = write!(self.out, ".{:06}", nanos / 1_000);
        } else {
            let _ = write!(self.out, ".{nanos:09}");
        }
    }

    fn known_value(&mut self, msg: &DynamicMessage) -> Res {
        let desc = msg.descriptor();
        for field in desc.fields() {
            if !msg.has_field(&field) || field.containing_oneof().is_none() {
                continue;
            }
            let value = msg.get_field(&field);
            if let Value::F64(f) = *value
                && !f.is_finite()
            {
                return fail(format!(
                    "google.protobuf.Value.number_value: invalid {f} value"
                ));
            }
            return self.singular(&value, &field);
        }
        fail("google.protobuf.Value: none of the oneof fields is set".into())
    }

    fn field_mask(&mut self, msg: &DynamicMessage) -> Res {
        let paths = msg.get_field_by_number(1);
        let paths = paths.as_deref().and_then(Value::as_list).unwrap_or(&[]);
        self.out.push(b'"');
        for (i, p) in paths.iter().enumerate() {
            let p = p.as_str().unwrap_or("");
            if !is_valid_full_name(p) || is_irreversible(p) {
                return fail(format!(
                    "google.protobuf.FieldMask.paths contains invalid or irreversible path {p:?}"
                ));
            }
            if i > 0 {
                self.out.push(b',');
            }
            // lowerCamelCase: drop '_' and upper-case the following lowercase letter.
            let mut up = false;
            for c in p.bytes() {
                if c == b'_' {
                    up = true;
                    continue;
                }
                self.out.push(if up { c.to_ascii_uppercase() } else { c });
                up = false;
            }
        }
        self.out.push(b'"');
        Ok(())
    }

    /// grpc-gateway's `response_body`: print one field of the response.
    fn response_body(&mut self, msg: &DynamicMessage, field: &FieldDescriptor) -> Res {
        let value = msg.get_field(field);
        match &*value {
            // A singular message goes through protojson; unset, Go passes a typed
            // nil pointer, which protojson prints like an empty message.
            Value::Message(m) => self.message(m),
            Value::List(items) => {
                if items.is_empty() {
                    self.empty_slice();
                    return Ok(());
                }
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.go_json(item, field)?;
                }
                self.out.push(b']');
                Ok(())
            }
            Value::Map(map) => {
                let Kind::Message(entry) = field.kind() else {
                    return fail(format!("map field {} without entry type", field.name()));
                };
                let value_field = entry.map_entry_value_field();
                // encoding/json sorts map keys as strings.
                let mut entries: Vec<(String, &Value)> =
                    map.iter().map(|(k, v)| (map_key_string(k), v)).collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                self.out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.go_string(k);
                    self.out.push(b':');
                    self.go_json(v, &value_field)?;
                }
                self.out.push(b'}');
                Ok(())
            }
            // An unset proto3 `optional` is a nil pointer in Go: `null`.
            _ if field.field_descriptor_proto().proto3_optional() && !msg.has_field(field) => {
                self.out.extend_from_slice(b"null");
                Ok(())
            }
            // Empty bytes are a nil []byte: a nil slice to marshalNonProtoField.
            Value::Bytes(b) if b.is_empty() => {
                self.empty_slice();
                Ok(())
            }
            v => self.go_json(v, field),
        }
    }

    fn empty_slice(&mut self) {
        let s: &[u8] = if self.opts.emit_unpopulated {
            b"[]"
        } else {
            b"null"
        };
        self.out.extend_from_slice(s);
    }

    /// A non-message value as Go's `encoding/json` prints it (messages and enums
    /// as grpc-gateway's JSONPb special-cases them).
    fn go_json(&mut self, value: &Value, field: &FieldDescriptor) -> Res {
        match value {
            Value::I64(n) => self.display(n),
            Value::U64(n) => self.display(n),
            Value::String(s) => self.go_string(s),
            Value::F32(_) | Value::F64(_) if !value_f64(value).is_finite() => {
                return fail("json: unsupported value: non-finite float".into());
            }
            Value::EnumNumber(n) if !self.opts.enums_as_ints => {
                // protoEnum.String(): the name, or the number for unknown values.
                let Kind::Enum(e) = field.kind() else {
                    return fail(format!("enum value for non-enum field {}", field.name()));
                };
                match e.get_value(*n) {
                    Some(v) => self.string(v.name()),
                    None => self.quoted_display(n),
                }
            }
            v => return self.singular(v, field),
        }
        Ok(())
    }

    pub(crate) fn display(&mut self, n: &dyn std::fmt::Display) {
        let _ = write!(self.out, "{n}");
    }

    pub(crate) fn quoted_display(&mut self, n: &dyn std::fmt::Display) {
        let _ = write!(self.out, "\"{n}\"");
    }

    pub(crate) fn raw_quoted(&mut self, s: &str) {
        self.out.push(b'"');
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(b'"');
    }

    pub(crate) fn base64(&mut self, b: &[u8]) {
        self.out.push(b'"');
        let start = self.out.len();
        let len = base64::encoded_len(b.len(), true).unwrap_or(0);
        self.out.resize(start + len, 0);
        let n = STANDARD
            .encode_slice(b, &mut self.out[start..])
            .unwrap_or(0);
        self.out.truncate(start + n);
        self.out.push(b'"');
    }

    /// Go's `strconv.AppendFloat(n, 'f' or 'e', -1, bits)` as protojson uses it:
    /// `'e'` below 1e-6 and from 1e21 up, exponent at least two digits with sign,
    /// then protojson trims `e-0X` to `e-X`. NaN and infinities are strings.
    pub(crate) fn float(&mut self, f: f64, is_f32: bool) {
        if f.is_nan() {
            self.out.extend_from_slice(b"\"NaN\"");
            return;
        }
        if f.is_infinite() {
            let s: &[u8] = if f > 0.0 {
                b"\"Infinity\""
            } else {
                b"\"-Infinity\""
            };
            self.out.extend_from_slice(s);
            return;
        }
        let abs = f.abs();
        let exp = if is_f32 {
            let a = abs as f32;
            a != 0.0 && !(1e-6..1e21).contains(&a)
        } else {
            abs != 0.0 && !(1e-6..1e21).contains(&abs)
        };
        let start = self.out.len();
        let _ = match (is_f32, exp) {
            (true, false) => write!(self.out, "{}", f as f32),
            (true, true) => write!(self.out, "{:e}", f as f32),
            (false, false) => write!(self.out, "{f}"),
            (false, true) => write!(self.out, "{f:e}"),
        };
        if exp {
            // Rust prints `1e21` / `1e-7`; Go prints `1e+21` / `1e-07` (trimmed by
            // protojson to `1e-7`). Only the `+` needs adding.
            if let Some(e) = self.out[start..].iter().position(|&c| c == b'e')
                && self.out.get(start + e + 1) != Some(&b'-')
            {
                self.out.insert(start + e + 1, b'+');
            }
        }
    }

    /// A JSON string as protojson escapes it: `"`, `\` and control characters only;
    /// `\b \f \n \r \t`, others as `\u00xx` (lowercase hex).
    pub(crate) fn string(&mut self, s: &str) {
        self.escaped(s, false);
    }

    /// A JSON string as Go's `encoding/json` escapes it: additionally `<`, `>`, `&`,
    /// U+2028 and U+2029.
    fn go_string(&mut self, s: &str) {
        self.escaped(s, true);
    }

    fn escaped(&mut self, s: &str, html: bool) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let esc: Option<&[u8]> = match c {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                0..=0x1f => Some(b""),
                b'<' | b'>' | b'&' if html => Some(b""),
                0xe2 if html
                    && bytes.get(i + 1) == Some(&0x80)
                    && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
                {
                    Some(b"")
                }
                _ => None,
            };
            let Some(esc) = esc else {
                i += 1;
                continue;
            };
            self.out.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                let cp = if c == 0xe2 {
                    let cp = if bytes[i + 2] == 0xa8 { 0x2028 } else { 0x2029 };
                    i += 2;
                    cp
                } else {
                    c as u32
                };
                let _ = write!(self.out, "\\u{cp:04x}");
            } else {
                self.out.extend_from_slice(esc);
            }
            i += 1;
            start = i;
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
    }
}

fn is_float(field: &FieldDescriptor) -> bool {
    use prost_types::field_descriptor_proto::{Label, Type};
    let fp = field.field_descriptor_proto();
    fp.label() != Label::Repeated && matches!(fp.r#type(), Type::Double | Type::Float)
}

fn value_f64(v: &Value) -> f64 {
    match v {
        Value::F32(f) => *f as f64,
        Value::F64(f) => *f,
        _ => 0.0,
    }
}

fn map_key_string(k: &MapKey) -> String {
    match k {
        MapKey::String(s) => s.clone(),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
    }
}

/// Well-known types that protojson nests under `"value"` inside an `Any`:
/// every type with its own JSON form except `Empty`, which prints inline
/// (`{"@type": ".../google.protobuf.Empty"}`).
fn is_special_wkt(full_name: &str) -> bool {
    full_name != "google.protobuf.Empty" && crate::plan::is_json_well_known_name(full_name)
}

fn secs_nanos(msg: &DynamicMessage) -> (i64, i32) {
    let secs = msg
        .get_field_by_number(1)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let nanos = msg
        .get_field_by_number(2)
        .and_then(|v| v.as_i32())
        .unwrap_or(0);
    (secs, nanos)
}

/// Inverse of `parse::days_from_civil` (Howard Hinnant's algorithm): days since
/// 1970-01-01 -> (year, month, day) in the proleptic Gregorian calendar. The one
/// copy: Timestamp JSON and the reload status's RFC 3339 times both use it.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// protoreflect.FullName.IsValid: dot-separated identifiers `[A-Za-z_][A-Za-z0-9_]*`.
fn is_valid_full_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|id| {
            let b = id.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_alphabetic() || b[0] == b'_')
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        })
}

/// protojson rejects paths whose camelCase form does not snake_case back to the
/// same string: any upper-case letter, or `_` not followed by a lowercase letter.
fn is_irreversible(p: &str) -> bool {
    let b = p.as_bytes();
    b.iter().any(u8::is_ascii_uppercase)
        || b.iter()
            .enumerate()
            .any(|(i, &c)| c == b'_' && !b.get(i + 1).is_some_and(u8::is_ascii_lowercase))
}
