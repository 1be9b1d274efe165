//! The `switchboard` binary: a clap CLI that wires the stages together.
//!
//! - `serve --config FILE`: run the gateway, hot-reloading FILE;
//! - `check --config FILE [--discover [--against ADMIN_URL]]`: validate (and
//!   optionally discover and print the route table, and its diff against a
//!   running gateway's), exit non-zero on any error;
//! - `demo`: the gateway plus the bundled example backends, all on loopback
//!   (feature `demo`, on by default; the container image is built without it).
//!
//! No stage logic lives here: only parsing arguments, logging setup and wiring.

mod against;
mod check;
#[cfg(feature = "demo")]
mod demo;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "One HTTP/JSON gateway for a fleet of gRPC services"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The YAML config file (watched for changes).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file; with --discover also contact the backends and print
    /// the route table that would be served.
    Check {
        #[arg(long, short)]
        config: PathBuf,
        /// Run discovery against every backend and print the routes.
        #[arg(long)]
        discover: bool,
        /// With --discover: also print the route diff against the live table of
        /// the gateway whose admin listener is here (e.g. http://127.0.0.1:9901).
        #[arg(long, value_name = "ADMIN_URL", requires = "discover")]
        against: Option<String>,
    },
    /// Run the gateway with the bundled example backends, on loopback.
    #[cfg(feature = "demo")]
    Demo {
        /// Port of the demo gateway's HTTP listener.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Port of the demo admin listener.
        #[arg(long, default_value_t = 9901)]
        admin_port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { config } => run::serve(config).await,
            Command::Check {
                config,
                discover,
                against,
            } => check::check(&config, discover, against.as_deref()).await,
            #[cfg(feature = "demo")]
            Command::Demo { port, admin_port } => demo::demo(port, admin_port).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,h2=warn,hyper=warn,tower=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
