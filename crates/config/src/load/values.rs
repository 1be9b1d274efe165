//! Value parsers and checks: durations, endpoints, hosts, method selectors and
//! HTTP tokens. Each returns why a value is wrong, for the validator to locate.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// `package.Service.Method`: at least two dot-separated protobuf identifiers.
pub(super) fn is_method_selector(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            let b = p.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_alphabetic() || b[0] == b'_')
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        })
}

/// An RFC 9110 token, what an HTTP method must be.
pub(super) fn is_http_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Checks `host:port`, where host is a DNS name, an IPv4 address or a bracketed IPv6
/// address, or `dns:///host:port` (gRPC's name syntax: every address the name
/// resolves to). Returns why not, phrased to complete "invalid endpoint `x`: ...".
pub(super) fn check_endpoint(ep: &str) -> Result<(), String> {
    if let Some(rest) = ep.strip_prefix("dns:///") {
        if rest.contains("://") {
            return Err("expected dns:///host:port".into());
        }
        return check_endpoint(rest);
    }
    if ep.starts_with("dns:") {
        return Err(
            "expected dns:///host:port (three slashes: the DNS server part is empty)".into(),
        );
    }
    if ep.contains("://") {
        return Err("expected host:port without a scheme, or dns:///host:port".into());
    }
    let (host, port) = if let Some(rest) = ep.strip_prefix('[') {
        let (v6, rest) = rest
            .split_once(']')
            .ok_or("missing `]` after IPv6 address")?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| format!("`{v6}` is not an IPv6 address"))?;
        let port = rest.strip_prefix(':').ok_or("missing `:port`")?;
        (None, port)
    } else {
        let (host, port) = ep.rsplit_once(':').ok_or("missing `:port`")?;
        if host.contains(':') {
            return Err("IPv6 addresses must be written in brackets, e.g. `[::1]:50051`".into());
        }
        (Some(host), port)
    };
    if let Some(host) = host {
        check_host(host)?;
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port `{port}` is not a number in 1..=65535")),
    }
}

pub(super) fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("empty host".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    // All-numeric dotted hosts are meant as IPv4, so hold them to that.
    if labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return host
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| format!("`{host}` is not a valid IPv4 address"));
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() > 253 || !labels.iter().all(label_ok) {
        return Err(format!("`{host}` is not a valid hostname"));
    }
    Ok(())
}

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h` and an optional fraction
/// (`1.5s`). Deliberately strict: a bare number has no obvious unit, so it is an error.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        "" => return Err("missing unit (use ms, s, m or h, e.g. `5s`)".into()),
        _ => {
            return Err(format!(
                "unknown unit `{unit}` (use ms, s, m or h, e.g. `5s`)"
            ));
        }
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(frac)) {
        return Err("expected a number followed by a unit, e.g. `250ms` or `1.5s`".into());
    }
    let too_big = || "duration is too large".to_string();
    let whole: u128 = whole.parse().map_err(|_| too_big())?;
    // Nanosecond precision is plenty: ignore fraction digits beyond the ninth.
    let frac = &frac[..frac.len().min(9)];
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| too_big())?
    };
    let frac_nanos = frac_value * unit_nanos / 10u128.pow(frac.len() as u32);
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(too_big)?;
    let nanos = u64::try_from(nanos).map_err(|_| too_big())?;
    Ok(Duration::from_nanos(nanos))
}

// ---------------------------------------------------------------------------------
// serde-saphyr errors -> ConfigError
// ---------------------------------------------------------------------------------
