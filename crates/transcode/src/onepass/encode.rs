//! The one-pass request encoder: a JSON body straight to protobuf wire bytes,
//! without building a `DynamicMessage`.
//!
//! It is a set of serde seeds and visitors driven by the same
//! `serde_json::Deserializer` calls, in the same nesting, as prost-reflect's
//! deserializer, so tokenizing, number parsing, string unescaping, the
//! recursion limit and trailing-data checks are the reference's by
//! construction; the visitors copy prost-reflect's value rules (which JSON
//! values each field type accepts, `null` handling, last duplicate key wins,
//! a second member of a oneof is an error, unknown enum names dropped unless
//! strict). Each message is written as it is read into per-field segments,
//! then emitted in field-number order, as `DynamicMessage` encodes it
//! (implicit-presence defaults omitted, packed lists where the field is
//! packed). Map entries come out in JSON order; prost-reflect's come out in
//! hash order, so only maps compare by value rather than by bytes.
//!
//! Types whose JSON form prost-reflect owns (the `google.protobuf` well-known
//! types) are decoded by prost-reflect from the same deserializer and encoded
//! in place: a per-message fallback. Any error makes the caller rerun the
//! reference path, which reports it exactly.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_reflect::{DeserializeOptions, DynamicMessage, Kind, MessageDescriptor};
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::program::{Lookup, TypeQueue};

/// A route's request encoder: the shared library and the root type's index
/// in it (every message type reachable from the root is in the library; see
/// [`InCompiler`]).
#[derive(Debug, Clone)]
pub(crate) struct InProgram {
    lib: Arc<InLib>,
    root: u32,
}

/// The compiled message types of one [`InCompiler`], shared by its programs.
#[derive(Debug)]
pub(crate) struct InLib {
    msgs: Vec<InMsg>,
}

#[derive(Debug)]
struct InMsg {
    desc: MessageDescriptor,
    /// Decoded by prost-reflect (well-known types, extensions, groups,
    /// `NullValue` fields).
    delegate: bool,
    /// Indexed by field number through `by_number`.
    fields: Box<[InField]>,
    by_number: Lookup,
}

#[derive(Debug)]
struct InField {
    number: u32,
    ty: InTy,
    card: InCard,
    /// Implicit-presence fields omit their default.
    presence: bool,
    /// The oneof (real or synthetic) by its lowest member number, which names
    /// it uniquely within the message.
    oneof: Option<u32>,
}

#[derive(Debug)]
enum InCard {
    Single,
    List {
        packed: bool,
    },
    /// Boxed: maps are rare, and every field pays for the largest variant.
    Map(Box<InMap>),
}

#[derive(Debug)]
struct InMap {
    key: InTy,
    key_presence: bool,
    value: InTy,
    value_presence: bool,
}

#[derive(Debug, Clone)]
enum InTy {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    Enum(prost_reflect::EnumDescriptor),
    Message(u32),
}

impl InProgram {
    /// Compiles `root` and what it reaches into a library of its own; `None`
    /// when the root type itself is one prost-reflect owns.
    pub(crate) fn compile(root: &MessageDescriptor) -> Option<InProgram> {
        let mut c = InCompiler::default();
        let root = c.root(root);
        InProgram::of(&Arc::new(c.finish()), root)
    }

    /// The program of the library's type `root`; `None` when prost-reflect
    /// decodes that type (no gain in one pass).
    pub(crate) fn of(lib: &Arc<InLib>, root: u32) -> Option<InProgram> {
        (!lib.msgs.get(root as usize)?.delegate).then(|| InProgram {
            lib: lib.clone(),
            root,
        })
    }

    /// The index of the request type in the library.
    pub(crate) fn root(&self) -> u32 {
        self.root
    }

    fn msg(&self, mi: u32) -> &InMsg {
        &self.lib.msgs[mi as usize]
    }

    /// Test builds: the full names of the library's types, in index order.
    #[cfg(test)]
    pub(crate) fn lib_names(&self) -> Vec<&str> {
        self.lib.msgs.iter().map(|m| m.desc.full_name()).collect()
    }

    /// Test builds: whether two programs share one library.
    #[cfg(test)]
    pub(crate) fn same_lib(&self, other: &InProgram) -> bool {
        Arc::ptr_eq(&self.lib, &other.lib)
    }
}

/// Compiles message types into one [`InLib`], each type once (by full name:
/// use one compiler per descriptor pool).
#[derive(Debug, Default)]
pub(crate) struct InCompiler {
    types: TypeQueue,
    msgs: Vec<InMsg>,
}

impl InCompiler {
    /// Compiles `root` and every type reachable from it (those not compiled
    /// yet); returns the root's index in the library.
    pub(crate) fn root(&mut self, root: &MessageDescriptor) -> u32 {
        let i = self.types.intern(root);
        while let Some(desc) = self.types.pending(self.msgs.len()) {
            let msg = self.message(desc);
            self.msgs.push(msg);
        }
        i
    }

    /// The library of everything compiled.
    pub(crate) fn finish(self) -> InLib {
        InLib { msgs: self.msgs }
    }

    fn ty(&mut self, kind: &Kind) -> InTy {
        match kind {
            Kind::Message(m) => InTy::Message(self.types.intern(m)),
            k => scalar_ty(k),
        }
    }

    fn message(&mut self, desc: MessageDescriptor) -> InMsg {
        let delegate = delegated(&desc);
        let mut fields = Vec::new();
        if !delegate {
            for field in desc.fields() {
                let card = if field.is_map() {
                    let Kind::Message(entry) = field.kind() else {
                        unreachable!("map fields are messages")
                    };
                    let (k, v) = (entry.map_entry_key_field(), entry.map_entry_value_field());
                    InCard::Map(Box::new(InMap {
                        key: self.ty(&k.kind()),
                        key_presence: k.supports_presence(),
                        value: self.ty(&v.kind()),
                        value_presence: v.supports_presence(),
                    }))
                } else if field.is_list() {
                    InCard::List {
                        packed: field.is_packed(),
                    }
                } else {
                    InCard::Single
                };
                let t = match card {
                    InCard::Map(_) => InTy::Bool,
                    _ => self.ty(&field.kind()),
                };
                fields.push(InField {
                    number: field.number(),
                    ty: t,
                    card,
                    presence: field.supports_presence(),
                    oneof: field
                        .containing_oneof()
                        .map(|o| o.fields().map(|f| f.number()).min().unwrap_or(0)),
                });
            }
        }
        let by_number = Lookup::new(fields.iter().map(|f| f.number));
        InMsg {
            desc,
            delegate,
            fields: fields.into_boxed_slice(),
            by_number,
        }
    }
}

fn delegated(desc: &MessageDescriptor) -> bool {
    desc.full_name().starts_with("google.protobuf.")
        || desc.extensions().len() > 0
        || desc.fields().len() >= usize::from(u16::MAX)
        || desc.fields().any(|f| {
            f.is_group()
                || matches!(f.kind(), Kind::Enum(e) if e.full_name() == "google.protobuf.NullValue")
        })
}

fn scalar_ty(kind: &Kind) -> InTy {
    match kind {
        Kind::Double => InTy::Double,
        Kind::Float => InTy::Float,
        Kind::Int32 => InTy::Int32,
        Kind::Int64 => InTy::Int64,
        Kind::Uint32 => InTy::Uint32,
        Kind::Uint64 => InTy::Uint64,
        Kind::Sint32 => InTy::Sint32,
        Kind::Sint64 => InTy::Sint64,
        Kind::Fixed32 => InTy::Fixed32,
        Kind::Fixed64 => InTy::Fixed64,
        Kind::Sfixed32 => InTy::Sfixed32,
        Kind::Sfixed64 => InTy::Sfixed64,
        Kind::Bool => InTy::Bool,
        Kind::String => InTy::String,
        Kind::Bytes => InTy::Bytes,
        Kind::Enum(e) => InTy::Enum(e.clone()),
        Kind::Message(_) => unreachable!("messages are interned"),
    }
}

/// A message being written: each field's encoding (key included; empty for an
/// omitted default) in `buf`, in arrival order, the latest per field live.
#[derive(Default)]
pub(crate) struct Segments {
    buf: Vec<u8>,
    segs: Vec<Seg>,
}

#[derive(Clone, Copy)]
struct Seg {
    number: u32,
    field: u16,
    start: u32,
    end: u32,
    live: bool,
}

impl Segments {
    /// Replaces the field's value (prost-reflect's `set_field`), clearing the
    /// other members of its oneof when `clear_oneof` is given.
    pub(crate) fn set(&mut self, field: u16, number: u32, bytes: &[u8], clear_oneof: &[u32]) {
        for s in &mut self.segs {
            if s.field == field || clear_oneof.contains(&s.number) {
                s.live = false;
            }
        }
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(bytes);
        self.segs.push(Seg {
            number,
            field,
            start,
            end: self.buf.len() as u32,
            live: true,
        });
    }

    /// The message's encoding: live fields in number order.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let all_live = self.segs.iter().all(|s| s.live);
        if all_live && self.segs.is_sorted_by_key(|s| s.number) {
            return self.buf;
        }
        self.segs.retain(|s| s.live);
        self.segs.sort_by_key(|s| s.number);
        let mut out = Vec::with_capacity(self.buf.len());
        for s in &self.segs {
            out.extend_from_slice(&self.buf[s.start as usize..s.end as usize]);
        }
        out
    }
}

/// What every seed needs: the program and the unknown-name rule (`strict`),
/// with prost-reflect's options for the delegated types.
pub(crate) struct Ctx<'p> {
    pub(crate) prog: &'p InProgram,
    pub(crate) opts: &'p DeserializeOptions,
    pub(crate) strict: bool,
}

/// Decodes one whole JSON message of the program's root type (no trailing
/// data), returning its fields for the caller to add path values to.
pub(crate) fn decode_root(cx: &Ctx<'_>, json: &[u8]) -> Result<Segments, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let segs = de.deserialize_map(MessageVisitor {
        cx,
        mi: cx.prog.root(),
    })?;
    de.end()?;
    Ok(segs)
}

/// Decodes one whole JSON message of the library's type `mi` to its encoding.
pub(crate) fn decode_message(
    cx: &Ctx<'_>,
    mi: u32,
    json: &[u8],
) -> Result<Vec<u8>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let bytes = MessageSeed { cx, mi }.deserialize(&mut de)?;
    de.end()?;
    Ok(bytes)
}

impl InProgram {
    /// The index of the message type of the root's field `number`, if it is a
    /// singular message field.
    pub(crate) fn root_message_field(&self, number: u32) -> Option<(u16, u32)> {
        let root = self.msg(self.root);
        let fi = root.by_number.get(number)?;
        match (&root.fields[fi].ty, &root.fields[fi].card) {
            (InTy::Message(mi), InCard::Single) => Some((fi as u16, *mi)),
            _ => None,
        }
    }

    /// The root field numbered `number`: its index and the numbers of the
    /// other members of its real oneof (which setting it clears).
    pub(crate) fn root_field(&self, number: u32) -> Option<(u16, Vec<u32>)> {
        let root = self.msg(self.root);
        let fi = root.by_number.get(number)?;
        let field = &root.fields[fi];
        let others = match field.oneof {
            Some(o) => root
                .fields
                .iter()
                .filter(|f| f.oneof == Some(o) && f.number != number)
                .map(|f| f.number)
                .collect(),
            None => Vec::new(),
        };
        Some((fi as u16, others))
    }
}

/// A message value: its encoding.
struct MessageSeed<'p> {
    cx: &'p Ctx<'p>,
    mi: u32,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        let msg = &self.cx.prog.msg(self.mi);
        if msg.delegate {
            return DynamicMessage::deserialize_with_options(msg.desc.clone(), d, self.cx.opts)
                .map(|m| m.encode_to_vec());
        }
        d.deserialize_map(MessageVisitor {
            cx: self.cx,
            mi: self.mi,
        })
        .map(Segments::finish)
    }
}

struct MessageVisitor<'p> {
    cx: &'p Ctx<'p>,
    mi: u32,
}

impl<'de> Visitor<'de> for MessageVisitor<'_> {
    type Value = Segments;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Segments, A::Error> {
        let msg = &self.cx.prog.msg(self.mi);
        let mut segs = Segments::default();
        let mut scratch = Vec::new();
        while let Some(key) = map.next_key::<Cow<'_, str>>()? {
            let found = msg
                .desc
                .get_field_by_json_name(&key)
                .or_else(|| msg.desc.get_field_by_name(&key));
            let Some(fd) = found else {
                if self.cx.strict {
                    return Err(A::Error::custom(format!("unrecognized field name '{key}'")));
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            // Every field of the descriptor is compiled.
            let Some(fi) = msg.by_number.get(fd.number()) else {
                return Err(A::Error::custom("field not compiled"));
            };
            let field = &msg.fields[fi];
            scratch.clear();
            let set = map.next_value_seed(FieldSeed {
                cx: self.cx,
                field,
                out: &mut scratch,
            })?;
            if !set {
                continue;
            }
            if let Some(o) = field.oneof {
                let taken = segs
                    .segs
                    .iter()
                    .any(|s| s.live && msg.fields[s.field as usize].oneof == Some(o));
                if taken {
                    return Err(A::Error::custom("multiple fields provided for oneof"));
                }
            }
            segs.set(fi as u16, field.number, &scratch, &[]);
        }
        Ok(segs)
    }
}

/// One field's JSON value, written (key included) to `out`; `false` when the
/// value leaves the field as it was (`null`, an unknown enum name).
struct FieldSeed<'p, 'o> {
    cx: &'p Ctx<'p>,
    field: &'p InField,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "option")
    }

    fn visit_unit<E: Error>(self) -> Result<bool, E> {
        self.visit_none()
    }

    fn visit_none<E: Error>(self) -> Result<bool, E> {
        // `null` leaves a field unset, except a google.protobuf.Value, which
        // becomes the null value (NullValue enum fields are delegated).
        match &self.field.ty {
            InTy::Message(mi)
                if self.cx.prog.msg(*mi).desc.full_name() == "google.protobuf.Value"
                    && matches!(self.field.card, InCard::Single) =>
            {
                encode_key(self.field.number, WireType::LengthDelimited, self.out);
                self.out.extend_from_slice(&[2, 0x08, 0x00]);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        let f = self.field;
        match &f.card {
            InCard::Single => {
                let mut value = Vec::new();
                let Some(v) = KindSeed {
                    cx: self.cx,
                    ty: &f.ty,
                    out: &mut value,
                }
                .deserialize(d)?
                else {
                    return Ok(false);
                };
                if f.presence || !v.is_default_with(&value) {
                    write_value(self.out, f.number, &f.ty, v, &value);
                }
                Ok(true)
            }
            InCard::List { packed } => {
                d.deserialize_any(ListVisitor {
                    cx: self.cx,
                    field: f,
                    packed: *packed,
                    out: self.out,
                })?;
                Ok(true)
            }
            InCard::Map(m) => {
                d.deserialize_any(MapVisitor {
                    cx: self.cx,
                    number: f.number,
                    key: &m.key,
                    key_presence: m.key_presence,
                    value: &m.value,
                    value_presence: m.value_presence,
                    out: self.out,
                })?;
                Ok(true)
            }
        }
    }
}

/// A decoded scalar (messages are written to the seed's buffer instead).
#[derive(Debug, Clone, Copy)]
enum V {
    F64(f64),
    F32(f32),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    Bool(bool),
    /// A string or bytes: the seed's buffer holds it.
    Buf,
    Enum(i32),
    /// A message: the seed's buffer holds its encoding.
    Msg,
}

impl V {
    /// prost-reflect's `is_default_value` for an implicit-presence field
    /// (whose default is the zero value; `-0.0 == 0.0`).
    fn is_default_with(self, buf: &[u8]) -> bool {
        match self {
            V::F64(f) => f == 0.0,
            V::F32(f) => f == 0.0,
            V::I32(n) | V::Enum(n) => n == 0,
            V::I64(n) => n == 0,
            V::U32(n) => n == 0,
            V::U64(n) => n == 0,
            V::Bool(b) => !b,
            V::Buf => buf.is_empty(),
            V::Msg => false,
        }
    }
}

/// Writes one field occurrence: key and value.
fn write_value(out: &mut Vec<u8>, number: u32, ty: &InTy, v: V, buf: &[u8]) {
    use prost::encoding as e;
    match (ty, v) {
        (InTy::Double, V::F64(f)) => e::double::encode(number, &f, out),
        (InTy::Float, V::F32(f)) => e::float::encode(number, &f, out),
        (InTy::Int32, V::I32(n)) => e::int32::encode(number, &n, out),
        (InTy::Sint32, V::I32(n)) => e::sint32::encode(number, &n, out),
        (InTy::Sfixed32, V::I32(n)) => e::sfixed32::encode(number, &n, out),
        (InTy::Int64, V::I64(n)) => e::int64::encode(number, &n, out),
        (InTy::Sint64, V::I64(n)) => e::sint64::encode(number, &n, out),
        (InTy::Sfixed64, V::I64(n)) => e::sfixed64::encode(number, &n, out),
        (InTy::Uint32, V::U32(n)) => e::uint32::encode(number, &n, out),
        (InTy::Fixed32, V::U32(n)) => e::fixed32::encode(number, &n, out),
        (InTy::Uint64, V::U64(n)) => e::uint64::encode(number, &n, out),
        (InTy::Fixed64, V::U64(n)) => e::fixed64::encode(number, &n, out),
        (InTy::Bool, V::Bool(b)) => e::bool::encode(number, &b, out),
        (InTy::Enum(_), V::Enum(n)) => e::int32::encode(number, &n, out),
        (_, V::Buf | V::Msg) => {
            encode_key(number, WireType::LengthDelimited, out);
            encode_varint(buf.len() as u64, out);
            out.extend_from_slice(buf);
        }
        _ => unreachable!("value decoded for its own type"),
    }
}

/// A packed element: the value alone.
fn write_packed(out: &mut Vec<u8>, ty: &InTy, v: V) {
    match (ty, v) {
        (InTy::Double, V::F64(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (InTy::Float, V::F32(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (InTy::Int32, V::I32(n)) | (InTy::Enum(_), V::Enum(n)) => {
            encode_varint(n as i64 as u64, out)
        }
        (InTy::Sint32, V::I32(n)) => encode_varint(((n << 1) ^ (n >> 31)) as u32 as u64, out),
        (InTy::Sfixed32, V::I32(n)) => out.extend_from_slice(&n.to_le_bytes()),
        (InTy::Int64, V::I64(n)) => encode_varint(n as u64, out),
        (InTy::Sint64, V::I64(n)) => encode_varint(((n << 1) ^ (n >> 63)) as u64, out),
        (InTy::Sfixed64, V::I64(n)) => out.extend_from_slice(&n.to_le_bytes()),
        (InTy::Uint32, V::U32(n)) => encode_varint(u64::from(n), out),
        (InTy::Fixed32, V::U32(n)) => out.extend_from_slice(&n.to_le_bytes()),
        (InTy::Uint64, V::U64(n)) => encode_varint(n, out),
        (InTy::Fixed64, V::U64(n)) => out.extend_from_slice(&n.to_le_bytes()),
        (InTy::Bool, V::Bool(b)) => out.push(u8::from(b)),
        _ => unreachable!("only scalars are packed"),
    }
}

/// One value of a type (prost-reflect's `KindSeed`); strings, bytes and
/// messages land in `out`. `None`: an unknown enum name, ignored.
struct KindSeed<'p, 'o> {
    cx: &'p Ctx<'p>,
    ty: &'p InTy,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for KindSeed<'_, '_> {
    type Value = Option<V>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<V>, D::Error> {
        let v = match self.ty {
            InTy::Double => V::F64(d.deserialize_any(Num::<f64>::default())?),
            InTy::Float => V::F32(d.deserialize_any(Num::<f32>::default())?),
            InTy::Int32 | InTy::Sint32 | InTy::Sfixed32 => {
                V::I32(d.deserialize_any(Num::<i32>::default())?)
            }
            InTy::Int64 | InTy::Sint64 | InTy::Sfixed64 => {
                V::I64(d.deserialize_any(Num::<i64>::default())?)
            }
            InTy::Uint32 | InTy::Fixed32 => V::U32(d.deserialize_any(Num::<u32>::default())?),
            InTy::Uint64 | InTy::Fixed64 => V::U64(d.deserialize_any(Num::<u64>::default())?),
            InTy::Bool => V::Bool(d.deserialize_any(BoolVisitor)?),
            InTy::String => {
                let s = d.deserialize_string(StrVisitor)?;
                self.out.extend_from_slice(s.as_bytes());
                V::Buf
            }
            InTy::Bytes => {
                let b = d.deserialize_str(BytesVisitor)?;
                self.out.extend_from_slice(&b);
                V::Buf
            }
            InTy::Enum(e) => match d.deserialize_any(EnumVisitor(e, self.cx.strict))? {
                Some(n) => V::Enum(n),
                None => return Ok(None),
            },
            InTy::Message(mi) => {
                let bytes = MessageSeed {
                    cx: self.cx,
                    mi: *mi,
                }
                .deserialize(d)?;
                self.out.extend_from_slice(&bytes);
                V::Msg
            }
        };
        Ok(Some(v))
    }
}

struct ListVisitor<'p, 'o> {
    cx: &'p Ctx<'p>,
    field: &'p InField,
    packed: bool,
    out: &'o mut Vec<u8>,
}

impl<'de> Visitor<'de> for ListVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let f = self.field;
        let mut packed = Vec::new();
        let mut value = Vec::new();
        loop {
            value.clear();
            let seed = KindSeed {
                cx: self.cx,
                ty: &f.ty,
                out: &mut value,
            };
            let Some(item) = seq.next_element_seed(seed)? else {
                break;
            };
            let Some(item) = item else {
                continue; // an unknown enum name
            };
            let v = item;
            if self.packed {
                write_packed(&mut packed, &f.ty, v);
            } else {
                write_value(self.out, f.number, &f.ty, v, &value);
            }
        }
        if self.packed && !packed.is_empty() {
            encode_key(f.number, WireType::LengthDelimited, self.out);
            encode_varint(packed.len() as u64, self.out);
            self.out.extend_from_slice(&packed);
        }
        Ok(())
    }
}

struct MapVisitor<'p, 'o> {
    cx: &'p Ctx<'p>,
    number: u32,
    key: &'p InTy,
    key_presence: bool,
    value: &'p InTy,
    value_presence: bool,
    out: &'o mut Vec<u8>,
}

impl<'de> Visitor<'de> for MapVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use std::str::FromStr as _;
        // Entries by key; a repeated key replaces its entry.
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut value = Vec::new();
        while let Some(key) = map.next_key::<Cow<'_, str>>()? {
            let mut entry = Vec::new();
            let k = key.as_ref();
            let kv = match self.key {
                InTy::Int32 | InTy::Sint32 | InTy::Sfixed32 => {
                    V::I32(i32::from_str(k).map_err(A::Error::custom)?)
                }
                InTy::Int64 | InTy::Sint64 | InTy::Sfixed64 => {
                    V::I64(i64::from_str(k).map_err(A::Error::custom)?)
                }
                InTy::Uint32 | InTy::Fixed32 => V::U32(u32::from_str(k).map_err(A::Error::custom)?),
                InTy::Uint64 | InTy::Fixed64 => V::U64(u64::from_str(k).map_err(A::Error::custom)?),
                InTy::Bool => V::Bool(bool::from_str(k).map_err(A::Error::custom)?),
                InTy::String => V::Buf,
                _ => return Err(A::Error::custom("invalid type for map key")),
            };
            if self.key_presence || !kv.is_default_with(k.as_bytes()) {
                write_value(&mut entry, 1, self.key, kv, k.as_bytes());
            }
            value.clear();
            let seed = KindSeed {
                cx: self.cx,
                ty: self.value,
                out: &mut value,
            };
            // prost-reflect's FieldDescriptorSeed: `null` is no value here.
            let Some(v) = map.next_value_seed(seed)? else {
                continue;
            };
            if self.value_presence || !v.is_default_with(&value) {
                write_value(&mut entry, 2, self.value, v, &value);
            }
            // Keys compare parsed ("01" and "1" are one int key).
            let mut canonical = Vec::new();
            write_value(&mut canonical, 1, self.key, kv, k.as_bytes());
            match entries.iter_mut().find(|(key, _)| *key == canonical) {
                Some(slot) => slot.1 = entry,
                None => entries.push((canonical, entry)),
            }
        }
        for (_, entry) in entries {
            encode_key(self.number, WireType::LengthDelimited, self.out);
            encode_varint(entry.len() as u64, self.out);
            self.out.extend_from_slice(&entry);
        }
        Ok(())
    }
}

/// prost-reflect's number visitors, one generic copy.
#[derive(Default)]
struct Num<T>(std::marker::PhantomData<T>);

trait NumRules: Sized + Copy + std::str::FromStr {
    const WHAT: &'static str;
    fn from_i64(v: i64) -> Result<Self, String>;
    fn from_u64(v: u64) -> Result<Self, String>;
    fn from_f64(v: f64) -> Result<Self, String>;
    fn from_str_json(v: &str) -> Result<Self, String>;
}

macro_rules! int_rules {
    ($t:ty, $what:expr) => {
        impl NumRules for $t {
            const WHAT: &'static str = $what;
            fn from_i64(v: i64) -> Result<Self, String> {
                <$t>::try_from(v).map_err(|e| e.to_string())
            }
            fn from_u64(v: u64) -> Result<Self, String> {
                <$t>::try_from(v).map_err(|e| e.to_string())
            }
            fn from_f64(v: f64) -> Result<Self, String> {
                if v.fract() != 0.0 {
                    return Err("expected integer value".into());
                }
                if v < (<$t>::MIN as f64) || v > (<$t>::MAX as f64) {
                    return Err("float value out of range".into());
                }
                Ok(v as $t)
            }
            fn from_str_json(v: &str) -> Result<Self, String> {
                v.parse()
                    .map_err(|e: std::num::ParseIntError| e.to_string())
            }
        }
    };
}

int_rules!(i32, "a 32-bit signed integer");
int_rules!(i64, "a 64-bit signed integer or decimal string");
int_rules!(u32, "a 32-bit unsigned integer or decimal string");
int_rules!(u64, "a 64-bit unsigned integer or decimal string");

impl NumRules for f64 {
    const WHAT: &'static str = "a 64-bit floating point value";
    fn from_i64(v: i64) -> Result<Self, String> {
        Ok(v as f64)
    }
    fn from_u64(v: u64) -> Result<Self, String> {
        Ok(v as f64)
    }
    fn from_f64(v: f64) -> Result<Self, String> {
        Ok(v)
    }
    fn from_str_json(v: &str) -> Result<Self, String> {
        match v.parse::<f64>() {
            Ok(f) => Ok(f),
            Err(_) if v == "Infinity" => Ok(f64::INFINITY),
            Err(_) if v == "-Infinity" => Ok(f64::NEG_INFINITY),
            Err(_) if v == "NaN" => Ok(f64::NAN),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl NumRules for f32 {
    const WHAT: &'static str = "a 32-bit floating point value";
    fn from_i64(v: i64) -> Result<Self, String> {
        Ok(v as f32)
    }
    fn from_u64(v: u64) -> Result<Self, String> {
        Ok(v as f32)
    }
    fn from_f64(v: f64) -> Result<Self, String> {
        if v < (f32::MIN as f64) || v > (f32::MAX as f64) {
            Err("float value out of range".into())
        } else {
            Ok(v as f32)
        }
    }
    fn from_str_json(v: &str) -> Result<Self, String> {
        match v.parse::<f32>() {
            Ok(f) => Ok(f),
            Err(_) if v == "Infinity" => Ok(f32::INFINITY),
            Err(_) if v == "-Infinity" => Ok(f32::NEG_INFINITY),
            Err(_) if v == "NaN" => Ok(f32::NAN),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl<T: NumRules> Visitor<'_> for Num<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
        T::from_i64(v).map_err(E::custom)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
        T::from_u64(v).map_err(E::custom)
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
        T::from_f64(v).map_err(E::custom)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
        T::from_str_json(v).map_err(E::custom)
    }
}

struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a boolean")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string")
    }

    fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// prost-reflect's base64: standard, else URL-safe on `-` or `_`; padding
/// optional, trailing bits allowed.
struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a base64-encoded string")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Vec<u8>, E> {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        use base64::{DecodeError, Engine as _, alphabet};
        const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
        const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
        let mut buf = Vec::new();
        match STANDARD.decode_vec(v, &mut buf) {
            Ok(()) => Ok(buf),
            Err(DecodeError::InvalidByte(_, b'-' | b'_')) => {
                buf.clear();
                URL_SAFE
                    .decode_vec(v, &mut buf)
                    .map(|()| buf)
                    .map_err(|e| E::custom(format!("invalid base64: {e}")))
            }
            Err(e) => Err(E::custom(format!("invalid base64: {e}"))),
        }
    }
}

/// prost-reflect's enum rules: a name, else a number in i32 range; an
/// unknown name is dropped unless strict.
struct EnumVisitor<'p>(&'p prost_reflect::EnumDescriptor, bool);

impl Visitor<'_> for EnumVisitor<'_> {
    type Value = Option<i32>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string or integer")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Option<i32>, E> {
        match self.0.get_value_by_name(v) {
            Some(e) => Ok(Some(e.number())),
            None if self.1 => Err(E::custom(format!("unrecognized enum value '{v}'"))),
            None => Ok(None),
        }
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Option<i32>, E> {
        i32::try_from(v).map(Some).map_err(E::custom)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Option<i32>, E> {
        i32::try_from(v).map(Some).map_err(E::custom)
    }
}
