//! The one-pass printer: protobuf wire bytes to JSON through a compiled
//! [`Program`], without building a `DynamicMessage`.
//!
//! Each message is scanned once into a list of field occurrences (spans of the
//! input, checked as prost checks them: wire types, lengths, UTF-8), the list is
//! put in declaration order (a stable sort, so repeated elements keep wire
//! order; usually the list is already in order and nothing moves), and the
//! fields are printed by the same rules and the same [`Writer`] primitives as
//! the reference writer in `writer.rs`: last value wins for singular fields,
//! the last member seen wins in a oneof, map entries are sorted by key with the
//! last duplicate kept, unknown fields are skipped.
//!
//! Whatever this printer does not reproduce itself makes it [`Bail`]: the
//! caller then runs the reference path, which gives the exact output or the
//! exact error. Bailing is always safe, only slower, so the rules here lean
//! that way: a singular message field given twice (protobuf merges the two),
//! groups, nesting deeper than [`MAX_DEPTH`], any decoding or printing error.
//! Values that are never printed (earlier duplicates, a oneof's losing
//! members, overridden map entries) are still validated, as prost's decoder
//! validates them.

use prost::encoding::{DecodeContext, decode_key, decode_varint};
use prost_reflect::{DynamicMessage, Value};

use super::program::{Card, Field, MAX_DEPTH, Program, Scalar, Shape, Ty};
use crate::JsonOptions;
use crate::writer::Writer;

/// The one-pass printer declines this input; the reference path answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bail;

type R = Result<(), Bail>;

fn bail<E>(_: E) -> Bail {
    Bail
}

/// One field occurrence in a message's wire bytes: the value's span (the
/// varint, the fixed bytes, or a length-delimited payload) in the input.
#[derive(Debug, Clone, Copy)]
struct Occ {
    /// Index in the message's `fields` (declaration order).
    field: u32,
    wire: u8,
    start: u32,
    end: u32,
}

/// A decoded scalar, borrowing strings and bytes from the input.
#[derive(Debug, Clone, Copy)]
enum Sv<'a> {
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Enum(i32),
}

impl<'a> Sv<'a> {
    fn of_default(s: &'a Scalar) -> Option<Sv<'a>> {
        Some(match s {
            Scalar::Bool(b) => Sv::Bool(*b),
            Scalar::I32(n) => Sv::I32(*n),
            Scalar::I64(n) => Sv::I64(*n),
            Scalar::U32(n) => Sv::U32(*n),
            Scalar::U64(n) => Sv::U64(*n),
            Scalar::F32(f) => Sv::F32(*f),
            Scalar::F64(f) => Sv::F64(*f),
            Scalar::Str(s) => Sv::Str(s),
            Scalar::Bytes(b) => Sv::Bytes(b),
            Scalar::Enum(n) => Sv::Enum(*n),
            Scalar::None => return None,
        })
    }

    /// prost-reflect's `Value` equality with the default (so `-0.0` equals
    /// `0.0` and NaN equals nothing).
    #[allow(clippy::float_cmp)]
    fn equals(&self, d: &Scalar) -> bool {
        match (self, d) {
            (Sv::Bool(a), Scalar::Bool(b)) => a == b,
            (Sv::I32(a), Scalar::I32(b)) | (Sv::Enum(a), Scalar::Enum(b)) => a == b,
            (Sv::I64(a), Scalar::I64(b)) => a == b,
            (Sv::U32(a), Scalar::U32(b)) => a == b,
            (Sv::U64(a), Scalar::U64(b)) => a == b,
            (Sv::F32(a), Scalar::F32(b)) => a == b,
            (Sv::F64(a), Scalar::F64(b)) => a == b,
            (Sv::Str(a), Scalar::Str(b)) => *a == &**b,
            (Sv::Bytes(a), Scalar::Bytes(b)) => *a == &**b,
            _ => false,
        }
    }

    fn float_bits_nonzero(&self) -> bool {
        match self {
            Sv::F32(f) => f.to_bits() != 0,
            Sv::F64(f) => f.to_bits() != 0,
            _ => false,
        }
    }
}

/// A map key, ordered as prost-reflect's `MapKey` (within one map every key
/// has the same variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mk<'a> {
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    Str(&'a str),
}

/// Prints `proto`, an encoded message of the program's root type.
pub(crate) fn print(prog: &Program, opts: &JsonOptions, proto: &[u8]) -> Result<Vec<u8>, Bail> {
    if u32::try_from(proto.len()).is_err() {
        return Err(Bail);
    }
    let mut p = Printer {
        prog,
        buf: proto,
        w: Writer::new(opts, proto.len() * 2 + 16),
        occ: Vec::with_capacity(32),
    };
    p.message(prog.root(), 0, proto.len(), 0)?;
    Ok(p.w.out)
}

struct Printer<'a> {
    prog: &'a Program,
    buf: &'a [u8],
    w: Writer<'a>,
    /// Occurrences of every message being printed, innermost last.
    occ: Vec<Occ>,
}

impl<'a> Printer<'a> {
    fn message(&mut self, mi: u32, start: usize, end: usize, depth: usize) -> R {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        let prog = self.prog;
        let msg = &prog.msgs()[mi as usize];
        if msg.shape == Shape::Reference {
            return self.reference(mi, start, end, depth);
        }
        let base = self.occ.len();
        self.scan(mi, start, end)?;
        // A oneof's member is the last one on the wire: find it before sorting.
        let winners: Vec<(u32, u32)> = if msg.has_oneofs {
            let mut w: Vec<(u32, u32)> = Vec::new();
            for o in &self.occ[base..] {
                if let Some(oneof) = msg.fields[o.field as usize].oneof {
                    match w.iter_mut().find(|(k, _)| *k == oneof) {
                        Some(slot) => slot.1 = o.field,
                        None => w.push((oneof, o.field)),
                    }
                }
            }
            w
        } else {
            Vec::new()
        };
        let occ = &mut self.occ[base..];
        if !occ.is_sorted_by_key(|o| o.field) {
            occ.sort_by_key(|o| o.field);
        }
        let n = self.occ.len() - base;
        let r = match msg.shape {
            Shape::Regular => {
                self.w.out.push(b'{');
                let r = self.fields(mi, base, n, &winners, depth);
                self.w.out.push(b'}');
                r
            }
            Shape::Timestamp | Shape::Duration => {
                let secs = self.last_scalar(mi, base, n, 1);
                let nanos = self.last_scalar(mi, base, n, 2);
                let (Some(Sv::I64(secs)), Some(Sv::I32(nanos))) = (secs, nanos) else {
                    self.occ.truncate(base);
                    return Err(Bail);
                };
                if msg.shape == Shape::Timestamp {
                    self.w.timestamp_parts(secs, nanos).map_err(bail)
                } else {
                    self.w.duration_parts(secs, nanos).map_err(bail)
                }
            }
            Shape::Wrapper => match self.last_scalar(mi, base, n, 1) {
                Some(v) => {
                    let fi = msg.field_index(1).ok_or(Bail);
                    fi.and_then(|fi| self.scalar(&msg.fields[fi].ty, v))
                }
                None => Err(Bail),
            },
            Shape::Reference => unreachable!("handled above"),
        };
        self.occ.truncate(base);
        r
    }

    /// The value of field `number` (its last occurrence, else its default).
    fn last_scalar(&self, mi: u32, base: usize, n: usize, number: u32) -> Option<Sv<'a>> {
        let msg = &self.prog.msgs()[mi as usize];
        let fi = msg.field_index(number)?;
        let field = &msg.fields[fi];
        match self.occ[base..base + n]
            .iter()
            .rev()
            .find(|o| o.field as usize == fi)
        {
            Some(o) => self.decode(&field.ty, o.wire, o.start as usize, o.end as usize),
            None => Sv::of_default(&field.default),
        }
    }

    /// Records every occurrence of a known field in `buf[start..end]`,
    /// checking the wire structure as prost's decoder does.
    fn scan(&mut self, mi: u32, start: usize, end: usize) -> R {
        let (prog, buf) = (self.prog, self.buf);
        let msg = &prog.msgs()[mi as usize];
        let mut rest = &buf[start..end];
        while !rest.is_empty() {
            let (number, wire) = decode_key(&mut rest).map_err(bail)?;
            let wire = wire as u8;
            let (vstart, vend) = self.skip(&mut rest, wire)?;
            let Some(fi) = msg.field_index(number) else {
                continue;
            };
            let field = &msg.fields[fi];
            let expected = match field.card {
                Card::Map(_) => 2,
                _ => field.ty.wire_type(),
            };
            let packed = wire == 2 && matches!(field.card, Card::List) && field.ty.packable();
            if wire != expected && !packed {
                return Err(Bail);
            }
            if matches!(field.ty, Ty::String) && !matches!(field.card, Card::Map(_)) {
                std::str::from_utf8(&buf[vstart..vend]).map_err(bail)?;
            }
            self.occ.push(Occ {
                field: fi as u32,
                wire,
                start: vstart as u32,
                end: vend as u32,
            });
        }
        Ok(())
    }

    fn fields(
        &mut self,
        mi: u32,
        base: usize,
        n: usize,
        winners: &[(u32, u32)],
        depth: usize,
    ) -> R {
        let prog = self.prog;
        let msg = &prog.msgs()[mi as usize];
        let emit = self.w.opts.emit_unpopulated;
        let mut comma = false;
        let mut k = base;
        let end = base + n;
        for (fi, field) in msg.fields.iter().enumerate() {
            let g0 = k;
            while k < end && self.occ[k].field as usize == fi {
                k += 1;
            }
            let group = g0..k;
            let winner = field
                .oneof
                .is_none_or(|o| winners.iter().any(|&(w, f)| w == o && f as usize == fi));
            match &field.card {
                Card::Single => {
                    if let Ty::Message(cmi) = field.ty {
                        if group.len() > 1 {
                            return Err(Bail); // protobuf merges the two: reference path
                        }
                        let span = group.clone().next().map(|i| self.occ[i]);
                        if !winner {
                            if let Some(o) = span {
                                self.validate(cmi, o, depth + 1)?;
                            }
                            continue;
                        }
                        match span {
                            Some(o) => {
                                self.key(field, &mut comma);
                                self.message(cmi, o.start as usize, o.end as usize, depth + 1)?;
                            }
                            None if !emit || field.oneof.is_some() => {}
                            None => {
                                self.key(field, &mut comma);
                                self.w.out.extend_from_slice(b"null");
                            }
                        }
                        continue;
                    }
                    let present = winner && !group.is_empty();
                    let value = match group.clone().last() {
                        Some(i) if present => {
                            let o = self.occ[i];
                            self.decode(&field.ty, o.wire, o.start as usize, o.end as usize)
                        }
                        _ => Sv::of_default(&field.default),
                    };
                    let Some(value) = value else {
                        return Err(Bail);
                    };
                    let mut has = if field.presence {
                        present
                    } else {
                        !value.equals(&field.default)
                    };
                    if !has && !emit && field.float_singular {
                        has = value.float_bits_nonzero();
                    }
                    if !has && (!emit || field.oneof.is_some()) {
                        continue;
                    }
                    self.key(field, &mut comma);
                    if !has && field.presence {
                        self.w.out.extend_from_slice(b"null");
                    } else {
                        self.scalar(&field.ty, value)?;
                    }
                }
                Card::List => {
                    // Every occurrence is an element, but a packed run may be empty.
                    let has = group.clone().any(|i| {
                        let o = self.occ[i];
                        !(o.wire == 2 && field.ty.packable()) || o.start < o.end
                    });
                    if !has && !emit {
                        continue;
                    }
                    self.key(field, &mut comma);
                    self.list(field, group, depth)?;
                }
                Card::Map(m) => {
                    if group.is_empty() && !emit {
                        continue;
                    }
                    self.key(field, &mut comma);
                    self.map(&m.key, &m.value, &m.value_default, group, depth)?;
                }
            }
        }
        Ok(())
    }

    fn key(&mut self, field: &Field, comma: &mut bool) {
        if *comma {
            self.w.out.push(b',');
        }
        *comma = true;
        let prog = self.prog;
        let key = prog.key(field, self.w.opts);
        self.w.out.extend_from_slice(key);
    }

    fn list(&mut self, field: &Field, group: std::ops::Range<usize>, depth: usize) -> R {
        self.w.out.push(b'[');
        let mut first = true;
        for i in group {
            let o = self.occ[i];
            let (s, e) = (o.start as usize, o.end as usize);
            if let Ty::Message(cmi) = field.ty {
                if !first {
                    self.w.out.push(b',');
                }
                first = false;
                self.message(cmi, s, e, depth + 1)?;
            } else if o.wire == 2 && field.ty.packable() {
                let wire = field.ty.wire_type();
                let buf = self.buf;
                let mut rest = &buf[s..e];
                while !rest.is_empty() {
                    let (vs, ve) = self.skip(&mut rest, wire)?;
                    let v = self.decode(&field.ty, wire, vs, ve).ok_or(Bail)?;
                    if !first {
                        self.w.out.push(b',');
                    }
                    first = false;
                    self.scalar(&field.ty, v)?;
                }
            } else {
                let v = self.decode(&field.ty, o.wire, s, e).ok_or(Bail)?;
                if !first {
                    self.w.out.push(b',');
                }
                first = false;
                self.scalar(&field.ty, v)?;
            }
        }
        self.w.out.push(b']');
        Ok(())
    }

    fn map(
        &mut self,
        key_ty: &Ty,
        value_ty: &Ty,
        value_default: &Scalar,
        group: std::ops::Range<usize>,
        depth: usize,
    ) -> R {
        let mut entries: Vec<(Mk<'a>, Option<Occ>)> = Vec::with_capacity(group.len());
        for i in group {
            let o = self.occ[i];
            let buf = self.buf;
            let mut rest = &buf[o.start as usize..o.end as usize];
            let mut key = match key_ty {
                Ty::String => Mk::Str(""),
                Ty::Bool => Mk::Bool(false),
                Ty::Int32 | Ty::Sint32 | Ty::Sfixed32 => Mk::I32(0),
                Ty::Int64 | Ty::Sint64 | Ty::Sfixed64 => Mk::I64(0),
                Ty::Uint32 | Ty::Fixed32 => Mk::U32(0),
                Ty::Uint64 | Ty::Fixed64 => Mk::U64(0),
                _ => return Err(Bail),
            };
            let mut value: Option<Occ> = None;
            while !rest.is_empty() {
                let (number, wire) = decode_key(&mut rest).map_err(bail)?;
                let wire = wire as u8;
                let (vs, ve) = self.skip(&mut rest, wire)?;
                match number {
                    1 => {
                        if wire != key_ty.wire_type() {
                            return Err(Bail);
                        }
                        key = match self.decode(key_ty, wire, vs, ve).ok_or(Bail)? {
                            Sv::Bool(b) => Mk::Bool(b),
                            Sv::I32(n) => Mk::I32(n),
                            Sv::I64(n) => Mk::I64(n),
                            Sv::U32(n) => Mk::U32(n),
                            Sv::U64(n) => Mk::U64(n),
                            Sv::Str(s) => Mk::Str(s),
                            _ => return Err(Bail),
                        };
                    }
                    2 => {
                        if wire != value_ty.wire_type() {
                            return Err(Bail);
                        }
                        match value_ty {
                            Ty::Message(_) if value.is_some() => return Err(Bail),
                            Ty::Message(_) => {}
                            // Checks UTF-8 (and nothing else can fail).
                            ty => {
                                self.decode(ty, wire, vs, ve).ok_or(Bail)?;
                            }
                        }
                        value = Some(Occ {
                            field: 0,
                            wire,
                            start: vs as u32,
                            end: ve as u32,
                        });
                    }
                    _ => {}
                }
            }
            entries.push((key, value));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        self.w.out.push(b'{');
        let mut first = true;
        for i in 0..entries.len() {
            let (key, value) = entries[i];
            let overridden = entries.get(i + 1).is_some_and(|next| next.0 == key);
            if overridden {
                if let (Ty::Message(cmi), Some(o)) = (value_ty, value) {
                    self.validate(*cmi, o, depth + 1)?;
                }
                continue;
            }
            if !first {
                self.w.out.push(b',');
            }
            first = false;
            match key {
                Mk::Str(s) => self.w.string(s),
                Mk::Bool(b) => self.w.raw_quoted(if b { "true" } else { "false" }),
                Mk::I32(n) => self.w.quoted_display(&n),
                Mk::I64(n) => self.w.quoted_display(&n),
                Mk::U32(n) => self.w.quoted_display(&n),
                Mk::U64(n) => self.w.quoted_display(&n),
            }
            self.w.out.push(b':');
            match (value_ty, value) {
                (Ty::Message(cmi), Some(o)) => {
                    self.message(*cmi, o.start as usize, o.end as usize, depth + 1)?
                }
                // A missing message value is an empty message.
                (Ty::Message(cmi), None) => self.message(*cmi, 0, 0, depth + 1)?,
                (ty, Some(o)) => {
                    let v = self
                        .decode(ty, o.wire, o.start as usize, o.end as usize)
                        .ok_or(Bail)?;
                    self.scalar(ty, v)?;
                }
                (ty, None) => {
                    let v = Sv::of_default(value_default).ok_or(Bail)?;
                    self.scalar(ty, v)?;
                }
            }
        }
        self.w.out.push(b'}');
        Ok(())
    }

    /// Checks a message that is decoded but never printed, by printing it and
    /// dropping the output.
    fn validate(&mut self, mi: u32, o: Occ, depth: usize) -> R {
        let mark = self.w.out.len();
        let r = self.message(mi, o.start as usize, o.end as usize, depth);
        self.w.out.truncate(mark);
        r
    }

    /// A message of a type the reference path prints: decoded with
    /// prost-reflect and printed with the reference writer, in place.
    fn reference(&mut self, mi: u32, start: usize, end: usize, depth: usize) -> R {
        let desc = self.prog.msgs()[mi as usize].desc.clone();
        let msg = DynamicMessage::decode(desc, &self.buf[start..end]).map_err(bail)?;
        // Decoded alone, the sub-message gets a fresh recursion budget; in the
        // whole response it would not. Every level costs at least two bytes.
        if depth + (end - start) / 2 >= 90 && depth + nesting(&msg) >= 90 {
            return Err(Bail);
        }
        self.w.message(&msg).map_err(bail)
    }

    /// Skips one value at the front of `rest` (a sub-slice of the input) and
    /// returns its span as offsets into the input.
    fn skip(&self, rest: &mut &'a [u8], wire: u8) -> Result<(usize, usize), Bail> {
        let origin = self.buf.as_ptr() as usize;
        let (s, e) = skip_value(rest, wire)?;
        Ok((s - origin, e - origin))
    }

    /// Decodes a scalar value span (already structurally checked).
    fn decode(&self, ty: &Ty, wire: u8, start: usize, end: usize) -> Option<Sv<'a>> {
        let b = &self.buf[start..end];
        let ctx = DecodeContext::default;
        let wt = prost::encoding::WireType::try_from(u64::from(wire)).ok()?;
        macro_rules! merge {
            ($m:ident, $v:expr, $variant:ident) => {{
                let mut v = $v;
                prost::encoding::$m::merge(wt, &mut v, &mut &b[..], ctx()).ok()?;
                Sv::$variant(v)
            }};
        }
        Some(match ty {
            Ty::Double => merge!(double, 0f64, F64),
            Ty::Float => merge!(float, 0f32, F32),
            Ty::Int32 => merge!(int32, 0i32, I32),
            Ty::Int64 => merge!(int64, 0i64, I64),
            Ty::Uint32 => merge!(uint32, 0u32, U32),
            Ty::Uint64 => merge!(uint64, 0u64, U64),
            Ty::Sint32 => merge!(sint32, 0i32, I32),
            Ty::Sint64 => merge!(sint64, 0i64, I64),
            Ty::Fixed32 => merge!(fixed32, 0u32, U32),
            Ty::Fixed64 => merge!(fixed64, 0u64, U64),
            Ty::Sfixed32 => merge!(sfixed32, 0i32, I32),
            Ty::Sfixed64 => merge!(sfixed64, 0i64, I64),
            Ty::Bool => merge!(bool, false, Bool),
            Ty::Enum { .. } => merge!(int32, 0i32, Enum),
            Ty::String => Sv::Str(std::str::from_utf8(b).ok()?),
            Ty::Bytes => Sv::Bytes(b),
            Ty::Message(_) => return None,
        })
    }

    /// A scalar as the reference writer's `singular` prints it.
    fn scalar(&mut self, ty: &Ty, v: Sv<'_>) -> R {
        let w = &mut self.w;
        match v {
            Sv::Bool(b) => w.out.extend_from_slice(if b { b"true" } else { b"false" }),
            Sv::I32(n) => w.display(&n),
            Sv::U32(n) => w.display(&n),
            Sv::I64(n) => w.quoted_display(&n),
            Sv::U64(n) => w.quoted_display(&n),
            Sv::F32(f) => w.float(f as f64, true),
            Sv::F64(f) => w.float(f, false),
            Sv::Str(s) => w.string(s),
            Sv::Bytes(b) => w.base64(b),
            Sv::Enum(n) => {
                let Ty::Enum { desc, null_value } = ty else {
                    return Err(Bail);
                };
                if *null_value {
                    w.out.extend_from_slice(b"null");
                } else {
                    match desc.get_value(n) {
                        Some(v) if !w.opts.enums_as_ints => w.string(v.name()),
                        _ => w.display(&n),
                    }
                }
            }
        }
        Ok(())
    }
}

/// Skips one value of wire type `wire` at the front of `rest`, returning the
/// addresses its span (a length-delimited value's payload) starts and ends at.
fn skip_value(rest: &mut &[u8], wire: u8) -> Result<(usize, usize), Bail> {
    let take = |rest: &mut &[u8], n: usize| -> Result<(), Bail> {
        if rest.len() < n {
            return Err(Bail);
        }
        *rest = &rest[n..];
        Ok(())
    };
    let mut start = rest.as_ptr() as usize;
    match wire {
        0 => {
            decode_varint(rest).map_err(bail)?;
        }
        1 => take(rest, 8)?,
        5 => take(rest, 4)?,
        2 => {
            let len = decode_varint(rest).map_err(bail)?;
            start = rest.as_ptr() as usize;
            take(rest, usize::try_from(len).map_err(bail)?)?;
        }
        // Groups (3, 4): the reference path.
        _ => return Err(Bail),
    }
    Ok((start, rest.as_ptr() as usize))
}

/// How deep messages nest inside a decoded message (0 for none).
fn nesting(msg: &DynamicMessage) -> usize {
    fn value(v: &Value) -> usize {
        match v {
            Value::Message(m) => 1 + nesting(m),
            Value::List(items) => items.iter().map(value).max().unwrap_or(0),
            Value::Map(map) => map.values().map(value).max().unwrap_or(0),
            _ => 0,
        }
    }
    msg.fields().map(|(_, v)| value(v)).max().unwrap_or(0)
}
