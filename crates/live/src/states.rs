//! The states that cross crates: a reload's result and a backend's discovery
//! state. Typed so callers match instead of comparing strings; each serializes
//! (JSON, metric labels) to the same lowercase word users already see.

use serde::Serialize;

/// What one reload did (`POST /reload`'s `result`, the `outcome` metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadResult {
    /// A new table was published.
    Applied,
    /// Nothing changed (same file bytes, or a retry that found nothing new).
    Unchanged,
    /// The config was invalid; the live table was kept.
    Rejected,
}

impl ReloadResult {
    /// The word used in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Applied => "applied",
            ReloadResult::Unchanged => "unchanged",
            ReloadResult::Rejected => "rejected",
        }
    }
}

/// A backend's discovery state in `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendState {
    /// Discovered, schema current.
    Ok,
    /// The last discovery failed; the last good schema is in use.
    Stale,
    /// No schema at all: the backend has no routes.
    Failed,
}

impl BackendState {
    /// The word used in JSON and `switchboard check`'s report.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendState::Ok => "ok",
            BackendState::Stale => "stale",
            BackendState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for BackendState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialize_to_the_words_users_see() {
        for r in [
            ReloadResult::Applied,
            ReloadResult::Unchanged,
            ReloadResult::Rejected,
        ] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        for s in [BackendState::Ok, BackendState::Stale, BackendState::Failed] {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
