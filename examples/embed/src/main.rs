//! Runs the example app: `embed-example CONFIG.yaml [ADDR]` serves it on
//! ADDR (default `127.0.0.1:3000`), with the gateway built from the config
//! file (hot-reloaded when it changes) under `/api`. Ctrl-C stops the app,
//! then shuts the gateway down.

use std::net::SocketAddr;
use std::process::ExitCode;

use switchboard_gateway::Switchboard;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let Some(config) = args.next() else {
        eprintln!("usage: embed-example CONFIG.yaml [ADDR]");
        return ExitCode::FAILURE;
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    match run(&config, &addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &str, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let gateway = Switchboard::builder().config_file(config).build().await?;
    let app = switchboard_embed_example::app(gateway.clone(), "secret");
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("serving on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    gateway.shutdown().await;
    Ok(())
}
