//! Service configuration: a TOML file, overridden by `REVSHARE_*` environment variables, over
//! defaults that run with no file at all (127.0.0.1:8080, SQLite at `./data/revshare.db`).
//!
//! Nested keys use `__` in the environment: `REVSHARE_MONETIZATION__ANSWER=redirect`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Everything the service reads at start-up.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP service listens on.
    pub listen: SocketAddr,
    /// How long clients may take, and how many may be connected at once.
    pub http: HttpConfig,
    /// `sqlite://path` or `postgres://user:password@host/db`.
    pub database_url: String,
    /// Bearer token for the admin routes; the admin API is off without one.
    #[serde(skip_serializing)]
    pub admin_token: Option<SecretString>,
    /// Logging.
    pub log: LogConfig,
    /// The Web Monetization endpoint.
    pub monetization: MonetizationConfig,
    /// Webhook ingestion.
    pub ingest: IngestConfig,
    /// The Discourse API client.
    pub discourse: DiscourseApiConfig,
    /// The worker that sends intended actions (messages, poll closes) to the platforms.
    pub actions: ActionsConfig,
    /// The oracle's keys and the contract its reports are signed for.
    pub oracle: OracleConfig,
    /// The chain the relayer submits reports to.
    pub chain: ChainConfig,
    /// The standard voting API and its worker.
    pub voting: VotingConfig,
    /// The chain indexer; off (absent) by default, so the service runs with no chain.
    pub indexer: Option<IndexerConfig>,
    /// The policy scheduler.
    pub policy: PolicyConfig,
    /// What this replica serves and runs: `all`, `public` or `worker`.
    pub role: Role,
    /// Several replicas on one PostgreSQL: job leases and snapshot freshness.
    pub replicas: ReplicasConfig,
}

/// What one replica serves and runs, so an operator can put public replicas at the edge and keep
/// the background jobs on one or two others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: the public reads, the admin API and hooks, and the jobs (the default).
    #[default]
    All,
    /// Picks, `/wm`, pages and public reads only: no jobs, no writes, no migrations, so it can
    /// run with a read-only database role.
    Public,
    /// The jobs, the admin API, the voting API and the platform hooks.
    Worker,
}

impl Role {
    /// Whether this replica serves the public reads.
    pub fn serves_public(self) -> bool {
        self != Role::Worker
    }

    /// Whether this replica runs jobs and takes writes (admin, voting API, hooks).
    pub fn runs_jobs(self) -> bool {
        self != Role::Public
    }

    /// The role's name, as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Public => "public",
            Role::Worker => "worker",
        }
    }
}

/// How replicas on one PostgreSQL share the jobs and keep their snapshots fresh. Ignored on
/// SQLite, which one process serves.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicasConfig {
    /// This replica's name in leases, logs and `/readyz`; the host name and process id when
    /// unset.
    pub id: Option<String>,
    /// How often a replica checks its lease connection and tries to take the jobs no one holds,
    /// in milliseconds.
    pub lease_check_ms: u64,
    /// How long the database keeps a silent replica's leases, in milliseconds: a replica that
    /// loses the database stops its jobs well before, and another takes them over after at most
    /// this plus one check. At least three checks.
    pub lease_timeout_ms: u64,
    /// How often every community's change stamp is compared with the snapshot held, in case a
    /// change notification was lost, in milliseconds.
    pub snapshot_check_ms: u64,
}

impl Default for ReplicasConfig {
    fn default() -> Self {
        ReplicasConfig {
            id: None,
            lease_check_ms: 1_000,
            lease_timeout_ms: 10_000,
            snapshot_check_ms: 2_000,
        }
    }
}

impl ReplicasConfig {
    /// This replica's name: the configured one, or the host name and process id.
    pub fn replica_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "replica".into());
            format!("{host}:{}", std::process::id())
        })
    }

    /// How often the lease connection is checked.
    pub fn lease_check(&self) -> Duration {
        Duration::from_millis(self.lease_check_ms.max(1))
    }

    /// How long the database keeps a silent replica's leases.
    pub fn lease_timeout(&self) -> Duration {
        Duration::from_millis(self.lease_timeout_ms)
    }

    /// How often snapshots are compared with the stamps.
    pub fn snapshot_check(&self) -> Duration {
        Duration::from_millis(self.snapshot_check_ms.max(1))
    }
}

/// The bounds of the HTTP server: what a client that never finishes, or a crowd of idle ones,
/// may hold, and how long a shutdown waits for connections.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Longest wait for a request's headers, from the connection's start or the end of the last
    /// answer on it (an idle keep-alive connection closes after it too), in ms.
    pub header_read_timeout_ms: u64,
    /// Longest wait for the rest of a request's body, once its headers are in, in ms.
    pub body_read_timeout_ms: u64,
    /// Most connections held at once; keep it under the process's open-file limit. Past it, new
    /// connections wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Longest wait after Ctrl-C or SIGTERM for connections to finish; then they are closed.
    pub shutdown_grace_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_connections: 768,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// The oracle: which keys sign reports, for which deployment of the RevShare contract. The
/// defaults sign with a key generated in `./data` for the contract that anvil-scripts deploy on a
/// local Anvil (chain 31337, the first contract of Anvil's first account).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleConfig {
    /// Whether every pool change is turned into a signed report.
    pub enabled: bool,
    /// The keys this node signs with.
    pub keys: Vec<KeySource>,
    /// The signer set the contract was deployed with; empty means the keys' own addresses.
    pub signers: Vec<alloy_primitives::Address>,
    /// How many of `signers` must sign each report.
    pub threshold: u8,
    /// The chain id of the EIP-712 domain.
    pub chain_id: u64,
    /// The RevShare contract's address, the EIP-712 domain's verifying contract.
    pub contract: alloy_primitives::Address,
    /// How long after it is observed a report may still be applied, in seconds.
    pub validity_secs: u64,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig {
            enabled: true,
            keys: vec![KeySource {
                path: "data/oracle.key".into(),
                password_file: None,
                generate: true,
            }],
            signers: Vec::new(),
            threshold: 1,
            chain_id: 31_337,
            contract: alloy_primitives::address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
            validity_secs: 7 * 24 * 3600,
        }
    }
}

/// The chain the relayer submits signed reports to.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// Whether this process submits reports (another process may, reading the same database).
    pub relayer: bool,
    /// The node's JSON-RPC endpoint. Hosted nodes put API keys in it, so it is a secret: never
    /// logged, printed or repeated in an error.
    #[serde(skip_serializing)]
    pub rpc_url: SecretString,
    /// The account that pays for submissions; the oracle's first key when unset.
    pub sender: Option<KeySource>,
    /// Longest wait for a submission's receipt before the chain is asked again, in seconds.
    pub receipt_timeout_secs: u64,
    /// Longest pause between two tries when the node cannot be reached, in milliseconds.
    pub max_backoff_ms: u64,
    /// How often the relayer looks for work it was not woken for, in milliseconds.
    pub poll_interval_ms: u64,
    /// Indexed blocks a signed report may be missing on chain before reconciliation flags it
    /// (with `[indexer]` configured).
    pub missing_after_blocks: u64,
    /// How often reconciliation compares the outbox with the chain index, in milliseconds.
    pub reconcile_interval_ms: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            relayer: true,
            rpc_url: SecretString::from("http://127.0.0.1:8545"),
            sender: None,
            receipt_timeout_secs: 60,
            max_backoff_ms: 30_000,
            poll_interval_ms: 2_000,
            missing_after_blocks: 20,
            reconcile_interval_ms: 5_000,
        }
    }
}

/// How votes are started, re-read and closed on their platforms.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VotingConfig {
    /// Whether this process runs the voting worker (retries of pending starts and closes, and
    /// re-reads of open votes). With `false` votes are still started and closed on request.
    pub worker: bool,
    /// How often an open vote is re-read, in seconds.
    pub reread_interval_secs: u64,
    /// Shortest time between two re-reads of one community's votes on a platform's hints
    /// (Loomio's webhooks), in milliseconds; hints in between are served together after it.
    pub hint_interval_ms: u64,
    /// Longest wait for one platform request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Tries of one platform call, the first included.
    pub call_attempts: u32,
    /// Wait before the first retry, in milliseconds; each retry waits twice as long as the last,
    /// within one call and between the worker's tries of a pending start or close.
    pub retry_base_ms: u64,
    /// Longest wait between two tries, in milliseconds.
    pub retry_max_ms: u64,
    /// Longest `Retry-After` waited out inside one call, in seconds; a longer one is left to the
    /// worker, which tries again after it.
    pub max_retry_after_secs: u64,
    /// Largest platform answer read, in bytes.
    pub max_response_bytes: usize,
}

impl Default for VotingConfig {
    fn default() -> Self {
        VotingConfig {
            worker: true,
            reread_interval_secs: 60,
            hint_interval_ms: 2_000,
            request_timeout_ms: 10_000,
            call_attempts: 4,
            retry_base_ms: 500,
            retry_max_ms: 300_000,
            max_retry_after_secs: 30,
            max_response_bytes: 8 * 1024 * 1024,
        }
    }
}

/// How webhook deliveries are taken in and processed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest webhook body accepted, in bytes; larger ones are refused with 413.
    pub max_body_bytes: usize,
    /// Whether this process applies stored deliveries. With `false` it only stores them (and
    /// answers), leaving them for a process that runs the worker; tests use it to stop the
    /// service between storing a delivery and acting on it.
    pub worker: bool,
    /// Most deliveries applied between two snapshot refreshes.
    pub batch_size: u32,
    /// Loomio hints taken per community and minute (in bursts of as many); more are answered
    /// 429. Loomio sends one per event of a group, so real groups stay far below it.
    pub loomio_hints_per_minute: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: 1024 * 1024,
            worker: true,
            batch_size: 256,
            loomio_hints_per_minute: 60,
        }
    }
}

/// How logs are written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` (default) or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `revshare_oracle=debug`; `RUST_LOG` wins when set.
    pub filter: String,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object a line, for log collectors.
    Json,
}

/// How the Web Monetization endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MonetizationAnswer {
    /// Serve the chosen wallet's own wallet-address document (fetched and cached).
    WalletDocument,
    /// Answer `302 Found` with the chosen wallet address.
    Redirect,
}

/// Settings of the Web Monetization endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonetizationConfig {
    /// What the endpoint answers; see README for the trade-off.
    pub answer: MonetizationAnswer,
    /// Longest wait for a wallet's document, in milliseconds.
    pub fetch_timeout_ms: u64,
    /// Largest wallet document accepted, in bytes.
    pub max_document_bytes: usize,
    /// How long a fetched document is served from memory, in seconds.
    pub cache_ttl_secs: u64,
    /// Most documents kept in memory.
    pub cache_capacity: u64,
    /// Fetch documents from this origin instead of the wallet's host, keeping the host as the
    /// first path segment (`http://127.0.0.1:9000/{host}/{path}`). For local runs and tests only.
    pub fetch_origin_override: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            http: HttpConfig::default(),
            database_url: "sqlite://data/revshare.db".into(),
            admin_token: None,
            log: LogConfig::default(),
            monetization: MonetizationConfig::default(),
            ingest: IngestConfig::default(),
            discourse: Default::default(),
            actions: Default::default(),
            oracle: OracleConfig::default(),
            chain: ChainConfig::default(),
            voting: VotingConfig::default(),
            indexer: None,
            policy: PolicyConfig::default(),
            role: Role::All,
            replicas: ReplicasConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            filter: "info".into(),
        }
    }
}

impl Default for MonetizationConfig {
    fn default() -> Self {
        MonetizationConfig {
            answer: MonetizationAnswer::WalletDocument,
            fetch_timeout_ms: 3_000,
            max_document_bytes: 64 * 1024,
            cache_ttl_secs: 300,
            cache_capacity: 10_000,
            fetch_origin_override: None,
        }
    }
}

impl MonetizationConfig {
    /// The fetch timeout as a duration.
    pub fn fetch_timeout(&self) -> Duration {
        Duration::from_millis(self.fetch_timeout_ms)
    }
}

/// The chain indexer: which contract on which node, from where, and how carefully.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexerConfig {
    /// The node's JSON-RPC URL (HTTP); `chain.rpc_url` when not given. Hosted nodes put API keys
    /// in it, so it is a secret: never logged or printed.
    #[serde(skip_serializing)]
    pub rpc_url: SecretString,
    /// The RevShare contract's address; `oracle.contract` when not given.
    pub contract: alloy_primitives::Address,
    /// The block the contract was deployed in, where reading starts (the chain's first by
    /// default, which is right for a local Anvil and slow on a long chain).
    #[serde(default)]
    pub deployment_block: u64,
    /// Most blocks read with one `eth_getLogs`; the indexer asks for less when the node refuses.
    #[serde(default = "IndexerConfig::default_batch_size")]
    pub batch_size: u64,
    /// Blocks on top of a report's block (its own included) before it counts as confirmed.
    #[serde(default = "IndexerConfig::default_confirmations")]
    pub confirmations: u64,
    /// Wait between polls once the indexer has caught up with the head, in milliseconds.
    #[serde(default = "IndexerConfig::default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// How many recent blocks keep their hashes for reorg detection; the deepest reorg handled.
    #[serde(default = "IndexerConfig::default_reorg_window")]
    pub reorg_window: u64,
}

impl IndexerConfig {
    fn default_batch_size() -> u64 {
        2_000
    }

    fn default_confirmations() -> u64 {
        12
    }

    fn default_poll_interval_ms() -> u64 {
        2_000
    }

    fn default_reorg_window() -> u64 {
        128
    }

    /// The poll interval as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

/// Why the configuration could not be read. Its message never quotes the file: a TOML syntax
/// error names the line and column and why, but the quoted line may hold a secret
/// (`admin_token = "…`), so it is left out.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", without_quoted_source(&.0.to_string()))]
pub struct ConfigError(#[from] Box<figment::Error>);

/// A parser's message without the source lines it quotes (`3 | admin_token = …` and the `|`
/// lines around it).
fn without_quoted_source(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            let quoted = line.starts_with('|')
                || line.split_once('|').is_some_and(|(number, _)| {
                    let number = number.trim();
                    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
                });
            !quoted
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads the defaults, then the file (when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        Self::extract(figment.merge(Env::prefixed("REVSHARE_").split("__")))
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = with_indexer_defaults(figment)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))?;
        let replicas = &config.replicas;
        if replicas.lease_timeout_ms < 3 * replicas.lease_check_ms.max(1) {
            let message = format!(
                "replicas.lease_timeout_ms ({}) must be at least three lease checks \
                 (3 × replicas.lease_check_ms = {}), so a replica that loses the database stops \
                 its jobs before another takes them",
                replicas.lease_timeout_ms,
                3 * replicas.lease_check_ms.max(1)
            );
            return Err(ConfigError(Box::new(figment::Error::from(message))));
        }
        Ok(config)
    }
}

/// With an `[indexer]` section, follows by default the node the relayer sends to and the contract
/// the oracle signs for, so that turning the indexer on takes one line.
fn with_indexer_defaults(figment: Figment) -> Figment {
    if figment.find_value("indexer").is_err() {
        return figment;
    }
    let rpc_url = figment
        .extract_inner::<String>("chain.rpc_url")
        .unwrap_or_else(|_| ChainConfig::default().rpc_url.expose_secret().to_string());
    let contract = figment
        .extract_inner::<alloy_primitives::Address>("oracle.contract")
        .unwrap_or(OracleConfig::default().contract);
    figment
        .join(Serialized::default("indexer.rpc_url", rpc_url))
        .join(Serialized::default("indexer.contract", contract))
}

/// Settings of the Discourse API client.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscourseApiConfig {
    /// Longest wait for one HTTP exchange (connect, send, read the whole answer), in ms.
    pub timeout_ms: u64,
    /// Tries of one call that meets server errors or lost connections (429s are not counted).
    pub attempts: u32,
    /// First backoff between tries, in ms; it doubles each time.
    pub backoff_base_ms: u64,
    /// Longest backoff between tries, in ms.
    pub backoff_max_ms: u64,
    /// Longest rate-limit wait a call sits through; a longer one (Discourse's daily limits)
    /// fails the call as unavailable, with the wait, for the caller to schedule.
    pub max_rate_limit_wait_secs: u64,
    /// Most rate-limit waits one call sits through before it gives up.
    pub max_rate_limit_waits: u32,
}

impl Default for DiscourseApiConfig {
    fn default() -> Self {
        DiscourseApiConfig {
            timeout_ms: 10_000,
            attempts: 4,
            backoff_base_ms: 250,
            backoff_max_ms: 8_000,
            max_rate_limit_wait_secs: 120,
            max_rate_limit_waits: 20,
        }
    }
}

impl DiscourseApiConfig {
    /// The per-exchange timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// The wait before try `retry` (1 for the first retry): the doubled base, capped, of which
    /// the upper half is random so that many callers do not retry in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .backoff_base_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(20));
        let capped = doubled.min(self.backoff_max_ms);
        upper_half_jitter(capped)
    }
}

/// A wait of `capped` ms whose upper half is random, so that many callers backing off together
/// do not all try again at once.
fn upper_half_jitter(capped: u64) -> Duration {
    let half = capped / 2;
    let jitter = if half == 0 {
        0
    } else {
        rand::random_range(0..=half)
    };
    Duration::from_millis(half + jitter)
}

/// Settings of the actions worker.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Whether this process attempts stored actions.
    pub worker: bool,
    /// Wait after the first failed attempt, in ms; it doubles with each further one.
    pub retry_base_ms: u64,
    /// Longest wait between attempts, in ms.
    pub retry_max_ms: u64,
    /// How long an attempt holds its action before another worker may take it, in seconds.
    pub lease_secs: u64,
    /// How often the worker looks for due actions when nothing wakes it, in ms.
    pub poll_interval_ms: u64,
    /// Most actions attempted at once.
    pub batch_size: u32,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            worker: true,
            retry_base_ms: 2_000,
            retry_max_ms: 3_600_000,
            lease_secs: 300,
            poll_interval_ms: 5_000,
            batch_size: 32,
        }
    }
}

impl ActionsConfig {
    /// The wait after failed attempt `attempts` (from 1): doubled, capped, the upper half random.
    pub fn retry_delay(&self, attempts: i64) -> Duration {
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let capped = self
            .retry_base_ms
            .saturating_mul(1u64 << shift)
            .min(self.retry_max_ms);
        upper_half_jitter(capped)
    }
}

/// How the policy scheduler runs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Whether this process runs the scheduler. With `false`, wallet changes wait, stored, for a
    /// process that does.
    pub worker: bool,
    /// How often open proposals are evaluated on the clock (a vote's time-based close, and new
    /// readings of the voting worker), in milliseconds.
    pub tick_interval_ms: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            worker: true,
            tick_interval_ms: 5_000,
        }
    }
}

/// Where one signing key comes from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySource {
    /// A file holding the private key as 64 hex digits (an optional `0x`, surrounding whitespace
    /// ignored), or an encrypted JSON keystore when `password_file` is set.
    pub path: PathBuf,
    /// The keystore's password, in a file of its own (its trailing newline is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Create a new random key file at `path` when none is there: for local runs only.
    #[serde(default)]
    pub generate: bool,
}

#[cfg(test)]
// figment::Jail fixes the closures' error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_with_no_file() {
        figment::Jail::expect_with(|_| {
            let config = Config::load(None).unwrap();
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.database_url, "sqlite://data/revshare.db");
            assert!(config.admin_token.is_none());
            Ok(())
        });
    }

    #[test]
    fn a_syntax_error_names_its_place_but_never_quotes_the_line() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "revshare.toml",
                "listen = \"127.0.0.1:9000\"\nadmin_token = \"hunter2-unterminated\n",
            )?;
            let message = Config::load(Some(Path::new("revshare.toml")))
                .unwrap_err()
                .to_string();
            assert!(message.contains("line 2"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "revshare.toml",
                "listen = \"0.0.0.0:9000\"\n[monetization]\nanswer = \"redirect\"\n",
            )?;
            jail.set_env("REVSHARE_LISTEN", "127.0.0.1:9100");
            jail.set_env("REVSHARE_ADMIN_TOKEN", "token-from-env");
            let config = Config::load(Some(Path::new("revshare.toml"))).unwrap();
            assert_eq!(config.listen.to_string(), "127.0.0.1:9100");
            assert_eq!(config.monetization.answer, MonetizationAnswer::Redirect);
            assert_eq!(
                config.admin_token.unwrap().expose_secret(),
                "token-from-env"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listn = \"127.0.0.1:1\"\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(err.to_string().contains("listn"), "{err}");
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn a_role_and_lease_settings_are_read_and_a_lease_shorter_than_three_checks_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "replica.toml",
                "role = \"public\"\n[replicas]\nid = \"edge-1\"\nlease_check_ms = 500\n",
            )?;
            let config = Config::load(Some(Path::new("replica.toml"))).unwrap();
            assert_eq!(config.role, Role::Public);
            assert!(!config.role.runs_jobs() && config.role.serves_public());
            assert_eq!(config.replicas.replica_id(), "edge-1");
            assert_eq!(config.replicas.lease_check(), Duration::from_millis(500));
            jail.set_env("REVSHARE_REPLICAS__LEASE_TIMEOUT_MS", "1000");
            let err = Config::load(Some(Path::new("replica.toml"))).unwrap_err();
            assert!(
                err.to_string().contains("at least three lease checks"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_indexer_is_off_by_default_and_its_rpc_url_stays_secret() {
        figment::Jail::expect_with(|jail| {
            assert!(Config::load(None).unwrap().indexer.is_none());
            jail.set_env(
                "REVSHARE_INDEXER__RPC_URL",
                "https://node.example/v3/key-123",
            );
            jail.set_env(
                "REVSHARE_INDEXER__CONTRACT",
                "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            );
            jail.set_env("REVSHARE_INDEXER__DEPLOYMENT_BLOCK", "7");
            let config = Config::load(None).unwrap();
            let indexer = config.indexer.as_ref().unwrap();
            assert_eq!(indexer.deployment_block, 7);
            assert_eq!((indexer.batch_size, indexer.confirmations), (2_000, 12));
            assert_eq!(
                indexer.rpc_url.expose_secret(),
                "https://node.example/v3/key-123"
            );
            assert!(!format!("{config:?}").contains("key-123"));
            assert!(!toml::to_string(&config).unwrap().contains("key-123"));
            Ok(())
        });
    }

    #[test]
    fn an_indexer_follows_the_relayers_node_and_the_oracles_contract_unless_told_otherwise() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "indexer.toml",
                "[chain]\nrpc_url = \"https://node.example/v3/key-456\"\n\
                 [oracle]\ncontract = \"0x00000000000000000000000000000000000000aa\"\n\
                 [indexer]\n",
            )?;
            let config = Config::load(Some(Path::new("indexer.toml"))).unwrap();
            let indexer = config
                .indexer
                .as_ref()
                .expect("an [indexer] section turns it on");
            assert_eq!(
                indexer.rpc_url.expose_secret(),
                "https://node.example/v3/key-456"
            );
            assert_eq!(indexer.contract, config.oracle.contract);
            assert_eq!(indexer.deployment_block, 0);

            jail.set_env("REVSHARE_INDEXER__RPC_URL", "http://127.0.0.1:9545");
            jail.set_env(
                "REVSHARE_INDEXER__CONTRACT",
                "0x00000000000000000000000000000000000000bb",
            );
            let config = Config::load(Some(Path::new("indexer.toml"))).unwrap();
            let indexer = config.indexer.as_ref().unwrap();
            assert_eq!(indexer.rpc_url.expose_secret(), "http://127.0.0.1:9545");
            assert_ne!(indexer.contract, config.oracle.contract);

            jail.clear_env();
            jail.set_env("REVSHARE_INDEXER__CONFIRMATIONS", "1");
            let indexer = Config::load(None).unwrap().indexer.unwrap();
            assert_eq!(indexer.rpc_url.expose_secret(), "http://127.0.0.1:8545");
            assert_eq!(indexer.contract, OracleConfig::default().contract);
            Ok(())
        });
    }

    #[test]
    fn the_admin_token_never_shows_in_debug_or_serialised_output() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("REVSHARE_ADMIN_TOKEN", "very-secret-token");
            let config = Config::load(None).unwrap();
            assert!(!format!("{config:?}").contains("very-secret-token"));
            assert!(
                !toml::to_string(&config)
                    .unwrap()
                    .contains("very-secret-token")
            );
            Ok(())
        });
    }
}
