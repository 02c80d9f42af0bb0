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
        /// What this replica serves and runs (overrides `role` in the configuration): `all`,
        /// `public` (public reads only; no jobs, no migrations) or `worker` (jobs, admin, hooks).
        #[arg(long, value_enum)]
        role: Option<revshare_oracle::config::Role>,
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
    /// Create oracle signing keys and show their addresses.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Deploy the RevShare contract for this oracle.
    #[command(subcommand)]
    Chain(ChainCommand),
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

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a new random signing key and print its address. The key itself is never printed.
    New {
        /// Write the key as hex to this new file (readable by its owner only).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "keystore",
            conflicts_with = "keystore"
        )]
        out: Option<PathBuf>,
        /// Write the key as an encrypted JSON keystore (the standard Ethereum format) instead.
        #[arg(long, value_name = "FILE", requires = "password_file")]
        keystore: Option<PathBuf>,
        /// The keystore's password, read from this file.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Print the Ethereum address of a key file or keystore.
    Address {
        /// A key file of hex digits.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "keystore",
            conflicts_with = "keystore"
        )]
        key_file: Option<PathBuf>,
        /// An encrypted JSON keystore.
        #[arg(long, value_name = "FILE", requires = "password_file")]
        keystore: Option<PathBuf>,
        /// The keystore's password, read from this file.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ChainCommand {
    /// Deploy RevShare with the oracle's first signer set at [oracle] contract, unless it is there
    /// already; prints the address. Safe to run again.
    Deploy {
        /// A TOML configuration file, as for `serve`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Send from this account, which the node holds unlocked (Anvil's accounts), instead of
        /// [chain] sender or the oracle's first key.
        #[arg(long, value_name = "ADDRESS")]
        unlocked_from: Option<alloy::primitives::Address>,
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
        Command::Serve { config, role } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(role) = role {
                config.role = role;
            }
            revshare_oracle::telemetry::init_logs(&config.log);
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(revshare_oracle::server::serve(config))?;
            Ok(())
        }
        Command::Keys(command) => keys(command),
        Command::Policy(command) => run_policy(command),
        Command::Chain(ChainCommand::Deploy {
            config,
            unlocked_from,
        }) => {
            let config = Config::load(config.as_deref())?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(deploy(&config, unlocked_from))
        }
        Command::Index { config, once } => {
            let config = Config::load(config.as_deref())?;
            revshare_oracle::telemetry::init_logs(&config.log);
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(revshare_oracle::server::index(config, once))?;
            Ok(())
        }
        Command::Audit(args) => audit(args),
        Command::Config { config } => {
            let mut config = Config::load(config.as_deref())?;
            // The database URL is printed, for it tells where the data lives; its password not.
            config.database_url = revshare_oracle::store::redact_url(&config.database_url);
            print!(
                "{}",
                toml::to_string(&config).context("cannot render the configuration")?
            );
            Ok(())
        }
    }
}

fn keys(command: KeysCommand) -> anyhow::Result<()> {
    use revshare_oracle::keys;
    match command {
        KeysCommand::New {
            out,
            keystore,
            password_file,
        } => {
            let key = keys::generate();
            match (out, keystore, password_file) {
                (Some(out), _, _) => keys::write_key_file(&out, &key)?,
                (None, Some(keystore), Some(password_file)) => {
                    let password = keys::read_password(&password_file)?;
                    keys::write_keystore(&keystore, &key, &password)?;
                }
                _ => anyhow::bail!("give --out FILE, or --keystore FILE with --password-file FILE"),
            }
            println!("{}", key.address());
            Ok(())
        }
        KeysCommand::Address {
            key_file,
            keystore,
            password_file,
        } => {
            let key = match (key_file, keystore, password_file) {
                (Some(file), _, _) => keys::load_key_file(&file)?,
                (None, Some(keystore), Some(password_file)) => {
                    keys::load_keystore(&keystore, &keys::read_password(&password_file)?)?
                }
                _ => anyhow::bail!(
                    "give --key-file FILE, or --keystore FILE with --password-file FILE"
                ),
            };
            println!("{}", key.address());
            Ok(())
        }
    }
}

async fn deploy(
    config: &Config,
    unlocked_from: Option<alloy::primitives::Address>,
) -> anyhow::Result<()> {
    use alloy::network::EthereumWallet;
    use alloy::providers::{Provider, ProviderBuilder};
    use revshare_oracle::chain::deploy::{Deployment, ensure_deployed};
    use revshare_oracle::oracle::Oracle;
    use secrecy::ExposeSecret;

    let oracle = Oracle::from_config(&config.oracle)?;
    let url: reqwest::Url = config
        .chain
        .rpc_url
        .expose_secret()
        .parse()
        .context("chain.rpc_url is not a URL")?;
    let provider = match unlocked_from {
        Some(_) => ProviderBuilder::new().connect_http(url).erased(),
        None => {
            let source = config
                .chain
                .sender
                .as_ref()
                .or(config.oracle.keys.first())
                .context("no sender: set [chain] sender or give --unlocked-from")?;
            let key = revshare_oracle::keys::load(source)?;
            let mut bytes = key.to_bytes();
            let signer = alloy::signers::local::PrivateKeySigner::from_bytes(&bytes.into())
                .context("the sender key is not a valid key")?;
            bytes.fill(0);
            ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_http(url)
                .erased()
        }
    };
    let expected = config.oracle.contract;
    match ensure_deployed(&provider, expected, oracle.genesis(), unlocked_from).await? {
        Deployment::AlreadyDeployed { address } => {
            eprintln!("RevShare is already deployed at {address}");
            println!("{address}");
        }
        Deployment::Deployed { address, block } => {
            eprintln!("deployed RevShare at {address} in block {block}");
            if address != expected {
                eprintln!(
                    "note: [oracle] contract is {expected}; set REVSHARE_ORACLE__CONTRACT={address} to sign for this deployment"
                );
            }
            println!("{address}");
        }
    }
    Ok(())
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
