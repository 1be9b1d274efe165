//! Random descriptors and wire messages for differential testing of the
//! one-pass printer against the reference path, driven by a byte string (a
//! fuzzer's input, or a seeded generator's output in `cargo test`).
//!
//! The descriptors cover what the printer must get right: proto2 and proto3,
//! every scalar type, open and closed enums, nested and recursive messages,
//! maps of every key type, real and synthetic oneofs, packed and unpacked
//! repeated fields, field numbers out of declaration order and sparse, and the
//! well-known types (Timestamp, Duration, wrappers, Struct, Value, ListValue,
//! Any, FieldMask, Empty). The messages are mostly valid, with duplicates,
//! unknown fields, wrong wire types, overlong varints, invalid UTF-8,
//! out-of-range well-known values and truncated bytes mixed in.

// Public through `crate::fuzzing` with the `fuzzing` feature; crate-private
// in test builds without it.
#![allow(unreachable_pub)]

use prost::encoding::{WireType, encode_key, encode_varint};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FieldOptions, FileDescriptorProto, MessageOptions, OneofDescriptorProto,
};

/// Reads choices from a byte string; zeros once it is exhausted.
pub struct Source<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Source<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Source { data, pos: 0 }
    }

    /// What is left unread.
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        let v = u32::from(self.byte()) | u32::from(self.byte()) << 8;
        v % n
    }

    fn chance(&mut self, one_in: u32) -> bool {
        self.below(one_in) == 0
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| acc << 8 | u64::from(self.byte()))
    }
}

const WKTS: &[&str] = &[
    ".google.protobuf.Timestamp",
    ".google.protobuf.Duration",
    ".google.protobuf.Int32Value",
    ".google.protobuf.Int64Value",
    ".google.protobuf.UInt64Value",
    ".google.protobuf.DoubleValue",
    ".google.protobuf.FloatValue",
    ".google.protobuf.BoolValue",
    ".google.protobuf.StringValue",
    ".google.protobuf.BytesValue",
    ".google.protobuf.Struct",
    ".google.protobuf.Value",
    ".google.protobuf.ListValue",
    ".google.protobuf.Any",
    ".google.protobuf.FieldMask",
    ".google.protobuf.Empty",
];

const SCALARS: &[Type] = &[
    Type::Double,
    Type::Float,
    Type::Int64,
    Type::Uint64,
    Type::Int32,
    Type::Fixed64,
    Type::Fixed32,
    Type::Bool,
    Type::String,
    Type::Bytes,
    Type::Uint32,
    Type::Sfixed32,
    Type::Sfixed64,
    Type::Sint32,
    Type::Sint64,
];

const NAMES: &[&str] = &["a", "foo_bar", "x_1", "camelCase", "b__c", "d_e_f", "q"];

/// A random file `fz.proto` (package `fz`) over the well-known types, in a
/// pool; `None` if prost-reflect rejects what was generated. The root
/// message is `fz.M0`.
pub fn descriptors(src: &mut Source<'_>) -> Option<(DescriptorPool, MessageDescriptor)> {
    let proto3 = src.chance(2);
    let n_msgs = 1 + src.below(4) as usize;
    let n_enums = 1 + src.below(2) as usize;
    let mut file = FileDescriptorProto {
        name: Some("fz.proto".into()),
        package: Some("fz".into()),
        dependency: vec![
            "google/protobuf/timestamp.proto".into(),
            "google/protobuf/duration.proto".into(),
            "google/protobuf/wrappers.proto".into(),
            "google/protobuf/struct.proto".into(),
            "google/protobuf/any.proto".into(),
            "google/protobuf/field_mask.proto".into(),
            "google/protobuf/empty.proto".into(),
        ],
        syntax: Some(if proto3 { "proto3" } else { "proto2" }.into()),
        ..Default::default()
    };
    for e in 0..n_enums {
        let mut numbers: Vec<i32> = vec![0, 1, 2, -1, 7, 1000];
        let n = 1 + src.below(4) as usize;
        let mut values = Vec::new();
        for v in 0..n {
            // proto3 enums start at zero; proto2 ones may not.
            let number = if v == 0 && proto3 {
                numbers.remove(0)
            } else {
                numbers.remove(src.below(numbers.len() as u32) as usize)
            };
            values.push(EnumValueDescriptorProto {
                name: Some(format!("E{e}_V{v}")),
                number: Some(number),
                ..Default::default()
            });
        }
        file.enum_type.push(EnumDescriptorProto {
            name: Some(format!("E{e}")),
            value: values,
            ..Default::default()
        });
    }
    for m in 0..n_msgs {
        file.message_type
            .push(message_type(src, m, n_msgs, n_enums, proto3));
    }
    let mut pool = DescriptorPool::global();
    pool.add_file_descriptor_proto(file).ok()?;
    let root = pool.get_message_by_name("fz.M0")?;
    Some((pool, root))
}

fn message_type(
    src: &mut Source<'_>,
    m: usize,
    n_msgs: usize,
    n_enums: usize,
    proto3: bool,
) -> DescriptorProto {
    let mut msg = DescriptorProto {
        name: Some(format!("M{m}")),
        ..Default::default()
    };
    let has_oneof = src.chance(3);
    if has_oneof {
        msg.oneof_decl.push(OneofDescriptorProto {
            name: Some("choice".into()),
            ..Default::default()
        });
    }
    let mut numbers: Vec<i32> = (1..=12).chain([100, 1000, 536_870_911]).collect();
    let n_fields = src.below(9) as usize;
    let mut fields = Vec::new();
    let mut synthetic = Vec::new();
    for f in 0..n_fields {
        let number = numbers.remove(src.below(numbers.len() as u32) as usize);
        let name = format!("{}{f}", NAMES[src.below(NAMES.len() as u32) as usize]);
        let mut field = FieldDescriptorProto {
            name: Some(name.clone()),
            number: Some(number),
            label: Some(Label::Optional as i32),
            ..Default::default()
        };
        let pick = src.below(24);
        if pick < 15 {
            field.r#type = Some(SCALARS[pick as usize] as i32);
        } else if pick < 17 {
            field.r#type = Some(Type::Enum as i32);
            field.type_name = Some(format!(".fz.E{}", src.below(n_enums as u32)));
        } else if pick < 20 {
            field.r#type = Some(Type::Message as i32);
            field.type_name = Some(format!(".fz.M{}", src.below(n_msgs as u32)));
        } else {
            field.r#type = Some(Type::Message as i32);
            field.type_name = Some(WKTS[src.below(WKTS.len() as u32) as usize].into());
        }
        match src.below(8) {
            0 | 1 => field.label = Some(Label::Repeated as i32),
            2 => {
                // A map field and its entry type.
                let entry = format!("Entry{f}");
                let key_types = [
                    Type::Int32,
                    Type::Int64,
                    Type::Uint32,
                    Type::Uint64,
                    Type::Sint32,
                    Type::Sint64,
                    Type::Fixed32,
                    Type::Fixed64,
                    Type::Sfixed32,
                    Type::Sfixed64,
                    Type::Bool,
                    Type::String,
                ];
                let key = key_types[src.below(key_types.len() as u32) as usize];
                let mut value = field.clone();
                value.name = Some("value".into());
                value.number = Some(2);
                value.json_name = None;
                msg.nested_type.push(DescriptorProto {
                    name: Some(entry.clone()),
                    field: vec![
                        FieldDescriptorProto {
                            name: Some("key".into()),
                            number: Some(1),
                            label: Some(Label::Optional as i32),
                            r#type: Some(key as i32),
                            ..Default::default()
                        },
                        value,
                    ],
                    options: Some(MessageOptions {
                        map_entry: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                field.label = Some(Label::Repeated as i32);
                field.r#type = Some(Type::Message as i32);
                field.type_name = Some(format!(".fz.M{m}.{entry}"));
            }
            3 if has_oneof => field.oneof_index = Some(0),
            4 if proto3 && field.r#type != Some(Type::Message as i32) => {
                field.proto3_optional = Some(true);
                synthetic.push(fields.len());
            }
            5 if !proto3 => field.label = Some(Label::Required as i32),
            _ => {}
        }
        let repeated = field.label == Some(Label::Repeated as i32);
        let scalar = !matches!(
            field.r#type.and_then(|t| Type::try_from(t).ok()),
            Some(Type::String | Type::Bytes | Type::Message)
        );
        if repeated && scalar && src.chance(3) {
            field.options = Some(FieldOptions {
                packed: Some(!proto3),
                ..Default::default()
            });
        }
        fields.push(field);
    }
    // Synthetic oneofs come after the real one.
    for i in synthetic {
        let name = format!("_{}", fields[i].name());
        fields[i].oneof_index = Some(msg.oneof_decl.len() as i32);
        msg.oneof_decl.push(OneofDescriptorProto {
            name: Some(name),
            ..Default::default()
        });
    }
    if has_oneof && !fields.iter().any(|f| f.oneof_index == Some(0)) {
        msg.oneof_decl.remove(0);
        for f in &mut fields {
            if let Some(i) = &mut f.oneof_index {
                *i -= 1;
            }
        }
    }
    // Declaration order is number order only sometimes.
    if src.chance(2) {
        fields.sort_by_key(|f| f.number());
    }
    msg.field = fields;
    msg
}

/// A random encoding of a message of type `desc`.
pub fn message(src: &mut Source<'_>, desc: &MessageDescriptor, depth: u32) -> Vec<u8> {
    let mut out = Vec::new();
    if desc.full_name() == "google.protobuf.Any" && !src.chance(4) {
        let pool = desc.parent_pool();
        let targets = [
            "fz.M0",
            "fz.M1",
            "google.protobuf.Timestamp",
            "google.protobuf.Struct",
            "google.protobuf.Int32Value",
            "google.protobuf.Any",
        ];
        let name = targets[src.below(targets.len() as u32) as usize];
        if let Some(target) = pool.get_message_by_name(name) {
            let url = if src.chance(8) {
                "type.googleapis.com/no.such.Type".to_owned()
            } else {
                format!("type.googleapis.com/{name}")
            };
            let inner = if depth < 4 {
                message(src, &target, depth + 1)
            } else {
                Vec::new()
            };
            encode_key(1, WireType::LengthDelimited, &mut out);
            encode_varint(url.len() as u64, &mut out);
            out.extend_from_slice(url.as_bytes());
            encode_key(2, WireType::LengthDelimited, &mut out);
            encode_varint(inner.len() as u64, &mut out);
            out.extend_from_slice(&inner);
            return out;
        }
    }
    let fields: Vec<_> = desc.fields().collect();
    let n = src.below(if depth > 3 { 3 } else { 9 });
    for _ in 0..n {
        match src.below(40) {
            0 => {
                // An unknown field.
                let wire = [0u8, 1, 2, 5][src.below(4) as usize];
                encode_varint(
                    u64::from(50 + src.below(10)) << 3 | u64::from(wire),
                    &mut out,
                );
                match wire {
                    0 => encode_varint(src.u64(), &mut out),
                    1 => out.extend_from_slice(&src.u64().to_le_bytes()),
                    5 => out.extend_from_slice(&(src.u64() as u32).to_le_bytes()),
                    _ => {
                        encode_varint(2, &mut out);
                        out.extend_from_slice(&[src.byte(), src.byte()]);
                    }
                }
            }
            1 => out.push(src.byte()),
            _ if fields.is_empty() => {}
            _ => {
                let field = &fields[src.below(fields.len() as u32) as usize];
                let number = field.number();
                let wrong = src.chance(60);
                if field.is_map() {
                    let Kind::Message(entry) = field.kind() else {
                        continue;
                    };
                    let mut body = Vec::new();
                    for f in entry.fields() {
                        if !src.chance(5) {
                            element(src, &f.kind(), f.number(), &mut body, depth);
                        }
                    }
                    if src.chance(10) {
                        element(
                            src,
                            &entry.map_entry_key_field().kind(),
                            1,
                            &mut body,
                            depth,
                        );
                    }
                    encode_key(number, WireType::LengthDelimited, &mut out);
                    encode_varint(body.len() as u64, &mut out);
                    out.extend_from_slice(&body);
                } else if field.is_list()
                    && !matches!(field.kind(), Kind::String | Kind::Bytes | Kind::Message(_))
                    && src.chance(2)
                {
                    // A packed run (valid whatever the field's `packed` says).
                    let mut run = Vec::new();
                    for _ in 0..src.below(4) {
                        let mut one = Vec::new();
                        element(src, &field.kind(), 1, &mut one, depth);
                        // Drop the key.
                        run.extend_from_slice(&one[1..]);
                    }
                    encode_key(number, WireType::LengthDelimited, &mut out);
                    encode_varint(run.len() as u64, &mut out);
                    out.extend_from_slice(&run);
                } else if wrong {
                    encode_key(number, WireType::ThirtyTwoBit, &mut out);
                    out.extend_from_slice(&[1, 2, 3, 4]);
                } else {
                    element(src, &field.kind(), number, &mut out, depth);
                }
            }
        }
    }
    if src.chance(50) && !out.is_empty() {
        out.pop(); // truncated
    }
    out
}

/// One field occurrence (key and value) of kind `kind`.
fn element(src: &mut Source<'_>, kind: &Kind, number: u32, out: &mut Vec<u8>, depth: u32) {
    let varint = |src: &mut Source<'_>| -> u64 {
        match src.below(8) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => i32::MIN as i64 as u64,
            4 => u64::from(u32::MAX),
            5 => 1 << 63,
            6 => u64::from(src.byte()),
            _ => src.u64(),
        }
    };
    match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => {
            encode_key(number, WireType::SixtyFourBit, out);
            let bits = match src.below(8) {
                0 => 0,
                1 => (-0.0f64).to_bits(),
                2 => f64::NAN.to_bits(),
                3 => f64::INFINITY.to_bits(),
                4 => 1e21f64.to_bits(),
                5 => 1.5e-7f64.to_bits(),
                6 => 0.1f64.to_bits(),
                _ => src.u64(),
            };
            out.extend_from_slice(&bits.to_le_bytes());
        }
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => {
            encode_key(number, WireType::ThirtyTwoBit, out);
            let bits = match src.below(7) {
                0 => 0,
                1 => (-0.0f32).to_bits(),
                2 => f32::NAN.to_bits(),
                3 => f32::NEG_INFINITY.to_bits(),
                4 => 1e21f32.to_bits(),
                5 => 0.1f32.to_bits(),
                _ => src.u64() as u32,
            };
            out.extend_from_slice(&bits.to_le_bytes());
        }
        Kind::String | Kind::Bytes => {
            encode_key(number, WireType::LengthDelimited, out);
            let s: Vec<u8> = match src.below(6) {
                0 => Vec::new(),
                1 => b"hello".to_vec(),
                2 => "h\u{e9}<>&\u{2028}\"\\\n\x01".as_bytes().to_vec(),
                3 => vec![0xff, 0xfe],
                4 => b"a.b_c,d".to_vec(),
                _ => (0..src.below(6)).map(|_| src.byte()).collect(),
            };
            encode_varint(s.len() as u64, out);
            out.extend_from_slice(&s);
        }
        Kind::Message(m) => {
            encode_key(number, WireType::LengthDelimited, out);
            let body = if depth < 6 {
                message(src, m, depth + 1)
            } else {
                Vec::new()
            };
            encode_varint(body.len() as u64, out);
            out.extend_from_slice(&body);
        }
        Kind::Enum(e) => {
            encode_key(number, WireType::Varint, out);
            let values: Vec<i32> = e.values().map(|v| v.number()).collect();
            let n = if src.chance(4) || values.is_empty() {
                99
            } else {
                values[src.below(values.len() as u32) as usize]
            };
            encode_varint(n as i64 as u64, out);
        }
        _ => {
            encode_key(number, WireType::Varint, out);
            if src.chance(30) {
                // Overlong: ten bytes for a small value.
                out.extend_from_slice(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0]);
            } else {
                encode_varint(varint(src), out);
            }
        }
    }
}

/// A JSON rendering of a random message of type `desc`, as a client might
/// send it: prost-reflect's JSON (proto or JSON names, 64-bit integers as
/// strings or numbers, enums as names or numbers), then values swapped for
/// odd ones (nulls, numbers as strings, floats for integers, unknown enum
/// names, wrong types), unknown keys added and a key duplicated. `None` when
/// the random wire bytes do not decode.
pub fn json(src: &mut Source<'_>, desc: &MessageDescriptor) -> Option<Vec<u8>> {
    use prost_reflect::{DynamicMessage, SerializeOptions};
    let wire = message(src, desc, 0);
    let msg = DynamicMessage::decode(desc.clone(), wire.as_slice()).ok()?;
    let opts = SerializeOptions::new()
        .use_proto_field_name(src.chance(2))
        .stringify_64_bit_integers(src.chance(2))
        .use_enum_numbers(src.chance(3))
        .skip_default_fields(src.chance(2));
    let mut ser = serde_json::Serializer::new(Vec::new());
    msg.serialize_with_options(&mut ser, &opts).ok()?;
    let mut value: serde_json::Value = serde_json::from_slice(&ser.into_inner()).ok()?;
    mutate(src, &mut value, 0);
    let mut text = serde_json::to_vec(&value).ok()?;
    if let serde_json::Value::Object(m) = &value
        && let Some((k, v)) = m.iter().next()
        && src.chance(4)
    {
        // A duplicate key, first (the later one wins, or a oneof clashes).
        let dup = format!("{{{}:{},", serde_json::to_string(k).ok()?, weird(src, v));
        text.splice(0..1, dup.into_bytes());
    }
    Some(text)
}

fn mutate(src: &mut Source<'_>, v: &mut serde_json::Value, depth: u32) {
    match v {
        serde_json::Value::Object(m) => {
            for child in m.values_mut() {
                if src.chance(8) {
                    let w = weird(src, child);
                    *child = serde_json::from_str(&w).unwrap_or(serde_json::Value::Null);
                } else if depth < 8 {
                    mutate(src, child, depth + 1);
                }
            }
            if src.chance(10) {
                m.insert("noSuchField".into(), serde_json::json!({"x": [1, null]}));
            }
        }
        serde_json::Value::Array(items) => {
            for item in items.iter_mut() {
                if src.chance(10) {
                    let w = weird(src, item);
                    *item = serde_json::from_str(&w).unwrap_or(serde_json::Value::Null);
                } else if depth < 8 {
                    mutate(src, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// An odd replacement for a JSON value, as JSON text.
fn weird(src: &mut Source<'_>, v: &serde_json::Value) -> String {
    let same = serde_json::to_string(v).unwrap_or_default();
    match src.below(16) {
        0 => "null".into(),
        1 => format!("\"{}\"", same.trim_matches('"')),
        2 => "1.0".into(),
        3 => "1e2".into(),
        4 => "-1".into(),
        5 => "\"NaN\"".into(),
        6 => "\"-Infinity\"".into(),
        7 => "[]".into(),
        8 => "{}".into(),
        9 => "true".into(),
        10 => "4294967296".into(),
        11 => "\"E0_V1\"".into(),
        12 => "\"no_such_value\"".into(),
        13 => "1.5".into(),
        14 => "\"aGk=\"".into(),
        _ => same,
    }
}
