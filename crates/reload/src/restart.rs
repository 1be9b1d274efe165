//! Which changed config keys need a restart: those read once at startup (the
//! listeners' addresses, the upstream channel settings every connection was
//! built with, the threading model, the access log writer and the trace exporter). Everything else a reload applies; see
//! [`Settings`](switchboard_live::Settings) for the process-wide part.

use switchboard_config::Config;
use switchboard_upstream::ChannelSettings;

/// The keys of `new` that differ from what the process started with
/// (`startup`'s addresses, the channel settings in use), in config order.
pub(crate) fn restart_required(
    startup: &Config,
    channels: &ChannelSettings,
    new: &Config,
) -> Vec<String> {
    let mut keys = Vec::new();
    if new.listen != startup.listen {
        keys.push("listen".to_owned());
    }
    if new.admin != startup.admin {
        keys.push("admin".to_owned());
    }
    if crate::channel_settings(new) != *channels {
        keys.push("upstream".to_owned());
    }
    // The worker threads, their listeners and their connections are started once.
    if new.runtime != startup.runtime {
        keys.push("runtime".to_owned());
    }
    // The access log writer and the trace exporter are started once.
    if new.observability.access_log != startup.observability.access_log {
        keys.push("access_log".to_owned());
    }
    if new.observability.tracing != startup.observability.tracing {
        keys.push("tracing".to_owned());
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Config {
        switchboard_config::parse_str(yaml, std::path::Path::new("x.yaml")).unwrap()
    }

    #[test]
    fn only_startup_keys_need_a_restart() {
        let startup = parse("");
        let channels = crate::channel_settings(&startup);
        assert!(restart_required(&startup, &channels, &startup).is_empty());
        let live_only = parse("limits:\n  max_body_bytes: 10\nreload:\n  debounce: 1s\n");
        assert!(restart_required(&startup, &channels, &live_only).is_empty());
        let moved =
            parse("listen: 127.0.0.1:1\nadmin: 127.0.0.1:2\nupstream:\n  connect_timeout: 9s\n");
        assert_eq!(
            restart_required(&startup, &channels, &moved),
            ["listen", "admin", "upstream"]
        );
        let threaded = parse("runtime: {model: workers, workers: 2}\n");
        assert_eq!(
            restart_required(&startup, &channels, &threaded),
            ["runtime"]
        );
        let observed = parse(
            "access_log: {to: stderr}\ntracing: {otlp_endpoint: \"http://127.0.0.1:4317\"}\nrequest_id: {header: x-trace}\ncompression: {min_bytes: 1}\n",
        );
        assert_eq!(
            restart_required(&startup, &channels, &observed),
            ["access_log", "tracing"]
        );
    }
}
