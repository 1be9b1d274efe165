//! Which descriptor files a snapshot exposes, and from which backend: the
//! files that define each exposed service, with their imports, first-listed
//! backend first. The reflection service on the listen port serves exactly
//! these; the reloader reports the conflicts in `/status` and logs each once.
//!
//! Two backends may define the same file name with different contents (two
//! teams' `common.proto`, or one API at two versions under two backend
//! names). One name can be served only one way, so the first-listed backend's
//! file wins and the other is a [`FileConflict`]. Backends that share one
//! descriptor pool (the reloader merges compatible backends into one) cannot
//! disagree on a file, so only files from different pools are compared, and
//! only those are encoded to do so.

use std::collections::HashMap;

use prost_reflect::FileDescriptor;
use serde::Serialize;

use crate::Snapshot;

/// A file name two backends define with different contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileConflict {
    /// The file name (`common/types.proto`).
    pub file: String,
    /// The backend whose file is served (listed first).
    pub kept: String,
    /// The backend whose file of that name is not.
    pub ignored: String,
}

impl std::fmt::Display for FileConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "file {} differs between backends {} (served) and {}",
            self.file, self.kept, self.ignored
        )
    }
}

/// What a snapshot exposes through reflection.
#[derive(Debug, Default)]
pub struct ExposedFiles {
    /// The exposed services' names, first-listed backend first.
    pub services: Vec<String>,
    /// Every file to serve, each from the backend that wins its name, in the
    /// order they were reached (a service's file before its imports).
    pub files: Vec<FileDescriptor>,
    /// The names defined differently by a later backend, once per pair.
    pub conflicts: Vec<FileConflict>,
}

impl Snapshot {
    /// The files of every exposed service (see the module doc).
    pub fn exposed_files(&self) -> ExposedFiles {
        let mut owned = self.table.grpc_services();
        owned.sort_by_key(|(name, backend)| (*backend, *name));
        // File name -> (the backend it is served from, its descriptor).
        let mut seen: HashMap<String, (usize, FileDescriptor)> = HashMap::new();
        let mut out = ExposedFiles::default();
        for (service, backend) in &owned {
            out.services.push((*service).to_owned());
            let runtime = &self.backends[*backend];
            let Some(descriptor) = runtime.pool.get_service_by_name(service) else {
                continue;
            };
            let mut stack = vec![descriptor.parent_file()];
            while let Some(file) = stack.pop() {
                match seen.get(file.name()) {
                    Some((first, kept)) => {
                        let differs = first != backend
                            && kept.parent_pool() != file.parent_pool()
                            && kept.encode_to_vec() != file.encode_to_vec();
                        let conflict = FileConflict {
                            file: file.name().to_owned(),
                            kept: self.backends[*first].name.to_string(),
                            ignored: runtime.name.to_string(),
                        };
                        if differs && !out.conflicts.contains(&conflict) {
                            out.conflicts.push(conflict);
                        }
                        continue;
                    }
                    None => {
                        seen.insert(file.name().to_owned(), (*backend, file.clone()));
                        out.files.push(file.clone());
                    }
                }
                stack.extend(file.dependencies());
            }
        }
        out
    }
}
