//! `switchboard check --discover --against ADMIN`: the route diff between a
//! running gateway's live table (its admin `/routes` and `/status`) and the
//! table the checked config builds, printed as the reload history words it
//! (`switchboard_live::RouteDiff`): what a reload to this config would change.
//!
//! The admin listener is plain HTTP on loopback by default, so one HTTP/1.1
//! GET over a TCP stream is all the client this needs.

use std::time::Duration;

use anyhow::{Context, bail};
use switchboard_live::{RouteDiff, RouteEntry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The diff from the gateway at `admin` to `routes` (with `conflicts`), printed.
pub(crate) async fn print_diff(
    admin: &str,
    routes: &[RouteEntry],
    conflicts: &[String],
) -> anyhow::Result<()> {
    let live: Vec<RouteEntry> = serde_json::from_value(get_json(admin, "/routes").await?)
        .context("the gateway's /routes is not a route list")?;
    let status = get_json(admin, "/status").await?;
    let live_conflicts: Vec<String> = status["conflicts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let version = status["version"].as_u64().unwrap_or(0);
    let diff = RouteDiff::between(&live, routes, &live_conflicts, conflicts);
    println!("\nagainst {admin} (live version {version}):");
    if diff.is_empty() {
        println!("  no route changes");
    }
    for r in &diff.added {
        println!(
            "  + {:<7} {:<50} -> {} {}",
            r.method, r.template, r.backend, r.grpc_method
        );
    }
    for r in &diff.removed {
        println!(
            "  - {:<7} {:<50} -> {} {}",
            r.method, r.template, r.backend, r.grpc_method
        );
    }
    for c in &diff.changed_owner {
        println!(
            "  ~ {:<7} {:<50} -> {} {} (was {} {})",
            c.method,
            c.template,
            c.to_backend,
            c.to_grpc_method,
            c.from_backend,
            c.from_grpc_method
        );
    }
    for c in &diff.new_conflicts {
        println!("  ! new conflict: {c}");
    }
    Ok(())
}

/// GETs `path` from the admin listener at `admin` (`http://host:port` or
/// `host:port`) and parses the JSON body.
async fn get_json(admin: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    if admin.starts_with("https://") {
        bail!("--against takes the admin listener's http:// address, e.g. http://127.0.0.1:9901");
    }
    let authority = admin
        .strip_prefix("http://")
        .unwrap_or(admin)
        .trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        bail!("--against {admin}: expected http://host:port");
    }
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .with_context(|| format!("{admin}{path}: timed out"))?
        .with_context(|| format!("cannot reach the gateway's admin listener at {admin}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{admin}{path}: not an HTTP response"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let mut body = response[split + 4..].to_vec();
    let code = head.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        bail!("{admin}{path} answered HTTP {code}");
    }
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body).with_context(|| format!("{admin}{path}: bad chunked body"))?;
    }
    serde_json::from_slice(&body).with_context(|| format!("{admin}{path}: not JSON"))
}

/// Decodes an HTTP/1.1 chunked body (no trailers expected).
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").as_deref(),
            Some(&b"abcde"[..])
        );
        assert_eq!(dechunk(b"5\r\nab"), None);
    }
}
