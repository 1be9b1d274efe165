//! Endpoint specs and DNS: `host:port` is one endpoint; `dns:///name:port` is
//! every A and AAAA address `name` resolves to, re-resolved periodically (the
//! gRPC name syntax, and how a Kubernetes headless Service exposes its pods).
//!
//! Resolution uses hickory-resolver rather than the OS resolver (`getaddrinfo`)
//! because it is async, returns every address instead of one to connect to, and
//! can be pointed at a specific nameserver (`upstream.dns.nameservers`), which is
//! also how the tests use an in-process DNS server.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};

/// DNS settings of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Nameservers to ask (UDP, then TCP). Empty: the system's (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// How often `dns:///` endpoints are re-resolved.
    pub refresh: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            nameservers: Vec::new(),
            refresh: Duration::from_secs(30),
        }
    }
}

/// One configured endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Spec<'a> {
    /// `host:port`, connected to as written (a hostname is resolved by the
    /// connector, once per connection).
    Static(&'a str),
    /// `dns:///host:port`: one endpoint per resolved address.
    Dns { host: &'a str, port: u16 },
}

/// Splits `dns:///host:port` from a static `host:port`. The config loader has
/// already validated both shapes; this only has to tell them apart.
pub(crate) fn parse(endpoint: &str) -> Result<Spec<'_>, String> {
    let Some(rest) = endpoint.strip_prefix("dns:///") else {
        return Ok(Spec::Static(endpoint));
    };
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("`{endpoint}`: missing :port"))?;
    let port = port
        .parse()
        .map_err(|_| format!("`{endpoint}`: bad port"))?;
    Ok(Spec::Dns {
        host: host.trim_start_matches('[').trim_end_matches(']'),
        port,
    })
}

/// An async resolver built from [`DnsSettings`].
#[derive(Clone)]
pub(crate) struct Dns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

impl Dns {
    pub(crate) fn new(settings: &DnsSettings) -> Result<Dns, String> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            Resolver::builder(provider)
                .map_err(|e| format!("cannot read the system DNS config: {e}"))?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut ns.connections {
                        c.port = addr.port();
                    }
                    ns
                })
                .collect();
            Resolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let opts = builder.options_mut();
        // Every A and AAAA address is an endpoint.
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        // We re-resolve on our own schedule; a cache would only delay changes.
        opts.cache_size = 0;
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        Ok(Dns { resolver })
    }

    /// Every address of `host`, as `ip:port` endpoint addresses, sorted.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> Result<Vec<String>, String> {
        // A trailing dot makes the name absolute: no search-domain guessing for
        // names that are already fully qualified (`svc.ns.svc.cluster.local`).
        let name = if host.ends_with('.') || !host.contains('.') {
            host.to_string()
        } else {
            format!("{host}.")
        };
        let lookup = self
            .resolver
            .lookup_ip(name.as_str())
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?;
        let mut addrs: Vec<String> = lookup
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => format!("{v4}:{port}"),
                IpAddr::V6(v6) => format!("[{v6}]:{port}"),
            })
            .collect();
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            return Err(format!("{host} has no A or AAAA records"));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(parse("h:1"), Ok(Spec::Static("h:1")));
        assert_eq!(
            parse("dns:///svc.ns.svc.cluster.local:50051"),
            Ok(Spec::Dns {
                host: "svc.ns.svc.cluster.local",
                port: 50051
            })
        );
        assert!(parse("dns:///nope").is_err());
    }
}
