//! `switchboard check`: validate a config the way `serve` would load it, and with
//! `--discover` run one full build (discovery and route table) and print it.
//! Exits non-zero on any error, so it fits in CI and pre-deploy hooks.

use std::path::Path;
use std::process::ExitCode;

use switchboard_gateway::{Error, Switchboard};

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

    // The build `serve` does, without listeners or background reloads.
    let built = Switchboard::builder()
        .config_file(config_path)
        .watch_config(false)
        .build()
        .await;
    let gateway = match built {
        Ok(gateway) => gateway,
        Err(Error::Rejected(errors)) => {
            for e in &errors {
                println!("error: {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let status = gateway.status();
    let mut failed = false;
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
    let routes = gateway.routes();
    if gateway.is_ready() {
        println!("\n{} route(s):", routes.len());
        for r in &routes {
            println!(
                "  {:<7} {:<50} -> {} {}",
                r.method, r.template, r.backend, r.grpc_method
            );
        }
    }
    if let Some(admin) = against {
        let entries = gateway.route_entries();
        crate::against::print_diff(admin, &entries, &status.conflicts).await?;
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
