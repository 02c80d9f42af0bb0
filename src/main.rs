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
    /// Verify the contract's whole signed history from the chain alone, and exit non-zero if
    /// anything fails.
    Audit(AuditArgs),
    /// Print the effective configuration as TOML (secrets left out) and exit.
    Config {
        /// A TOML configuration file, as for `serve`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// What `audit` reads and checks.
#[derive(clap::Args)]
struct AuditArgs {
    /// The node's JSON-RPC URL (HTTP).
    #[arg(long, value_name = "URL")]
    rpc: String,
    /// The RevShare contract's address.
    #[arg(long, value_name = "ADDRESS")]
    contract: alloy_primitives::Address,
    /// First block to read (default: the contract's deployment block, found on chain).
    #[arg(long, value_name = "N")]
    from_block: Option<u64>,
    /// Base URL of the evidence endpoint: each decision's evidence is fetched from
    /// {URL}/v1/evidence/{decisionHash} and hashed.
    #[arg(long, value_name = "URL")]
    evidence_from: Option<String>,
    /// The signer set the contract must have been deployed with (comma-separated addresses, in
    /// the contract's order); without it, the deployment's set is taken as given.
    #[arg(
        long,
        value_name = "ADDRESS,...",
        value_delimiter = ',',
        requires = "threshold"
    )]
    signers: Vec<alloy_primitives::Address>,
    /// How many of `--signers` must sign.
    #[arg(long, value_name = "M", requires = "signers")]
    threshold: Option<u8>,
    /// Print the verdict as JSON instead of text (and no progress bars).
    #[arg(long)]
    json: bool,
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
        Command::Audit(args) => audit(args),
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

fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let signers = match args.threshold {
        Some(threshold) => Some(
            revshare_oracle::report::SignerSet::new(args.signers, threshold)
                .context("--signers and --threshold do not form a signer set")?,
        ),
        None => None,
    };
    let options = revshare_oracle::audit::AuditOptions {
        rpc_url: args.rpc,
        contract: args.contract,
        from_block: args.from_block,
        evidence_from: args.evidence_from,
        signers,
        progress: !args.json,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let verdict = runtime
        .block_on(revshare_oracle::audit::run(&options))
        .context("the audit could not read the chain")?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&verdict).context("cannot render the verdict")?
        );
    } else {
        print!("{}", verdict.render());
    }
    if !verdict.verified {
        anyhow::bail!(
            "the audit failed with {} failure(s)",
            verdict.failures.len()
        );
    }
    Ok(())
}
