//! Reload history: what each reload did, for admin `/reloads` and the log.
//!
//! Every published table (and every rejected or operator-asked reload) leaves a
//! [`ReloadRecord`]: version, time, trigger, outcome and the [`RouteDiff`]
//! against the table before it, each route with its gRPC method. The last
//! [`HISTORY_LEN`] are kept. The diff is a pure function of two route lists
//! ([`RouteDiff::between`]), so `switchboard check --against` computes the same
//! diff between a running gateway's `/routes` and a freshly built table.

use std::collections::VecDeque;
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// A route as the diff compares it, borrowed from a table or a route list:
/// diffing thousands of routes allocates only for what changed.
#[derive(Clone, Copy)]
struct View<'a> {
    method: &'a str,
    template: &'a str,
    backend: &'a str,
    grpc_method: &'a str,
}

impl<'a> View<'a> {
    fn of_entry(r: &'a RouteEntry) -> View<'a> {
        View {
            method: &r.method,
            template: &r.template,
            backend: &r.backend,
            grpc_method: &r.grpc_method,
        }
    }

    fn of_route(r: &'a switchboard_routes::Route) -> View<'a> {
        View {
            method: r.http_method.as_str(),
            template: &r.template,
            backend: &r.backend_name,
            grpc_method: &r.grpc_path,
        }
    }

    fn key(&self) -> (&'a str, &'a str) {
        (self.method, self.template)
    }

    fn entry(&self) -> RouteEntry {
        RouteEntry {
            method: self.method.to_owned(),
            template: self.template.to_owned(),
            backend: self.backend.to_owned(),
            grpc_method: self.grpc_method.to_owned(),
        }
    }
}

/// `views` sorted by key, the last of each key kept (what collecting into a
/// map by key keeps).
fn sorted(mut views: Vec<View<'_>>) -> Vec<View<'_>> {
    views.sort_by_key(View::key); // stable: equal keys stay in order
    let mut out: Vec<View<'_>> = Vec::with_capacity(views.len());
    for v in views {
        match out.last_mut() {
            Some(last) if last.key() == v.key() => *last = v,
            _ => out.push(v),
        }
    }
    out
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
        Self::of_views(
            old.iter().map(View::of_entry).collect(),
            new.iter().map(View::of_entry).collect(),
            old_conflicts,
            new_conflicts,
        )
    }

    /// [`RouteDiff::between`] two tables' routes, read in place: a reload
    /// diffs the live table against the new one while both are in memory, at
    /// the reload's peak, so it copies no route that did not change.
    pub fn between_routes(
        old: &[switchboard_routes::Route],
        new: &[switchboard_routes::Route],
        old_conflicts: &[String],
        new_conflicts: &[String],
    ) -> RouteDiff {
        Self::of_views(
            old.iter().map(View::of_route).collect(),
            new.iter().map(View::of_route).collect(),
            old_conflicts,
            new_conflicts,
        )
    }

    /// Both lists sorted by key and walked together, in key order (added and
    /// changed in the new list's order, then removed in the old one's).
    fn of_views(
        old: Vec<View<'_>>,
        new: Vec<View<'_>>,
        old_conflicts: &[String],
        new_conflicts: &[String],
    ) -> RouteDiff {
        let (before, after) = (sorted(old), sorted(new));
        let mut diff = RouteDiff::default();
        let mut o = 0;
        for r in &after {
            while o < before.len() && before[o].key() < r.key() {
                o += 1;
            }
            match before.get(o).filter(|b| b.key() == r.key()) {
                None => diff.added.push(r.entry()),
                Some(b) if b.backend != r.backend || b.grpc_method != r.grpc_method => {
                    diff.changed_owner.push(OwnerChange {
                        method: r.method.to_owned(),
                        template: r.template.to_owned(),
                        from_backend: b.backend.to_owned(),
                        from_grpc_method: b.grpc_method.to_owned(),
                        to_backend: r.backend.to_owned(),
                        to_grpc_method: r.grpc_method.to_owned(),
                    });
                }
                Some(_) => {}
            }
        }
        let mut n = 0;
        for r in &before {
            while n < after.len() && after[n].key() < r.key() {
                n += 1;
            }
            if after.get(n).is_none_or(|a| a.key() != r.key()) {
                diff.removed.push(r.entry());
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
    records: Mutex<VecDeque<Stored>>,
}

/// A [`ReloadRecord`] as the history keeps it: the diff serialized (compact
/// JSON, one allocation; `None` when empty) instead of four strings per
/// route. The first publish adds every route, and a gateway with thousands of
/// routes would otherwise keep that many small allocations for as long as the
/// record stays; `/reloads`, which is rare, decodes them again.
#[derive(Debug)]
struct Stored {
    version: u64,
    at: String,
    trigger: &'static str,
    outcome: &'static str,
    diff: Option<Box<[u8]>>,
    errors: Vec<String>,
}

impl History {
    /// Records a reload, forgetting the oldest beyond [`HISTORY_LEN`].
    pub fn push(&self, record: ReloadRecord) {
        let diff = if record.diff.is_empty() {
            None
        } else {
            // Plain strings and vectors: serializing cannot fail.
            serde_json::to_vec(&record.diff)
                .ok()
                .map(Vec::into_boxed_slice)
        };
        let stored = Stored {
            version: record.version,
            at: record.at,
            trigger: record.trigger,
            outcome: record.outcome,
            diff,
            errors: record.errors,
        };
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() == HISTORY_LEN {
            records.pop_front();
        }
        records.push_back(stored);
    }

    /// Newest first.
    pub fn recent(&self) -> Vec<ReloadRecord> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records
            .iter()
            .rev()
            .map(|r| ReloadRecord {
                version: r.version,
                at: r.at.clone(),
                trigger: r.trigger,
                outcome: r.outcome,
                diff: r
                    .diff
                    .as_deref()
                    .and_then(|json| serde_json::from_slice(json).ok())
                    .unwrap_or_default(),
                errors: r.errors.clone(),
            })
            .collect()
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

    /// The table walk and the entry lists give the same diff, also with a
    /// key listed twice (the later one counts) and keys in any order.
    #[test]
    fn diff_walks_keys_in_order() {
        let old = [
            route("GET", "/b", "x", "/p.S/B"),
            route("GET", "/a", "x", "/p.S/A"),
            route("GET", "/a", "y", "/p.S/A2"),
            route("PUT", "/z", "x", "/p.S/Z"),
        ];
        let new = [
            route("PUT", "/z", "x", "/p.S/Z"),
            route("GET", "/c", "x", "/p.S/C"),
            route("GET", "/a", "y", "/p.S/A2"),
            route("DELETE", "/a", "x", "/p.S/D"),
        ];
        let diff = RouteDiff::between(&old, &new, &["k".into()], &["k".into(), "n".into()]);
        assert_eq!(
            diff.added,
            [
                route("DELETE", "/a", "x", "/p.S/D"),
                route("GET", "/c", "x", "/p.S/C")
            ]
        );
        assert_eq!(diff.removed, [route("GET", "/b", "x", "/p.S/B")]);
        assert!(diff.changed_owner.is_empty(), "the later /a entry counts");
        assert_eq!(diff.new_conflicts, ["n"]);
        let moved = RouteDiff::between(&old[..2], &old[2..3], &[], &[]);
        assert_eq!(moved.changed_owner.len(), 1);
        assert_eq!(moved.changed_owner[0].from_grpc_method, "/p.S/A");
        assert_eq!(moved.removed, [route("GET", "/b", "x", "/p.S/B")]);
    }

    /// A stored diff comes back as it was recorded.
    #[test]
    fn history_returns_the_recorded_diffs() {
        let history = History::default();
        let diff = RouteDiff::between(
            &[route("GET", "/old", "b", "/p.S/O")],
            &[route("POST", "/p.S/A", "b", "/p.S/A")],
            &[],
            &["c".into()],
        );
        for diff in [diff.clone(), RouteDiff::default()] {
            history.push(ReloadRecord {
                version: 1,
                at: "t".into(),
                trigger: "file",
                outcome: "applied",
                diff,
                errors: vec!["e".into()],
            });
        }
        let recent = history.recent();
        assert_eq!(recent[1].diff, diff);
        assert_eq!(recent[1].errors, ["e"]);
        assert!(recent[0].diff.is_empty());
        assert_eq!(
            serde_json::to_value(&recent[1]).unwrap()["diff"]["added"][0]["template"],
            "/p.S/A"
        );
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
