//! The `revshare-oracle` command line: parses arguments and calls into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use revshare_oracle::config::Config;

/// Revenue-share oracle for Web Monetization communities.
#[derive(Parser)]
#[command(name = "revshare-oracle", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service until Ctrl-C or SIGTERM.
    Serve {
        /// A TOML configuration file; REVSHARE_* environment variables override it, and defaults
        /// cover whatever neither sets.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run the chain indexer alone (the `[indexer]` section of the configuration) until Ctrl-C or
    /// SIGTERM.
    Index {
        /// A TOML configuration file, as for `serve`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Stop once the index has caught up with the chain's head.
        #[arg(long)]
        once: bool,
    },
    /// Print the effective configuration as TOML (secrets left out) and exit.
    Config {
        /// A TOML configuration file, as for `serve`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref())?;
            revshare_oracle::telemetry::init_logs(&config.log);
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(revshare_oracle::app::serve(config))?;
            Ok(())
        }
        Command::Index { config, once } => {
            let config = Config::load(config.as_deref())?;
            revshare_oracle::telemetry::init_logs(&config.log);
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(revshare_oracle::app::index(config, once))?;
            Ok(())
        }
        Command::Config { config } => {
            let config = Config::load(config.as_deref())?;
            print!(
                "{}",
                toml::to_string(&config).context("cannot render the configuration")?
            );
            Ok(())
        }
    }
}
