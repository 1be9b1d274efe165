//! `switchboard check`: validate a config the way `serve` would load it, and with
//! `--discover` run one full build (discovery and route table) and print it.
//! Exits non-zero on any error, so it fits in CI and pre-deploy hooks.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use switchboard_live::{Live, ReloadResult, Trigger};
use switchboard_reload::{Reloader, ReloaderOptions, SwapMetrics};
use switchboard_upstream::ChannelCache;

pub(crate) async fn check(
    config_path: &Path,
    discover: bool,
    against: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let config = match switchboard_config::load_file(config_path) {
        Ok(config) => config,
        Err(errors) => {
            for e in &errors {
                println!("{}", e.render());
            }
            println!("{} error(s)", errors.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "{}: ok ({} backend(s), listen {}, admin {})",
        config_path.display(),
        config.backends.len(),
        config.listen,
        config.admin
    );
    // Secure edge: certificates, keys and JWKS files, read as serve would.
    let files = switchboard_edge::check_files(&config);
    for note in &files.notes {
        println!("{note}");
    }
    for e in &files.errors {
        println!("error: {e}");
    }
    if !files.errors.is_empty() {
        println!("{} error(s)", files.errors.len());
        return Ok(ExitCode::FAILURE);
    }
    if !discover {
        return Ok(ExitCode::SUCCESS);
    }

    let live = Arc::new(Live::default());
    let channels = Arc::new(ChannelCache::new(switchboard_reload::channel_settings(
        &config,
    )));
    let options = ReloaderOptions::new(config_path.to_path_buf());
    let (mut reloader, _handle) =
        Reloader::new(options, live.clone(), SwapMetrics::default(), channels);
    let outcome = reloader.reload_once(Trigger::Startup).await;
    let status = live.status();
    let mut failed = outcome.result == ReloadResult::Rejected;
    for b in &status.backends {
        match &b.error {
            None => println!(
                "backend {}: {} via {}, services: {}",
                b.name,
                b.state,
                b.source.map_or("-", |s| s.as_str()),
                b.services.join(", ")
            ),
            Some(e) => {
                failed = true;
                println!("backend {}: FAILED: {e}", b.name);
            }
        }
    }
    if let Some(snapshot) = live.snapshot() {
        println!("\n{} route(s):", snapshot.table.routes().len());
        for r in snapshot.table.routes() {
            println!(
                "  {:<7} {:<50} -> {} {}",
                r.http_method.as_str(),
                r.template,
                r.backend_name,
                r.grpc_path
            );
        }
    }
    if let Some(admin) = against {
        let routes = live
            .snapshot()
            .map(|s| s.route_entries())
            .unwrap_or_default();
        crate::against::print_diff(admin, &routes, &status.conflicts).await?;
    }
    for c in &status.conflicts {
        failed = true;
        println!("conflict: {c}");
    }
    for e in &status.route_errors {
        failed = true;
        println!("route error: {e}");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
