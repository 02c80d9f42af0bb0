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
    /// Print the effective configuration as TOML (secrets left out) and exit.
    Config {
        /// A TOML configuration file, as for `serve`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check policy files, or replay an event log through policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; exits non-zero with a message naming the policy and the place.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
    /// Replay a JSON-lines event log through policies and print the decisions.
    Simulate {
        /// A policy file; repeat for several. The shipped constitution is added when none of
        /// them answers policy_change.
        #[arg(long = "policy", value_name = "FILE", required = true)]
        policies: Vec<PathBuf>,
        /// The event log (JSON lines; see README).
        #[arg(long, value_name = "FILE")]
        events: PathBuf,
        /// The community the evidence names.
        #[arg(long, default_value = "simulation")]
        community: String,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
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
        Command::Policy(command) => run_policy(command),
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

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn run_policy(command: PolicyCommand) -> anyhow::Result<()> {
    use revshare_oracle::policy::{self, Policy, TriggerKind};
    match command {
        PolicyCommand::Check { file } => {
            let parsed = Policy::parse(&read(&file)?)
                .with_context(|| format!("{} is refused", file.display()))?;
            print!("{}", policy::describe_policy(&parsed));
            Ok(())
        }
        PolicyCommand::Simulate {
            policies,
            events,
            community,
            json,
        } => {
            let mut parsed = policies
                .iter()
                .map(|file| {
                    Policy::parse(&read(file)?)
                        .with_context(|| format!("{} is refused", file.display()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if !parsed
                .iter()
                .any(|p| p.rule_for(TriggerKind::PolicyChange).is_some())
            {
                parsed.push(Policy::parse(policy::CONSTITUTION_POLICY)?);
            }
            let set = policy::Policies::bootstrap(parsed)?;
            let community = revshare_oracle::domain::CommunitySlug::parse(&community)?;
            let log = policy::parse_events(&read(&events)?)
                .with_context(|| format!("{} cannot be replayed", events.display()))?;
            let replayed = policy::replay(community, set, &log)
                .with_context(|| format!("{} cannot be replayed", events.display()))?;
            if json {
                print!("{}", policy::replay_json_lines(&replayed));
            } else {
                print!("{}", policy::replay_text(&replayed));
            }
            Ok(())
        }
    }
}
