//! `switchboard-loadgen fleet`: descriptor sets shaped like real services', for
//! the gateway's memory figures (issue 17's "lean descriptors").
//!
//! Each backend gets one `FileDescriptorSet` as `protoc --include_imports`
//! writes it (protox compiles the same way): its own resource-style service
//! file plus every import, which are google/api/annotations.proto, http.proto
//! and httpbody.proto, google/protobuf/descriptor.proto (the bulk: about 40 KB
//! encoded, once per backend) and timestamp.proto, field_mask.proto and
//! empty.proto. Every method carries a `google.api.http` rule (standard
//! List/Get/Create/Update/Delete shapes and custom verbs). `--generation N`
//! changes every backend's schema (one field per message), so a reload after
//! rewriting the fleet rebuilds all of them, which is what the reload-peak
//! figure needs.

use std::path::PathBuf;

use anyhow::Result;

use crate::Flags;

const GOOGLE_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/discovery/proto");

/// Writes `bN.pb` for N in 0..backends, `methods` methods each.
pub(crate) fn fleet(flags: &Flags) -> Result<()> {
    let backends: usize = flags.num("backends", 100)?;
    let methods: usize = flags.num("methods", 20)?;
    let generation: usize = flags.num("generation", 1)?;
    let out = PathBuf::from(flags.str("out")?);
    let src_dir = out.join("src");
    std::fs::create_dir_all(src_dir.join("fleet"))?;
    for b in 0..backends {
        let file = format!("fleet/b{b}.proto");
        std::fs::write(src_dir.join(&file), proto_source(b, methods, generation))?;
        let mut resolver = protox::file::ChainFileResolver::new();
        resolver.add(protox::file::IncludeFileResolver::new(src_dir.clone()));
        resolver.add(protox::file::IncludeFileResolver::new(GOOGLE_API.into()));
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler
            .open_file(&file)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let set = compiler.encode_file_descriptor_set();
        // Write beside and rename: a gateway reading the set never sees half.
        let tmp = out.join(format!(".b{b}.pb.tmp"));
        std::fs::write(&tmp, set)?;
        std::fs::rename(&tmp, out.join(format!("b{b}.pb")))?;
    }
    println!(
        "backends={backends} methods={} generation={generation}",
        backends * methods
    );
    Ok(())
}

/// One backend's service: `methods` methods over resources of its own.
fn proto_source(b: usize, methods: usize, generation: usize) -> String {
    let mut s = format!(
        "syntax = \"proto3\";\n\
         package fleet.b{b}.v1;\n\
         import \"google/api/annotations.proto\";\n\
         import \"google/api/httpbody.proto\";\n\
         import \"google/protobuf/empty.proto\";\n\
         import \"google/protobuf/field_mask.proto\";\n\
         import \"google/protobuf/timestamp.proto\";\n\
         enum State {{ STATE_UNSPECIFIED = 0; ACTIVE = 1; SUSPENDED = 2; DELETED = 3; }}\n\
         message Meta {{ google.protobuf.Timestamp create_time = 1; \
         google.protobuf.Timestamp update_time = 2; map<string, string> labels = 3; \
         string etag = 4; int64 gen{generation} = 5; }}\n\
         service Service{b} {{\n"
    );
    let resources = methods.div_ceil(5);
    let mut defs = String::new();
    for m in 0..methods {
        let r = m / 5;
        let res = format!("Resource{r}");
        let coll = format!("resources{r}");
        let (name, input, output, rule) = match m % 5 {
            0 => (
                format!("List{res}s"),
                format!("List{res}sRequest"),
                format!("List{res}sResponse"),
                format!("get: \"/v1/b{b}/{{parent=projects/*}}/{coll}\""),
            ),
            1 => (
                format!("Get{res}"),
                format!("Get{res}Request"),
                res.clone(),
                format!("get: \"/v1/b{b}/{{name=projects/*/{coll}/*}}\""),
            ),
            2 => (
                format!("Create{res}"),
                format!("Create{res}Request"),
                res.clone(),
                format!("post: \"/v1/b{b}/{{parent=projects/*}}/{coll}\" body: \"resource\""),
            ),
            3 => (
                format!("Update{res}"),
                format!("Update{res}Request"),
                res.clone(),
                format!(
                    "patch: \"/v1/b{b}/{{resource.name=projects/*/{coll}/*}}\" body: \"resource\""
                ),
            ),
            _ => (
                format!("Export{res}"),
                format!("Export{res}Request"),
                "google.api.HttpBody".to_owned(),
                format!(
                    "get: \"/v1/b{b}/{{name=projects/*/{coll}/*}}:export\" \
                     additional_bindings {{ post: \"/v1/b{b}/{{name=projects/*/{coll}/*}}:export\" body: \"*\" }}"
                ),
            ),
        };
        s.push_str(&format!(
            "  rpc {name} ({input}) returns ({output}) {{ option (google.api.http) = {{ {rule} }}; }}\n"
        ));
        let fields = match m % 5 {
            0 => format!(
                "string parent = 1; int32 page_size = 2; string page_token = 3; string filter = 4; \
                 string order_by = 5; int64 gen{generation} = 6;"
            ),
            1 | 4 => format!("string name = 1; int64 gen{generation} = 2;"),
            2 => format!(
                "string parent = 1; string resource_id = 2; {res} resource = 3; \
                 string request_id = 4; int64 gen{generation} = 5;"
            ),
            _ => format!(
                "{res} resource = 1; google.protobuf.FieldMask update_mask = 2; \
                 bool allow_missing = 3; int64 gen{generation} = 4;"
            ),
        };
        defs.push_str(&format!("message {input} {{ {fields} }}\n"));
        if m % 5 == 0 {
            defs.push_str(&format!(
                "message List{res}sResponse {{ repeated {res} {coll} = 1; string next_page_token = 2; \
                 int32 total_size = 3; int64 gen{generation} = 4; }}\n"
            ));
        }
    }
    s.push_str("}\n");
    for r in 0..resources {
        s.push_str(&format!(
            "message Resource{r} {{ string name = 1; string display_name = 2; State state = 3; \
             Meta meta = 4; repeated string tags = 5; double score = 6; bytes payload = 7; \
             oneof source {{ string uri = 8; string inline_text = 9; }} int64 gen{generation} = 10; }}\n"
        ));
    }
    s.push_str(&defs);
    s
}
