//! `example-backend`: runs one example gRPC backend as its own process, for
//! `switchboard demo`, manual curl sessions and out-of-process tests.
//!
//! ```text
//! example-backend greeter|library [--listen 127.0.0.1:50051] [--reflection v1|v1alpha|both|off] [--no-health]
//! ```
//!
//! Prints `listening on ADDR` once the socket is bound (so a parent process can
//! wait for that line and learn the port when `:0` was asked), then serves until
//! Ctrl-C or SIGTERM.

use std::process::ExitCode;

use switchboard_examples::{BackendOptions, Reflection, serve_greeter, serve_library};

const USAGE: &str = "usage: example-backend greeter|library [--listen 127.0.0.1:50051] \
                     [--reflection v1|v1alpha|both|off] [--no-health]";

struct Args {
    backend: String,
    listen: String,
    opts: BackendOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut backend = None;
    let mut listen = "127.0.0.1:50051".to_owned();
    let mut opts = BackendOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--reflection" => {
                opts.reflection = match args.next().as_deref() {
                    Some("both") => Reflection::V1AndV1Alpha,
                    Some("v1") => Reflection::V1Only,
                    Some("v1alpha") => Reflection::V1AlphaOnly,
                    Some("off") => Reflection::Off,
                    other => return Err(format!("--reflection: unknown value {other:?}")),
                }
            }
            "--no-health" => opts.health = false,
            "-h" | "--help" => return Err(String::new()),
            "greeter" | "library" if backend.is_none() => backend = Some(arg),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let backend = backend.ok_or("which backend: greeter or library?")?;
    Ok(Args {
        backend,
        listen,
        opts,
    })
}

/// Completes on Ctrl-C or (on Unix) SIGTERM, so that test harnesses and the demo
/// can stop the backend gracefully.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("example-backend: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("example-backend: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => {
            eprintln!("example-backend: {e}");
            return ExitCode::FAILURE;
        }
    }
    let shutdown = shutdown_signal();
    let result = match args.backend.as_str() {
        "greeter" => serve_greeter(listener, args.opts, shutdown).await,
        _ => serve_library(listener, args.opts, shutdown).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("example-backend: {e}");
            ExitCode::FAILURE
        }
    }
}
