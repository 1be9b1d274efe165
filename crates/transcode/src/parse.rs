//! Parsing one string (a path-variable value or a query-parameter value) into a
//! protobuf [`Value`], the way grpc-gateway v2 does.
//!
//! grpc-gateway has two sets of string converters and uses them in different places:
//! a top-level path variable (`{id}`) goes through `runtime/convert.go` (integers
//! with Go's base prefixes `0x`/`0o`/`0b`, Timestamp and Duration in their protojson
//! forms, repeated fields split on `,`), while nested path variables (`{book.id}`)
//! and query parameters go through `runtime/query.go`'s `parseField` (base-10
//! integers, Duration in Go's `time.ParseDuration` syntax such as `1h30m`, Struct and
//! Value as JSON). [`Syntax`] selects between them.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use prost_reflect::{
    DeserializeOptions, DynamicMessage, EnumDescriptor, Kind, MessageDescriptor, Value,
};

use crate::plan::{LeafType, message_leaf};

/// Which grpc-gateway converter family to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `runtime/convert.go`: top-level path variables.
    Convert,
    /// `runtime/query.go` `parseField`: query parameters and nested path variables.
    Query,
}

/// Parses `s` as a value of a field of kind `kind`, whose leaf classification is
/// `leaf` (for message kinds; ignored for scalars).
pub(crate) fn parse_leaf(
    kind: &Kind,
    leaf: LeafType,
    s: &str,
    syntax: Syntax,
) -> Result<Value, String> {
    match (leaf, kind) {
        (LeafType::Scalar, _) => parse_scalar(kind, s, syntax),
        (_, Kind::Message(desc)) => parse_message(desc, leaf, s, syntax).map(Value::Message),
        _ => Err("internal: leaf type does not match field kind".into()),
    }
}

/// Parses `s` for a field of kind `kind`, classifying message kinds on the fly (query
/// parameters, whose fields are only known per request).
pub(crate) fn parse_any_kind(kind: &Kind, s: &str, syntax: Syntax) -> Result<Value, String> {
    match kind {
        Kind::Message(desc) => match message_leaf(desc) {
            Some(leaf) => parse_message(desc, leaf, s, syntax).map(Value::Message),
            None => Err(format!("unsupported message type: {:?}", desc.full_name())),
        },
        _ => parse_scalar(kind, s, syntax),
    }
}

/// Parses a non-message value.
pub(crate) fn parse_scalar(kind: &Kind, s: &str, syntax: Syntax) -> Result<Value, String> {
    let base0 = syntax == Syntax::Convert;
    Ok(match kind {
        Kind::Double => Value::F64(parse_f64(s)?),
        Kind::Float => Value::F32(parse_f32(s)?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(parse_int(s, base0, 32)? as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(parse_int(s, base0, 64)?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(parse_uint(s, base0, 32)? as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(parse_uint(s, base0, 64)?),
        Kind::Bool => Value::Bool(parse_bool(s)?),
        Kind::String => Value::String(s.to_owned()),
        Kind::Bytes => Value::Bytes(parse_bytes(s)?.into()),
        Kind::Enum(e) => Value::EnumNumber(parse_enum(e, s, syntax)?),
        Kind::Message(m) => return Err(format!("unsupported message type: {:?}", m.full_name())),
    })
}

fn parse_message(
    desc: &MessageDescriptor,
    leaf: LeafType,
    s: &str,
    syntax: Syntax,
) -> Result<DynamicMessage, String> {
    let mut msg = DynamicMessage::new(desc.clone());
    match leaf {
        LeafType::Wrapper => {
            let field = desc
                .get_field(1)
                .ok_or_else(|| format!("{} has no field 1", desc.full_name()))?;
            let v = parse_scalar(&field.kind(), s, syntax)?;
            msg.set_field(&field, v);
        }
        LeafType::Timestamp => {
            let (secs, nanos) = parse_timestamp(s)?;
            set_secs_nanos(&mut msg, secs, nanos);
        }
        LeafType::Duration => {
            let (secs, nanos) = match syntax {
                Syntax::Convert => parse_proto_duration(s)?,
                Syntax::Query => parse_go_duration(s)?,
            };
            set_secs_nanos(&mut msg, secs, nanos);
        }
        LeafType::FieldMask => {
            // grpc-gateway splits on ',' and keeps each path verbatim (no case
            // conversion, unlike the JSON form).
            let paths = s.split(',').map(|p| Value::String(p.to_owned())).collect();
            msg.set_field_by_number(1, Value::List(paths));
        }
        LeafType::Struct | LeafType::Value => {
            let mut de = serde_json::Deserializer::from_str(s);
            msg = DynamicMessage::deserialize_with_options(
                desc.clone(),
                &mut de,
                &DeserializeOptions::new(),
            )
            .and_then(|m| de.end().map(|()| m))
            .map_err(|e| e.to_string())?;
        }
        LeafType::Scalar => return Err("internal: scalar leaf for a message".into()),
    }
    Ok(msg)
}

fn set_secs_nanos(msg: &mut DynamicMessage, secs: i64, nanos: i32) {
    msg.set_field_by_number(1, Value::I64(secs));
    msg.set_field_by_number(2, Value::I32(nanos));
}

/// An enum value by name, else by number (which must be a declared value), as both
/// `runtime.Enum` (convert.go, Go base-0 int32) and `parseField` (query.go,
/// `strconv.Atoi`) do.
fn parse_enum(e: &EnumDescriptor, s: &str, syntax: Syntax) -> Result<i32, String> {
    if let Some(v) = e.get_value_by_name(s) {
        return Ok(v.number());
    }
    let n = match syntax {
        Syntax::Convert => parse_int(s, true, 32).ok(),
        Syntax::Query => parse_int(s, false, 64).ok(),
    };
    match n {
        Some(n) if i32::try_from(n).is_ok_and(|n| e.get_value(n).is_some()) => Ok(n as i32),
        _ => Err(format!("{s:?} is not a valid value")),
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid syntax for bool: {s:?}")),
    }
}

/// Go's `strconv.ParseInt(s, base, bits)` with base 10, or base 0 (`0x`, `0o`, `0b`,
/// leading-`0` octal, `_` digit separators) when `base0`.
pub(crate) fn parse_int(s: &str, base0: bool, bits: u32) -> Result<i64, String> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_magnitude(digits, base0).ok_or_else(|| format!("invalid integer {s:?}"))?;
    let limit = 1u64 << (bits - 1);
    if neg {
        if mag > limit {
            return Err(format!("integer {s:?} out of range"));
        }
        Ok((mag as i64).wrapping_neg())
    } else {
        if mag >= limit {
            return Err(format!("integer {s:?} out of range"));
        }
        Ok(mag as i64)
    }
}

/// Go's `strconv.ParseUint(s, base, bits)`: no sign accepted, not even `+`.
pub(crate) fn parse_uint(s: &str, base0: bool, bits: u32) -> Result<u64, String> {
    let mag = parse_magnitude(s, base0).ok_or_else(|| format!("invalid integer {s:?}"))?;
    if bits < 64 && mag >> bits != 0 {
        return Err(format!("integer {s:?} out of range"));
    }
    Ok(mag)
}

/// Unsigned digits; `None` on bad syntax or u64 overflow.
fn parse_magnitude(s: &str, base0: bool) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (radix, body) = if base0 && b[0] == b'0' && b.len() > 1 {
        match b[1] | 0x20 {
            b'x' => (16, &b[2..]),
            b'o' => (8, &b[2..]),
            b'b' => (2, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    if base0 && b.contains(&b'_') && !underscores_ok(b) {
        return None;
    }
    let mut seen_digit = false;
    let mut acc: u64 = 0;
    for &c in body {
        if c == b'_' && base0 {
            continue;
        }
        let d = (c as char).to_digit(radix)? as u64;
        acc = acc.checked_mul(radix as u64)?.checked_add(d)?;
        seen_digit = true;
    }
    // "0x" alone is invalid.
    if !seen_digit {
        return None;
    }
    Some(acc)
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscores_ok(s: &[u8]) -> bool {
    // 0: digit or prefix, b'_': underscore, b'^': start, b'!': other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1] | 0x20 == b'x';
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input (`inf`, `infinity`, `nan` in
/// any case accepted). Values out of range are an error, as in Go. Go's hexadecimal
/// float literals and `_` separators are not accepted.
pub(crate) fn parse_f64(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("invalid number {s:?}"))?;
    if v.is_infinite() && !names_infinity(s) {
        return Err(format!("number {s:?} out of range"));
    }
    Ok(v)
}

/// Go's `strconv.ParseFloat(s, 32)`.
pub(crate) fn parse_f32(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("invalid number {s:?}"))?;
    if v.is_infinite() && !names_infinity(s) {
        return Err(format!("number {s:?} out of range"));
    }
    Ok(v)
}

fn names_infinity(s: &str) -> bool {
    s.trim_start_matches(['+', '-'])
        .as_bytes()
        .first()
        .is_some_and(|c| c | 0x20 == b'i')
}

/// grpc-gateway's `runtime.Bytes`: standard base64, else URL-safe base64. Go's
/// decoders require padding; we also accept unpadded input, which loses nothing.
pub(crate) fn parse_bytes(s: &str) -> Result<Vec<u8>, String> {
    STD_ANY_PAD
        .decode(s)
        .or_else(|_| URL_ANY_PAD.decode(s))
        .map_err(|e| format!("invalid base64 {s:?}: {e}"))
}

/// Go's non-strict decoders accept non-zero trailing bits; padding is optional here.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_ANY_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
pub(crate) const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// RFC 3339 (`2006-01-02T15:04:05.999999999Z07:00`), at most nine fractional
/// digits, within years 1..=9999: what both `time.Parse(time.RFC3339Nano)` in
/// query.go and protojson's Timestamp decoder accept.
pub(crate) fn parse_timestamp(s: &str) -> Result<(i64, i32), String> {
    let bad = || format!("invalid timestamp {s:?}");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &b[r];
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return Err(bad());
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return Err(bad());
        }
        nanos = num(start..i)? * 10i64.pow((9 - n) as u32);
    }
    let offset = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    if !(MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS).contains(&secs) {
        return Err(format!("timestamp {s:?} out of range"));
    }
    Ok((secs, nanos as i32))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// protojson's Duration string: `[-]seconds[.fraction]s`, at most nine fractional
/// digits, |seconds| <= 315576000000.
pub(crate) fn parse_proto_duration(s: &str) -> Result<(i64, i32), String> {
    let bad = || format!("invalid duration {s:?}");
    let body = s.strip_suffix('s').ok_or_else(bad)?;
    let (neg, body) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int.is_empty() && frac.is_none_or(str::is_empty) {
        return Err(bad());
    }
    // protojson: an integer part is "0" or has no leading zero.
    if !int.bytes().all(|c| c.is_ascii_digit()) || (int.len() > 1 && int.starts_with('0')) {
        return Err(bad());
    }
    let secs: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut nanos: i64 = 0;
    if let Some(f) = frac {
        if f.len() > 9 || !f.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        for (i, c) in f.bytes().enumerate() {
            nanos += (c - b'0') as i64 * 10i64.pow(8 - i as u32);
        }
    }
    if secs > MAX_DURATION_SECONDS {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(if neg {
        (-secs, -nanos as i32)
    } else {
        (secs, nanos as i32)
    })
}

/// Go's `time.ParseDuration` (`1h30m`, `1.5s`, `-300ms`, `2us`): a sequence of
/// decimal numbers with units ns, us, µs, μs, ms, s, m, h; the total must fit in
/// an int64 of nanoseconds. Returned as Duration (seconds, nanos), as
/// `durationpb.New` splits it.
pub(crate) fn parse_go_duration(s: &str) -> Result<(i64, i32), String> {
    let bad = || format!("invalid duration {s:?}");
    let overflow = || format!("duration {s:?} out of range");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((0, 0));
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(bad());
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut int: u128 = 0;
        for &c in &b[..int_len] {
            int = int * 10 + (c - b'0') as u128;
            if int > 1 << 63 {
                return Err(overflow());
            }
        }
        rest = &rest[int_len..];
        let (mut frac, mut scale, mut has_frac) = (0u128, 1u128, false);
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            for &c in &r.as_bytes()[..n] {
                // Like Go's leadingFraction: stop accumulating once more precision
                // cannot matter.
                if scale < 1_000_000_000_000_000_000 {
                    frac = frac * 10 + (c - b'0') as u128;
                    scale *= 10;
                }
            }
            has_frac = n > 0;
            rest = &r[n..];
        }
        if int_len == 0 && !has_frac {
            return Err(bad());
        }
        let unit_len = rest
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("missing unit in duration {s:?}")),
            u => return Err(format!("unknown unit {u:?} in duration {s:?}")),
        };
        rest = &rest[unit_len..];
        total += int * unit + frac * unit / scale;
        if total > 1 << 63 {
            return Err(overflow());
        }
    }
    let nanos_total: i128 = if neg {
        -(total as i128)
    } else {
        if total > (1 << 63) - 1 {
            return Err(overflow());
        }
        total as i128
    };
    Ok((
        (nanos_total / 1_000_000_000) as i64,
        (nanos_total % 1_000_000_000) as i32,
    ))
}
