//! A live OpenAPI 3.1 document generated from the route table that is serving,
//! and from the backends' descriptors: paths and parameters from the routes,
//! request and response schemas from the message types (as the proto3 JSON
//! mapping prints them), descriptions from the descriptors' comments when the
//! backend ships source info.
//!
//! It is built from a [`Snapshot`] on demand and cached by table version by the
//! admin listener, so it always describes exactly the table requests are matched
//! against, and changes on every swap. `?backend=NAME` narrows it to one backend.

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};
use switchboard_live::Snapshot;
use switchboard_routes::{Route, RouteSource};
use switchboard_transcode::{BodyPlan, is_json_well_known};

/// Builds the document for the whole table, or for one backend.
pub fn document(snapshot: &Snapshot, backend: Option<&str>) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let (info, schemas) = generate(snapshot, backend, |path, method, op| {
        paths.entry(path).or_default().insert(method, op);
    });
    json!({
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// [`document`] as `serde_json::to_vec_pretty` prints it, byte for byte,
/// without ever holding the whole document as a `Value` tree: each operation
/// is printed as soon as it is generated, each schema once all are known.
/// The tree is many times the text's size (a 100-backend fleet's 6.7 MB
/// document took the gateway's RSS up by over 100 MiB while it existed).
pub fn document_json(snapshot: &Snapshot, backend: Option<&str>) -> Vec<u8> {
    let mut paths: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    let (info, schemas) = generate(snapshot, backend, |path, method, op| {
        paths.entry(path).or_default().insert(method, pretty(&op));
    });
    let schemas: Vec<(String, Vec<u8>)> = schemas
        .into_iter()
        .map(|(name, schema)| {
            let text = pretty(&schema);
            (name, text)
        })
        .collect();
    assemble(&pretty(&info), &schemas, &paths)
}

/// Runs the generator over the routes (of `backend`, or all), handing each
/// operation to `each_op` with its OpenAPI path and lower-case method;
/// returns the `info` object and the component schemas.
fn generate(
    snapshot: &Snapshot,
    backend: Option<&str>,
    mut each_op: impl FnMut(String, String, Value),
) -> (Value, BTreeMap<String, Value>) {
    let mut generator = Generator::default();
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    for route in snapshot.table.routes() {
        if backend.is_some_and(|b| b != &*route.backend_name) {
            continue;
        }
        let runtime = &snapshot.backends[route.backend];
        generator.proto_names = runtime.json.use_proto_names;
        generator.enums_as_ints = runtime.json.enums_as_ints;
        generator.emit_unpopulated = runtime.json.emit_unpopulated;
        let (path, op) = generator.operation(route, &mut seen_ids);
        each_op(
            path,
            route.http_method.as_str().to_ascii_lowercase(),
            Value::Object(op),
        );
    }
    generator.schema_for_status();
    let title = match backend {
        Some(b) => format!("Switchboard: {b}"),
        None => "Switchboard".to_string(),
    };
    let info = json!({
        "title": title,
        "version": format!("table-{}", snapshot.version),
        "description": "Generated from the live route table and the backends' descriptors.",
    });
    (info, generator.schemas)
}

/// `serde_json::to_vec_pretty` of a value (plain JSON values cannot fail).
fn pretty(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

/// The document's text from its printed parts, laid out as
/// `serde_json::to_vec_pretty` lays out the whole `Value` (two-space indent,
/// object keys in `BTreeMap` order: components, info, openapi, paths). A part
/// printed alone is re-indented to its depth: pretty JSON has newlines only
/// between tokens (strings escape theirs), so each one gets the indent.
fn assemble(
    info: &[u8],
    schemas: &[(String, Vec<u8>)],
    paths: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) -> Vec<u8> {
    let size = info.len()
        + schemas
            .iter()
            .map(|(k, v)| k.len() + v.len() * 2)
            .sum::<usize>()
        + paths
            .values()
            .flat_map(BTreeMap::values)
            .map(|v| v.len() * 2 + 64)
            .sum::<usize>()
        + 256;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\n  \"components\": {\n    \"schemas\": ");
    object(
        &mut out,
        2,
        schemas.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    );
    out.extend_from_slice(b"\n  },\n  \"info\": ");
    indented(&mut out, 1, info);
    out.extend_from_slice(b",\n  \"openapi\": \"3.1.0\",\n  \"paths\": ");
    let mut first = true;
    out.push(b'{');
    for (path, ops) in paths {
        out.extend_from_slice(if first { b"\n" } else { b",\n" });
        first = false;
        out.extend_from_slice(b"    ");
        key(&mut out, path);
        object(
            &mut out,
            2,
            ops.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
        );
    }
    if !first {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"}\n}");
    out
}

/// An object at nesting `depth` (its keys at `depth + 1`) of printed values.
fn object<'a>(out: &mut Vec<u8>, depth: usize, entries: impl Iterator<Item = (&'a str, &'a [u8])>) {
    out.push(b'{');
    let mut first = true;
    for (k, v) in entries {
        out.extend_from_slice(if first { b"\n" } else { b",\n" });
        first = false;
        for _ in 0..=depth {
            out.extend_from_slice(b"  ");
        }
        key(out, k);
        indented(out, depth + 1, v);
    }
    if !first {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(b"  ");
        }
    }
    out.push(b'}');
}

/// `"key": `, the key escaped as JSON.
fn key(out: &mut Vec<u8>, k: &str) {
    // Writing a string into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, k);
    out.extend_from_slice(b": ");
}

/// A value printed at depth 0, written at `depth`.
fn indented(out: &mut Vec<u8>, depth: usize, value: &[u8]) {
    for &b in value {
        out.push(b);
        if b == b'\n' {
            for _ in 0..depth {
                out.extend_from_slice(b"  ");
            }
        }
    }
}

#[derive(Default)]
struct Generator {
    schemas: BTreeMap<String, Value>,
    /// Leading comments by (file name, descriptor path), loaded per file on demand.
    comments: HashMap<String, HashMap<Vec<i32>, String>>,
    proto_names: bool,
    enums_as_ints: bool,
    /// Unset message fields print as `null` (else they are left out).
    emit_unpopulated: bool,
}

impl Generator {
    fn operation(
        &mut self,
        route: &Route,
        seen_ids: &mut HashMap<String, usize>,
    ) -> (String, Map<String, Value>) {
        let plan = &route.plan;
        let method = &plan.method;
        let service = method.parent_service();
        let base_id = format!("{}_{}", service.name(), method.name());
        let n = seen_ids.entry(base_id.clone()).or_insert(0);
        let operation_id = if *n == 0 {
            base_id
        } else {
            format!("{base_id}_{n}")
        };
        *n += 1;

        let mut op = Map::new();
        op.insert("operationId".into(), json!(operation_id));
        op.insert("tags".into(), json!([service.full_name()]));
        let file = method.parent_file();
        if let Some(doc) = self.comment(file.name(), method.path(), file.file_descriptor_proto()) {
            op.insert("description".into(), json!(doc));
        }
        op.insert("x-grpc-method".into(), json!(&*route.grpc_path));
        op.insert("x-backend".into(), json!(&*route.backend_name));
        if route.source == RouteSource::Default {
            op.insert("x-default-route".into(), json!(true));
        }

        // Path parameters, then query parameters for what neither path nor body set.
        let mut params = Vec::new();
        let path_names: Vec<String> = plan
            .path_fields
            .iter()
            .map(|p| {
                p.0.iter()
                    .map(|f| f.name().to_string())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect();
        for (name, field_path) in path_names.iter().zip(&plan.path_fields) {
            if let Some(leaf) = field_path.0.last() {
                params.push(json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "schema": self.field_schema(leaf),
                }));
            }
        }
        let body_path = match &plan.body {
            BodyPlan::Field(leaf) => Some(
                plan.body_parents
                    .iter()
                    .chain(std::iter::once(leaf))
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            _ => None,
        };
        match &plan.body {
            // An HttpBody target takes the raw body, whatever its type.
            BodyPlan::Whole | BodyPlan::Field(_) if plan.raw_request => {
                op.insert(
                    "requestBody".into(),
                    raw_body("The raw request body; its Content-Type is passed on."),
                );
                if let Some(body_path) = &body_path {
                    self.query_params(
                        &plan.input,
                        "",
                        &path_names,
                        Some(body_path),
                        &mut params,
                        0,
                    );
                }
            }
            BodyPlan::Whole => {
                op.insert(
                    "requestBody".into(),
                    json!({"required": true, "content": {"application/json": {"schema": self.message_ref(&plan.input)}}}),
                );
            }
            BodyPlan::Field(field) => {
                op.insert(
                    "requestBody".into(),
                    json!({"required": true, "content": {"application/json": {"schema": self.field_schema(field)}}}),
                );
                self.query_params(
                    &plan.input,
                    "",
                    &path_names,
                    body_path.as_deref(),
                    &mut params,
                    0,
                );
            }
            BodyPlan::None => {
                self.query_params(&plan.input, "", &path_names, None, &mut params, 0);
            }
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }

        let ok_schema = match &plan.response_body {
            Some(field) => self.field_schema(field),
            None => self.message_ref(&plan.output),
        };
        let ok = if plan.raw_response {
            raw_body(if method.is_server_streaming() {
                "Each message's raw data, typed by the first message's content_type."
            } else {
                "The raw response body, typed by the message's content_type."
            })
        } else if method.is_server_streaming() {
            json!({
                "description": "A stream of newline-delimited JSON objects, one per message.",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "result": ok_schema,
                        "error": {"$ref": "#/components/schemas/google.rpc.Status"},
                    },
                }}},
            })
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": ok_schema}}})
        };
        op.insert(
            "responses".into(),
            json!({
                "200": ok,
                "default": {
                    "description": "A gRPC error as google.rpc.Status, with the HTTP status grpc-gateway uses for its code.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}},
                },
            }),
        );
        (openapi_path(&route.template), op)
    }

    /// Query parameters: every scalar leaf not bound by the path or the body,
    /// with dotted names for nested messages (bounded depth: recursive types).
    fn query_params(
        &mut self,
        message: &MessageDescriptor,
        prefix: &str,
        path_names: &[String],
        body: Option<&str>,
        out: &mut Vec<Value>,
        depth: usize,
    ) {
        for field in message.fields() {
            let name = format!("{prefix}{}", field.name());
            if body == Some(name.as_str()) || path_names.iter().any(|p| p == &name) {
                continue;
            }
            match field.kind() {
                // The fields of Any, ListValue, Empty are their internals,
                // which the query cannot set (`any.type_url` is a 400).
                Kind::Message(m) if !is_query_leaf(&m) && is_json_well_known(&m) => {}
                Kind::Message(m) if !is_query_leaf(&m) && !field.is_map() => {
                    if depth < 3 && !field.is_list() {
                        self.query_params(
                            &m,
                            &format!("{name}."),
                            path_names,
                            body,
                            out,
                            depth + 1,
                        );
                    }
                }
                _ if field.is_map() => {}
                _ => {
                    let mut schema = self.field_schema(&field);
                    if let Some(obj) = schema.as_object_mut() {
                        obj.remove("description");
                    }
                    out.push(json!({
                        "name": name,
                        "in": "query",
                        "required": false,
                        "schema": schema,
                        "explode": true,
                    }));
                }
            }
        }
    }

    fn message_ref(&mut self, message: &MessageDescriptor) -> Value {
        let name = self.define(message);
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// The component name of `message` as the current backend prints it: the
    /// full name under grpc-gateway's default print options, with a suffix
    /// per option that changes its JSON (a message shared by backends with
    /// different options gets one schema each). Well-known types print the
    /// same under every option.
    fn schema_name(&self, message: &MessageDescriptor) -> String {
        let mut name = message.full_name().to_string();
        if wkt_schema(message).is_some() {
            return name;
        }
        if self.proto_names {
            name.push_str("-proto_names");
        }
        if self.enums_as_ints {
            name.push_str("-enums_as_ints");
        }
        if !self.emit_unpopulated {
            name.push_str("-omit_unpopulated");
        }
        name
    }

    /// Adds the schema of `message` (and of everything it reaches) to
    /// components, under the name it returns.
    fn define(&mut self, message: &MessageDescriptor) -> String {
        let name = self.schema_name(message);
        if self.schemas.contains_key(&name) {
            return name;
        }
        if let Some(schema) = wkt_schema(message) {
            self.schemas.insert(name.clone(), schema);
            return name;
        }
        // Insert a placeholder first so recursive types terminate.
        self.schemas.insert(name.clone(), json!({}));
        let mut properties = Map::new();
        for field in message.fields() {
            let key = if self.proto_names {
                field.name().to_string()
            } else {
                field.json_name().to_string()
            };
            properties.insert(key, self.field_schema(&field));
        }
        let mut schema = json!({"type": "object", "properties": properties});
        let file = message.parent_file();
        if let Some(doc) = self.comment(file.name(), message.path(), file.file_descriptor_proto()) {
            schema["description"] = json!(doc);
        }
        self.schemas.insert(name.clone(), schema);
        name
    }

    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        let mut schema = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return json!({});
            };
            let value = entry.map_entry_value_field();
            json!({"type": "object", "additionalProperties": self.kind_schema(&value.kind())})
        } else if field.is_list() {
            json!({"type": "array", "items": self.kind_schema(&field.kind())})
        } else {
            match field.kind() {
                // An unset message field prints as `null` when unpopulated
                // fields are emitted (wrappers and Value already allow it).
                Kind::Message(m) if self.emit_unpopulated && wkt_schema(&m).is_none() => {
                    json!({"anyOf": [self.message_ref(&m), {"type": "null"}]})
                }
                kind => self.kind_schema(&kind),
            }
        };
        let file = field.parent_file();
        if let Some(doc) = self.comment(file.name(), field.path(), file.file_descriptor_proto())
            && let Some(obj) = schema.as_object_mut()
        {
            obj.insert("description".into(), json!(doc));
        }
        schema
    }

    fn kind_schema(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "uint32"}),
            // The proto3 JSON mapping prints 64-bit integers as strings.
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Enum(e) => {
                if self.enums_as_ints {
                    json!({"type": "integer", "enum": e.values().map(|v| v.number()).collect::<Vec<_>>()})
                } else {
                    json!({"type": "string", "enum": e.values().map(|v| v.name().to_string()).collect::<Vec<_>>()})
                }
            }
            Kind::Message(m) => self.message_ref(m),
        }
    }

    fn schema_for_status(&mut self) {
        self.schemas.insert(
            "google.rpc.Status".into(),
            json!({
                "type": "object",
                "description": "The error body: a gRPC status code, message and typed details.",
                "properties": {
                    "code": {"type": "integer", "format": "int32"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"@type": {"type": "string"}},
                        "additionalProperties": true,
                    }},
                },
            }),
        );
    }

    /// The leading (or trailing) comment of the descriptor at `path`, if the file
    /// carries source info.
    fn comment(
        &mut self,
        file: &str,
        path: &[i32],
        proto: &prost_types::FileDescriptorProto,
    ) -> Option<String> {
        let map = self.comments.entry(file.to_string()).or_insert_with(|| {
            let mut map = HashMap::new();
            if let Some(info) = &proto.source_code_info {
                for loc in &info.location {
                    let text = loc
                        .leading_comments
                        .as_deref()
                        .or(loc.trailing_comments.as_deref())
                        .map(str::trim)
                        .filter(|t| !t.is_empty());
                    if let Some(text) = text {
                        map.insert(loc.path.clone(), text.to_string());
                    }
                }
            }
            map
        });
        map.get(path).cloned()
    }
}

/// Well-known types print as JSON scalars or free-form values.
fn wkt_schema(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Comma-separated field paths."})
        }
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Any" => {
            json!({"type": "object", "properties": {"@type": {"type": "string"}}, "additionalProperties": true})
        }
        "google.protobuf.StringValue" => json!({"type": ["string", "null"]}),
        "google.protobuf.BytesValue" => json!({"type": ["string", "null"], "format": "byte"}),
        "google.protobuf.BoolValue" => json!({"type": ["boolean", "null"]}),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({"type": ["number", "null"]})
        }
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({"type": ["integer", "null"]})
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": ["string", "null"], "format": "int64"})
        }
        _ => return None,
    })
}

/// An HttpBody side: raw bytes of any content type.
fn raw_body(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    })
}

/// Whether a message type is set from one query value: the types printed as a
/// JSON scalar, and Struct and Value (given as JSON, as grpc-gateway parses them).
fn is_query_leaf(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Struct" | "google.protobuf.Value"
    ) || is_wkt_scalar(message)
}

/// Whether a message type is printed as a JSON scalar (so a query parameter can set it).
fn is_wkt_scalar(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.BoolValue"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
    )
}

/// `/v1/{name=shelves/*/books/*}:archive` -> `/v1/{name}:archive`: OpenAPI path
/// parameters cannot carry a pattern, so the pattern is dropped (the parameter's
/// value may contain `/`).
fn openapi_path(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_pattern = false;
    for c in template.chars() {
        match c {
            '=' if out.ends_with(|c: char| c != '/') && out.contains('{') && !in_pattern => {
                // Only inside braces: `{name=` starts a pattern.
                if out.rfind('{') > out.rfind('}') {
                    in_pattern = true;
                } else {
                    out.push(c);
                }
            }
            '}' => {
                in_pattern = false;
                out.push(c);
            }
            _ if in_pattern => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The assembled text is what printing the whole tree gives, byte for
    /// byte: empty and nested objects and arrays, escapes, several paths.
    #[test]
    fn the_assembled_document_is_the_pretty_printed_tree() {
        let info = json!({"title": "T \"q\"\n", "version": "table-3", "description": "d"});
        let op = |n: i64| {
            json!({"operationId": format!("op{n}"), "tags": ["a.B"], "parameters": [
                {"name": "x", "in": "path", "schema": {"type": "string", "enum": []}},
                {"name": "y", "in": "query", "schema": {}}
            ], "responses": {"200": {"description": "OK\ttab", "content": {}}}})
        };
        let schemas: BTreeMap<String, Value> = [
            (
                "a.B".to_string(),
                json!({"type": "object", "properties": {"n": {"type": "integer"}}}),
            ),
            ("a.Empty".to_string(), json!({})),
            (
                "a.\u{e9}".to_string(),
                json!({"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}),
            ),
        ]
        .into_iter()
        .collect();
        let mut paths_tree: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let mut paths_text: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        for (path, method, n) in [
            ("/v1/{name}", "get", 1),
            ("/a", "post", 2),
            ("/v1/{name}", "delete", 3),
        ] {
            paths_tree
                .entry(path.into())
                .or_default()
                .insert(method.into(), op(n));
            paths_text
                .entry(path.into())
                .or_default()
                .insert(method.into(), pretty(&op(n)));
        }
        for (schemas, with_paths) in [(schemas.clone(), true), (BTreeMap::new(), false)] {
            let (tree_paths, text_paths) = if with_paths {
                (paths_tree.clone(), paths_text.clone())
            } else {
                (BTreeMap::new(), BTreeMap::new())
            };
            let tree = json!({
                "openapi": "3.1.0",
                "info": info,
                "paths": tree_paths,
                "components": { "schemas": schemas },
            });
            let printed: Vec<(String, Vec<u8>)> = schemas
                .iter()
                .map(|(k, v)| (k.clone(), pretty(v)))
                .collect();
            let text = assemble(&pretty(&info), &printed, &text_paths);
            assert_eq!(
                String::from_utf8(text).unwrap(),
                String::from_utf8(pretty(&tree)).unwrap()
            );
        }
    }

    #[test]
    fn openapi_paths_drop_patterns() {
        assert_eq!(openapi_path("/v1/{name=shelves/*/books/*}"), "/v1/{name}");
        assert_eq!(
            openapi_path("/v1/{name=shelves/*/books/*}:archive"),
            "/v1/{name}:archive"
        );
        assert_eq!(
            openapi_path("/v1/{book.name=shelves/*}/x/{id}"),
            "/v1/{book.name}/x/{id}"
        );
        assert_eq!(openapi_path("/pkg.Svc/Method"), "/pkg.Svc/Method");
        assert_eq!(openapi_path("/v1/a=b/{x}"), "/v1/a=b/{x}");
    }
}
