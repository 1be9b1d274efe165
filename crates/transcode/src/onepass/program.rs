//! Compiling a route's response type into a [`Program`]: one compact record per
//! message type reachable from it, with each field's wire handling, printed
//! names (pre-escaped) and presence rules resolved, so that printing never
//! consults a descriptor except to name an enum value.
//!
//! The records live in a [`Lib`] that a [`Compiler`] fills for many roots at
//! once (a table build uses one per descriptor pool): a message type reachable
//! from several routes' responses is compiled once, and every field key is
//! stored once in the library's key bytes. A [`Program`] is the library plus
//! its root's index. Compiled one root at a time, each route held its own copy
//! of every type it reaches (`Timestamp`, a shared resource message, ...),
//! several megabytes over a large fleet.
//!
//! Types the one-pass printer does not handle itself are compiled as
//! [`Shape::Reference`]: the printer decodes such a sub-message with
//! prost-reflect and prints it with the reference writer, in place. That is how
//! `Any`, `Struct`, `Value`, `ListValue`, `FieldMask`, messages with extensions
//! or groups, and well-known names with unusual shapes keep today's output.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value};

use crate::JsonOptions;
use crate::writer::Writer;

/// Deepest nesting the printer walks itself; deeper input goes to the
/// reference path (prost's decoder stops at 100 levels, and the reference path
/// reports that error exactly).
pub(crate) const MAX_DEPTH: usize = 64;

/// A route's response printer: the shared library and the root type's index
/// in it (every message type reachable from the root is in the library).
#[derive(Debug, Clone)]
pub(crate) struct Program {
    lib: Arc<Lib>,
    root: u32,
}

/// The compiled message types of one [`Compiler`], shared by its programs.
#[derive(Debug)]
pub(crate) struct Lib {
    msgs: Vec<Msg>,
    /// Every field key (`"name":`, escaped), each distinct key once; a
    /// [`Key`] is a span of it.
    keys: Vec<u8>,
}

/// A span of [`Lib::keys`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    start: u32,
    len: u32,
}

impl Program {
    /// The message types, indexed by [`Ty::Message`] and [`Program::root`].
    #[inline]
    pub(crate) fn msgs(&self) -> &[Msg] {
        &self.lib.msgs
    }

    /// The index of the response type in [`Program::msgs`].
    #[inline]
    pub(crate) fn root(&self) -> u32 {
        self.root
    }

    /// Test builds: whether two programs share one library.
    #[cfg(test)]
    pub(crate) fn same_lib(&self, other: &Program) -> bool {
        Arc::ptr_eq(&self.lib, &other.lib)
    }

    /// The field's printed key (`"jsonName":` or `"proto_name":`).
    #[inline]
    pub(crate) fn key(&self, field: &Field, opts: &JsonOptions) -> &[u8] {
        let k = if opts.use_proto_names {
            field.proto_key
        } else {
            field.json_key
        };
        let start = k.start as usize;
        &self.lib.keys[start..start + k.len as usize]
    }
}

/// How a message type prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{` fields in declaration order `}`.
    Regular,
    /// `google.protobuf.Timestamp` with its standard fields.
    Timestamp,
    /// `google.protobuf.Duration` with its standard fields.
    Duration,
    /// One of the nine wrappers: its field 1, bare.
    Wrapper,
    /// Decoded and printed by the reference path (see the module doc).
    Reference,
}

#[derive(Debug)]
pub(crate) struct Msg {
    /// For [`Shape::Reference`] decoding only.
    pub(crate) desc: MessageDescriptor,
    pub(crate) shape: Shape,
    /// Declaration order (protojson's order).
    pub(crate) fields: Vec<Field>,
    /// Field number -> index in `fields`: a direct table for dense numbers,
    /// else sorted pairs searched by number.
    lookup: Lookup,
    /// Whether any field is a oneof member (real or synthetic).
    pub(crate) has_oneofs: bool,
}

/// Field number -> field index: a direct table for dense numbers, else
/// sorted pairs searched by number. (Also the request encoder's.)
#[derive(Debug)]
pub(crate) enum Lookup {
    Dense(Box<[u16]>),
    Sparse(Box<[(u32, u16)]>),
}

const NONE: u16 = u16::MAX;

impl Msg {
    /// The index in `fields` of the field numbered `number`.
    #[inline]
    pub(crate) fn field_index(&self, number: u32) -> Option<usize> {
        self.lookup.get(number)
    }
}

impl Lookup {
    /// The lookup for fields with these numbers, in index order (fewer than
    /// `u16::MAX` of them).
    pub(crate) fn new(numbers: impl Iterator<Item = u32> + Clone) -> Lookup {
        let (count, max) = numbers
            .clone()
            .fold((0usize, 0u32), |(n, m), x| (n + 1, m.max(x)));
        let max = max as usize;
        if max <= 4 * count + 32 {
            let mut t = vec![NONE; max + 1];
            for (i, n) in numbers.enumerate() {
                t[n as usize] = i as u16;
            }
            Lookup::Dense(t.into_boxed_slice())
        } else {
            let mut v: Vec<(u32, u16)> = numbers.enumerate().map(|(i, n)| (n, i as u16)).collect();
            v.sort_unstable();
            Lookup::Sparse(v.into_boxed_slice())
        }
    }

    /// The index of the field numbered `number`.
    #[inline]
    pub(crate) fn get(&self, number: u32) -> Option<usize> {
        match self {
            Lookup::Dense(t) => match t.get(number as usize) {
                Some(&i) if i != NONE => Some(i as usize),
                _ => None,
            },
            Lookup::Sparse(v) => v
                .binary_search_by_key(&number, |p| p.0)
                .ok()
                .map(|i| v[i].1 as usize),
        }
    }
}

/// A field's value type, as far as the wire and the printer care.
#[derive(Debug, Clone)]
pub(crate) enum Ty {
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
    /// An enum; `null_value` for `google.protobuf.NullValue`, printed `null`.
    Enum {
        desc: EnumDescriptor,
        null_value: bool,
    },
    /// Index into [`Program::msgs`].
    Message(u32),
}

impl Ty {
    /// The wire type a singular value of this type is written with.
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            Ty::Double | Ty::Fixed64 | Ty::Sfixed64 => 1,
            Ty::Float | Ty::Fixed32 | Ty::Sfixed32 => 5,
            Ty::String | Ty::Bytes | Ty::Message(_) => 2,
            _ => 0,
        }
    }

    /// Whether a repeated field of this type may arrive packed.
    pub(crate) fn packable(&self) -> bool {
        !matches!(self, Ty::String | Ty::Bytes | Ty::Message(_))
    }
}

/// A default (or decoded) scalar, compared as prost-reflect compares
/// [`Value`]s to decide whether an implicit-presence field is populated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Str(Box<str>),
    Bytes(Box<[u8]>),
    Enum(i32),
    /// Message values have no default to compare with.
    None,
}

impl Scalar {
    fn of(value: &Value) -> Scalar {
        match value {
            Value::Bool(b) => Scalar::Bool(*b),
            Value::I32(n) => Scalar::I32(*n),
            Value::I64(n) => Scalar::I64(*n),
            Value::U32(n) => Scalar::U32(*n),
            Value::U64(n) => Scalar::U64(*n),
            Value::F32(f) => Scalar::F32(*f),
            Value::F64(f) => Scalar::F64(*f),
            Value::String(s) => Scalar::Str(s.as_str().into()),
            Value::Bytes(b) => Scalar::Bytes(b.to_vec().into()),
            Value::EnumNumber(n) => Scalar::Enum(*n),
            Value::Message(_) | Value::List(_) | Value::Map(_) => Scalar::None,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Card {
    Single,
    List,
    /// A map field (boxed: maps are rare, and every field pays for the
    /// largest variant).
    Map(Box<MapTypes>),
}

/// A map field's entry: the key and value types and the value's default
/// (what a missing value in an entry decodes to).
#[derive(Debug)]
pub(crate) struct MapTypes {
    pub(crate) key: Ty,
    pub(crate) value: Ty,
    pub(crate) value_default: Scalar,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) number: u32,
    /// `"jsonName":` and `"proto_name":`, escaped as the writer escapes them
    /// (see [`Program::key`]).
    json_key: Key,
    proto_key: Key,
    pub(crate) card: Card,
    /// The element type for lists, unused (see [`Card::Map`]) for maps.
    pub(crate) ty: Ty,
    /// prost-reflect's `supports_presence`: unset prints `null`.
    pub(crate) presence: bool,
    /// `oneof_index` in the descriptor (synthetic oneofs included).
    pub(crate) oneof: Option<u32>,
    /// A singular float or double: protobuf-go counts `-0.0` as populated.
    pub(crate) float_singular: bool,
    /// The field's default, for implicit-presence singular fields.
    pub(crate) default: Scalar,
}

impl Program {
    /// Compiles every message type reachable from `root` into a library of its
    /// own. `None` when the root itself would print through the reference
    /// path (no gain in one pass).
    pub(crate) fn compile(root: &MessageDescriptor) -> Option<Program> {
        let mut c = Compiler::default();
        let root = c.root(root);
        Program::of(&Arc::new(c.finish()), root)
    }

    /// The program of the library's type `root`; `None` when it prints
    /// through the reference path.
    pub(crate) fn of(lib: &Arc<Lib>, root: u32) -> Option<Program> {
        (lib.msgs.get(root as usize)?.shape != Shape::Reference).then(|| Program {
            lib: lib.clone(),
            root,
        })
    }
}

/// The message types a compiler has met, numbered in the order it met them:
/// the library index of each, and the queue of those still to compile. Both
/// directions' compilers walk the types this way, so every type reachable
/// from any root is compiled once per pool.
#[derive(Debug, Default)]
pub(crate) struct TypeQueue {
    index: HashMap<String, u32>,
    queue: Vec<MessageDescriptor>,
}

impl TypeQueue {
    /// The library index of `desc`, queueing it for compilation the first
    /// time it is met.
    pub(crate) fn intern(&mut self, desc: &MessageDescriptor) -> u32 {
        if let Some(&i) = self.index.get(desc.full_name()) {
            return i;
        }
        let i = self.queue.len() as u32;
        self.index.insert(desc.full_name().to_owned(), i);
        self.queue.push(desc.clone());
        i
    }

    /// The next type to compile when `compiled` types are done; `None` once
    /// every queued type is.
    pub(crate) fn pending(&self, compiled: usize) -> Option<MessageDescriptor> {
        self.queue.get(compiled).cloned()
    }
}

/// Compiles message types into one [`Lib`], each type once (by full name: use
/// one compiler per descriptor pool).
#[derive(Debug, Default)]
pub(crate) struct Compiler {
    types: TypeQueue,
    msgs: Vec<Msg>,
    keys: Vec<u8>,
    key_index: HashMap<Box<[u8]>, Key>,
}

impl Compiler {
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
    pub(crate) fn finish(self) -> Lib {
        let mut keys = self.keys;
        keys.shrink_to_fit();
        Lib {
            msgs: self.msgs,
            keys,
        }
    }

    /// The key `"name":`, escaped as the writer escapes it, stored once.
    fn key(&mut self, name: &str) -> Key {
        let opts = JsonOptions::default();
        let mut w = Writer::new(&opts, name.len() + 3);
        w.string(name);
        w.out.push(b':');
        if let Some(&k) = self.key_index.get(w.out.as_slice()) {
            return k;
        }
        let k = Key {
            start: self.keys.len() as u32,
            len: w.out.len() as u32,
        };
        self.keys.extend_from_slice(&w.out);
        self.key_index.insert(w.out.into_boxed_slice(), k);
        k
    }

    fn message(&mut self, desc: MessageDescriptor) -> Msg {
        // Field indices are u16 (one value reserved for "no field").
        let shape = if desc.fields().len() >= usize::from(NONE) {
            Shape::Reference
        } else {
            shape_of(&desc)
        };
        let mut fields = Vec::new();
        if shape != Shape::Reference {
            // protojson's order is declaration order, which is what the
            // reference writer follows too.
            for fp in &desc.descriptor_proto().field {
                if let Some(field) = desc.get_field(fp.number() as u32) {
                    fields.push(self.field(&field));
                }
            }
        }
        fields.shrink_to_fit();
        let has_oneofs = fields.iter().any(|f| f.oneof.is_some());
        let lookup = Lookup::new(fields.iter().map(|f| f.number));
        Msg {
            desc,
            shape,
            fields,
            lookup,
            has_oneofs,
        }
    }

    fn field(&mut self, field: &FieldDescriptor) -> Field {
        let card = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            let value_field = entry.map_entry_value_field();
            Card::Map(Box::new(MapTypes {
                key: self.ty(&entry.map_entry_key_field().kind()),
                value: self.ty(&value_field.kind()),
                value_default: Scalar::of(&Value::default_value_for_field(&value_field)),
            }))
        } else if field.is_list() {
            Card::List
        } else {
            Card::Single
        };
        let ty = match card {
            Card::Map(_) => Ty::Bool,
            _ => self.ty(&field.kind()),
        };
        let fp = field.field_descriptor_proto();
        let singular = matches!(card, Card::Single);
        Field {
            number: field.number(),
            json_key: self.key(field.json_name()),
            proto_key: self.key(field.name()),
            float_singular: singular && matches!(ty, Ty::Double | Ty::Float),
            default: if singular {
                Scalar::of(&field.default_value())
            } else {
                Scalar::None
            },
            card,
            ty,
            presence: field.supports_presence(),
            oneof: fp.oneof_index.map(|i| i as u32),
        }
    }

    fn ty(&mut self, kind: &Kind) -> Ty {
        match kind {
            Kind::Double => Ty::Double,
            Kind::Float => Ty::Float,
            Kind::Int32 => Ty::Int32,
            Kind::Int64 => Ty::Int64,
            Kind::Uint32 => Ty::Uint32,
            Kind::Uint64 => Ty::Uint64,
            Kind::Sint32 => Ty::Sint32,
            Kind::Sint64 => Ty::Sint64,
            Kind::Fixed32 => Ty::Fixed32,
            Kind::Fixed64 => Ty::Fixed64,
            Kind::Sfixed32 => Ty::Sfixed32,
            Kind::Sfixed64 => Ty::Sfixed64,
            Kind::Bool => Ty::Bool,
            Kind::String => Ty::String,
            Kind::Bytes => Ty::Bytes,
            Kind::Enum(e) => Ty::Enum {
                null_value: e.full_name() == "google.protobuf.NullValue",
                desc: e.clone(),
            },
            Kind::Message(m) => Ty::Message(self.types.intern(m)),
        }
    }
}

/// Which printer a message type gets. Anything unusual is
/// [`Shape::Reference`]: correctness first, the reference path is exact.
fn shape_of(desc: &MessageDescriptor) -> Shape {
    // Extensions are decoded (and so validated) by prost-reflect; groups use
    // wire types the one-pass scanner does not follow.
    if desc.extensions().len() > 0 || desc.fields().any(|f| f.is_group()) {
        return Shape::Reference;
    }
    let Some(name) = desc.full_name().strip_prefix("google.protobuf.") else {
        return Shape::Regular;
    };
    let scalar = |n: u32, kind: fn(&Kind) -> bool| {
        desc.get_field(n)
            .is_some_and(|f| !f.is_list() && !f.is_map() && kind(&f.kind()))
    };
    let secs_nanos =
        || scalar(1, |k| matches!(k, Kind::Int64)) && scalar(2, |k| matches!(k, Kind::Int32));
    match name {
        "Timestamp" if secs_nanos() => Shape::Timestamp,
        "Duration" if secs_nanos() => Shape::Duration,
        "DoubleValue" | "FloatValue" | "Int64Value" | "UInt64Value" | "Int32Value"
        | "UInt32Value" | "BoolValue" | "StringValue" | "BytesValue" => {
            match desc.get_field(1) {
                // No field 1: the reference writer prints it as a regular message.
                None => Shape::Regular,
                Some(_) if scalar(1, |k| !matches!(k, Kind::Message(_))) => Shape::Wrapper,
                Some(_) => Shape::Reference,
            }
        }
        "Timestamp" | "Duration" | "Any" | "Struct" | "ListValue" | "Value" | "FieldMask" => {
            Shape::Reference
        }
        _ => Shape::Regular,
    }
}
