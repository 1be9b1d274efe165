//! Reload history: what each reload did, for admin `/reloads` and the log.
//!
//! Every published table (and every rejected or operator-asked reload) leaves a
//! [`ReloadRecord`]: version, time, trigger, outcome and the [`RouteDiff`]
//! against the table before it, each route with its gRPC method. The last
//! [`HISTORY_LEN`] are kept. The diff is a pure function of two route lists
//! ([`RouteDiff::between`]), so `switchboard check --against` computes the same
//! diff between a running gateway's `/routes` and a freshly built table.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// How many records `/reloads` keeps.
pub const HISTORY_LEN: usize = 50;

/// One route as the diff sees it: what `/routes` lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteEntry {
    /// The HTTP method (`GET`, `POST`, ..., or `*` for a custom verb).
    pub method: String,
    /// The path template as configured (`/v1/{name=shelves/*}`).
    pub template: String,
    /// The backend that owns the route.
    pub backend: String,
    /// `package.Service/Method`: which call the route makes.
    pub grpc_method: String,
}

/// A route whose HTTP method and template stayed but whose owner changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerChange {
    /// The HTTP method the route answers.
    pub method: String,
    /// Its path template.
    pub template: String,
    /// The backend that owned it before.
    pub from_backend: String,
    /// The call it made before.
    pub from_grpc_method: String,
    /// The backend that owns it now.
    pub to_backend: String,
    /// The call it makes now.
    pub to_grpc_method: String,
}

/// What changed between two route tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteDiff {
    /// Routes the new table has and the old one did not.
    pub added: Vec<RouteEntry>,
    /// Routes the old table had and the new one does not.
    pub removed: Vec<RouteEntry>,
    /// Routes whose method and template stayed but whose call moved.
    pub changed_owner: Vec<OwnerChange>,
    /// Conflicts the new table has that the old one did not.
    pub new_conflicts: Vec<String>,
}

impl RouteDiff {
    /// The diff from `old` to `new` (routes keyed by HTTP method and template),
    /// with the conflicts of `new` not in `old_conflicts`.
    pub fn between(
        old: &[RouteEntry],
        new: &[RouteEntry],
        old_conflicts: &[String],
        new_conflicts: &[String],
    ) -> RouteDiff {
        let key = |r: &RouteEntry| (r.method.clone(), r.template.clone());
        let before: BTreeMap<_, &RouteEntry> = old.iter().map(|r| (key(r), r)).collect();
        let after: BTreeMap<_, &RouteEntry> = new.iter().map(|r| (key(r), r)).collect();
        let mut diff = RouteDiff::default();
        for (k, r) in &after {
            match before.get(k) {
                None => diff.added.push((*r).clone()),
                Some(o) if o.backend != r.backend || o.grpc_method != r.grpc_method => {
                    diff.changed_owner.push(OwnerChange {
                        method: r.method.clone(),
                        template: r.template.clone(),
                        from_backend: o.backend.clone(),
                        from_grpc_method: o.grpc_method.clone(),
                        to_backend: r.backend.clone(),
                        to_grpc_method: r.grpc_method.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        for (k, r) in &before {
            if !after.contains_key(k) {
                diff.removed.push((*r).clone());
            }
        }
        diff.new_conflicts = new_conflicts
            .iter()
            .filter(|c| !old_conflicts.contains(c))
            .cloned()
            .collect();
        diff
    }

    /// Nothing changed: the reload is not worth a log line of its own.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed_owner.is_empty()
            && self.new_conflicts.is_empty()
    }

    /// One line for the log: `+POST /v1/x (backend b, /p.S/M); -GET /y (...)`,
    /// at most `limit` entries, then how many more.
    pub fn summary(&self, limit: usize) -> String {
        let mut parts: Vec<String> = Vec::new();
        for r in &self.added {
            parts.push(format!(
                "+{} {} ({} {})",
                r.method, r.template, r.backend, r.grpc_method
            ));
        }
        for r in &self.removed {
            parts.push(format!(
                "-{} {} ({} {})",
                r.method, r.template, r.backend, r.grpc_method
            ));
        }
        for c in &self.changed_owner {
            parts.push(format!(
                "~{} {} ({} {} -> {} {})",
                c.method,
                c.template,
                c.from_backend,
                c.from_grpc_method,
                c.to_backend,
                c.to_grpc_method
            ));
        }
        for c in &self.new_conflicts {
            parts.push(format!("!conflict: {c}"));
        }
        if parts.is_empty() {
            return "no route changes".into();
        }
        let total = parts.len();
        let mut line = parts.into_iter().take(limit).collect::<Vec<_>>().join("; ");
        if total > limit {
            let _ = write!(line, "; ... and {} more", total - limit);
        }
        line
    }
}

/// One reload, as `/reloads` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadRecord {
    /// The table version after the reload (unchanged for `unchanged` and `rejected`).
    pub version: u64,
    /// RFC 3339, UTC.
    pub at: String,
    /// `startup`, `file`, `sighup`, `admin`, `retry`, `refresh`, `endpoints`.
    pub trigger: &'static str,
    /// `applied`, `unchanged` or `rejected`.
    pub outcome: &'static str,
    /// What the reload changed in the route table.
    pub diff: RouteDiff,
    /// Why it was rejected, or which backends failed discovery.
    pub errors: Vec<String>,
}

/// The last [`HISTORY_LEN`] records.
#[derive(Debug, Default)]
pub struct History {
    records: Mutex<VecDeque<ReloadRecord>>,
}

impl History {
    /// Records a reload, forgetting the oldest beyond [`HISTORY_LEN`].
    pub fn push(&self, record: ReloadRecord) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() == HISTORY_LEN {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// Newest first.
    pub fn recent(&self) -> Vec<ReloadRecord> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, template: &str, backend: &str, grpc: &str) -> RouteEntry {
        RouteEntry {
            method: method.into(),
            template: template.into(),
            backend: backend.into(),
            grpc_method: grpc.into(),
        }
    }

    #[test]
    fn diff_lists_added_removed_and_moved_routes() {
        let old = [
            route("POST", "/p.S/A", "b", "/p.S/A"),
            route("GET", "/v1/x", "b", "/p.S/A"),
            route("GET", "/v1/gone", "b", "/p.S/G"),
        ];
        let new = [
            route("POST", "/p.S/A", "b", "/p.S/A"),
            route("GET", "/v1/x", "c", "/q.T/A"),
            route("POST", "/p.S/New", "b", "/p.S/New"),
        ];
        let diff = RouteDiff::between(&old, &new, &[], &["c1".into()]);
        assert_eq!(diff.added, [route("POST", "/p.S/New", "b", "/p.S/New")]);
        assert_eq!(diff.removed, [route("GET", "/v1/gone", "b", "/p.S/G")]);
        assert_eq!(diff.changed_owner.len(), 1);
        assert_eq!(diff.changed_owner[0].to_backend, "c");
        assert_eq!(diff.new_conflicts, ["c1"]);
        let line = diff.summary(2);
        assert!(
            line.starts_with("+POST /p.S/New (b /p.S/New); -GET /v1/gone"),
            "{line}"
        );
        assert!(line.ends_with("... and 2 more"), "{line}");
        assert!(RouteDiff::between(&new, &new, &[], &[]).is_empty());
    }

    #[test]
    fn history_keeps_the_last_fifty_newest_first() {
        let history = History::default();
        for version in 0..60 {
            history.push(ReloadRecord {
                version,
                at: String::new(),
                trigger: "file",
                outcome: "applied",
                diff: RouteDiff::default(),
                errors: Vec::new(),
            });
        }
        let recent = history.recent();
        assert_eq!(recent.len(), HISTORY_LEN);
        assert_eq!(recent[0].version, 59);
        assert_eq!(recent[49].version, 10);
    }
}
