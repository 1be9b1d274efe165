//! Stage 4 of the data flow: reload. It turns "the config changed" into "a new
//! route table is live", without ever losing the table that works.
//!
//! One [`Reloader`] task owns the rebuild: it reads the config, discovers every
//! backend concurrently (keeping each backend's last good schema when discovery
//! fails, and retrying failed ones with backoff), builds the route table,
//! attaches upstream handles (connections are reused by address) and publishes a
//! new immutable [`Snapshot`](switchboard_live::Snapshot) into the
//! [`Live`](switchboard_live::Live) view with one store.
//!
//! Triggers — file changes ([`watch`]), SIGHUP and the admin `POST /reload` — all go
//! through one channel, so reloads are serialized. A bad config or an unreachable
//! backend is logged, counted and reported in the live status; it never replaces
//! a working table.

mod metrics;
mod refresh;
mod reload;
mod restart;
mod settings;
mod shared_pool;
mod skew;
mod source;
pub mod watch;

pub use metrics::SwapMetrics;
pub use reload::{Reloader, ReloaderOptions};
pub use settings::{channel_settings, upstream_config};
pub use source::ConfigValue;
