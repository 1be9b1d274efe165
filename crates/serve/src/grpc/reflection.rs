//! One gRPC server reflection service (`grpc.reflection.v1` and `v1alpha`) on
//! the public port, for the union of what the gateway exposes: grpcurl,
//! Postman or grpcui pointed at the gateway see every backend's API, and only
//! what is exposed.
//!
//! It is built from the live snapshot (the services the table owns, with the
//! descriptors of the backend that owns each) the first time a snapshot is
//! asked, and replaced with it: a reload that changes an API changes what
//! reflection answers. Services a backend's `services:` filter excludes are
//! not listed and are cut out of the files that define them, so no symbol
//! lookup finds them either. When two backends define the same file name with
//! different contents, the first-listed backend's file is served (the
//! reloader reports the conflict in `/status` and logs it once). The reflection protocol itself is tonic-reflection's
//! server, fed the encoded files (so custom options such as `google.api.http`
//! survive).
//!
//! Requests reach it through the gateway's entry like any native gRPC or
//! gRPC-Web call (the pass-through hands reflection paths here), so the edge's
//! policies and metrics apply to it as to them.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};

use bytes::Buf;
use http::{Request, Response};
use switchboard_live::Snapshot;
use tonic::Status;
use tower::ServiceExt;

use crate::body::Body;

pub(crate) const V1: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
pub(crate) const V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

/// Whether `path` is the reflection method of either protocol version.
pub(crate) fn is_reflection(path: &str) -> bool {
    path == V1 || path == V1ALPHA
}

type Service = tower::util::BoxCloneSyncService<
    Request<tonic::body::Body>,
    Response<tonic::body::Body>,
    Infallible,
>;

/// Both protocol versions over one snapshot's exposed files.
struct Services {
    v1: Service,
    v1alpha: Service,
}

/// The services built per live snapshot; an entry goes once its snapshot does.
static BUILT: Mutex<Vec<(Weak<Snapshot>, Arc<Services>)>> = Mutex::new(Vec::new());

/// Answers one reflection call: `v1` for [`V1`], else [`V1ALPHA`].
pub(crate) async fn serve(
    snapshot: &Arc<Snapshot>,
    v1: bool,
    req: Request<tonic::body::Body>,
) -> Result<Response<tonic::body::Body>, Status> {
    let services = services_for(snapshot)?;
    let service = if v1 {
        services.v1.clone()
    } else {
        services.v1alpha.clone()
    };
    match service.oneshot(req).await {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

fn services_for(snapshot: &Arc<Snapshot>) -> Result<Arc<Services>, Status> {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built.retain(|(s, _)| s.strong_count() > 0);
    if let Some((_, services)) = built
        .iter()
        .find(|(s, _)| std::ptr::eq(s.as_ptr(), Arc::as_ptr(snapshot)))
    {
        return Ok(services.clone());
    }
    let services = Arc::new(
        build(snapshot)
            .map_err(|e| Status::internal(format!("cannot build the reflection service: {e}")))?,
    );
    built.push((Arc::downgrade(snapshot), services.clone()));
    Ok(services)
}

/// The exposed services' files (each with its dependencies, each name from
/// the first-listed backend defining it: [`Snapshot::exposed_files`]),
/// excluded services cut out.
fn exposed_files(snapshot: &Snapshot) -> (Vec<String>, Vec<Vec<u8>>) {
    let exposed = snapshot.exposed_files();
    let names: HashSet<&str> = exposed.services.iter().map(String::as_str).collect();
    let files = exposed
        .files
        .iter()
        .map(|file| strip_services(&file.encode_to_vec(), file.package_name(), &names))
        .collect();
    (exposed.services, files)
}

fn build(snapshot: &Snapshot) -> Result<Services, String> {
    let (names, files) = exposed_files(snapshot);
    let set = encode_set(&files);
    let builder = |own: &str| {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(&set)
            .with_service_name(own);
        for name in &names {
            b = b.with_service_name(name.clone());
        }
        b
    };
    let v1 = builder("grpc.reflection.v1.ServerReflection")
        .build_v1()
        .map_err(|e| e.to_string())?;
    let v1alpha = builder("grpc.reflection.v1alpha.ServerReflection")
        .build_v1alpha()
        .map_err(|e| e.to_string())?;
    Ok(Services {
        v1: Service::new(v1),
        v1alpha: Service::new(v1alpha),
    })
}

/// `FileDescriptorProto.service`.
const SERVICE_FIELD: u32 = 6;
/// `ServiceDescriptorProto.name`.
const NAME_FIELD: u32 = 1;

/// The encoded file without the services not in `exposed`, every other field
/// kept byte for byte (options included). Malformed input is returned as is.
fn strip_services(file: &[u8], package: &str, exposed: &HashSet<&str>) -> Vec<u8> {
    let Some(top) = fields(file) else {
        return file.to_vec();
    };
    let mut out = Vec::with_capacity(file.len());
    for (number, raw, value) in top {
        if number == SERVICE_FIELD
            && let Some(value) = value
        {
            let name = fields(value)
                .and_then(|f| f.into_iter().find(|(n, _, _)| *n == NAME_FIELD))
                .and_then(|(_, _, v)| std::str::from_utf8(v?).ok())
                .unwrap_or_default();
            let full = if package.is_empty() {
                name.to_owned()
            } else {
                format!("{package}.{name}")
            };
            if !exposed.contains(full.as_str()) {
                continue;
            }
        }
        out.extend_from_slice(raw);
    }
    out
}

/// One field: number, raw bytes, contents if length-delimited.
type Field<'a> = (u32, &'a [u8], Option<&'a [u8]>);

/// A message's top-level fields: number, the field's raw bytes (key included),
/// and for length-delimited fields their contents.
fn fields(message: &[u8]) -> Option<Vec<Field<'_>>> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    let mut out = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let start = rest;
        let (number, wire) = decode_key(&mut rest).ok()?;
        let value = match wire {
            WireType::Varint => {
                decode_varint(&mut rest).ok()?;
                None
            }
            WireType::SixtyFourBit => {
                rest.get(..8)?;
                rest.advance(8);
                None
            }
            WireType::ThirtyTwoBit => {
                rest.get(..4)?;
                rest.advance(4);
                None
            }
            WireType::LengthDelimited => {
                let len = usize::try_from(decode_varint(&mut rest).ok()?).ok()?;
                let value = rest.get(..len)?;
                rest.advance(len);
                Some(value)
            }
            // Groups do not occur in descriptors.
            WireType::StartGroup | WireType::EndGroup => return None,
        };
        let used = start.len() - rest.len();
        out.push((number, &start[..used], value));
    }
    Some(out)
}

/// A `FileDescriptorSet` of encoded files (field 1 each).
fn encode_set(files: &[Vec<u8>]) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let mut set = Vec::new();
    for file in files {
        encode_key(1, WireType::LengthDelimited, &mut set);
        encode_varint(file.len() as u64, &mut set);
        set.extend_from_slice(file);
    }
    set
}

/// The response as the public port writes it.
pub(crate) fn into_body(response: Response<tonic::body::Body>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, super::pass_body::pass_body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn excluded_services_are_cut_out_of_a_file() {
        let file = prost_types::FileDescriptorProto {
            name: Some("a.proto".into()),
            package: Some("p".into()),
            service: vec![
                prost_types::ServiceDescriptorProto {
                    name: Some("Open".into()),
                    ..Default::default()
                },
                prost_types::ServiceDescriptorProto {
                    name: Some("Hidden".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let exposed = HashSet::from(["p.Open"]);
        let stripped = strip_services(&file.encode_to_vec(), "p", &exposed);
        let decoded = prost_types::FileDescriptorProto::decode(stripped.as_slice()).unwrap();
        let names: Vec<&str> = decoded.service.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["Open"]);
        assert_eq!(decoded.name(), "a.proto");
        // Garbage is passed through rather than lost.
        assert_eq!(strip_services(&[0xff], "p", &exposed), [0xff]);
    }
}
