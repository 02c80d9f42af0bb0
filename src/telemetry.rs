//! Logs (`tracing`, human or JSON) and metrics (Prometheus text format). Metrics live in a
//! registry owned by the app rather than a global, so every test gets its own.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Spans that record a chain node's URL, which may carry credentials in its userinfo or an API
/// key in its path: alloy's HTTP transport opens one per request at debug level. They stay off
/// whatever `RUST_LOG` asks, so no event inside them repeats the URL.
const URL_SPANS: &str = "alloy_transport_http=info";

/// Installs the global log subscriber; `RUST_LOG` overrides the configured filter, except that
/// spans carrying a node's URL stay off.
pub fn init_logs(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&config.filter))
        .add_directive(URL_SPANS.parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second call (tests start several services) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Labels of an HTTP request metric: the route template, never the raw path, to bound cardinality.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// The matched route template, such as `/v1/communities/{community}/pools/{pool}/pick`.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

/// Labels naming an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What happened.
    pub outcome: String,
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub http_requests: Family<RouteLabels, Counter>,
    /// Request latency by route.
    pub http_duration: Family<RouteLabels, Histogram>,
    /// Picks by split component (`pool`, `author`, `participant`).
    pub picks: Family<OutcomeLabels, Counter>,
    /// Wallet-document look-ups by outcome (`cached`, `fetched`, `failed`).
    pub wallet_documents: Family<OutcomeLabels, Counter>,
    /// Communities held in memory.
    pub communities: Gauge,
    /// Snapshot rebuilds after a configuration change.
    pub snapshot_swaps: Counter,
    /// Oracle reports the relayer saw applied on chain.
    pub reports_applied: Counter,
    /// Oracle reports the chain can never accept, refused for good (local verification, the
    /// contract's refusal, or more gas than a transaction may use).
    pub reports_refused: Counter,
    /// Relayer steps that failed and were retried (node unreachable, say).
    pub relay_retries: Counter,
    /// Oracle reports re-signed before they landed: expired, stranded by a rotation, or after a
    /// refused report of their chain.
    pub reports_reissued: Counter,
    /// Pools where the chain diverges from what this oracle signed, at the last reconciliation.
    pub reconciliation_divergences: Gauge,
    /// The chain's head block, as the indexer last saw it.
    pub chain_head: Gauge,
    /// The last block the chain indexer has read.
    pub chain_indexed_block: Gauge,
    /// Report events the chain indexer stored.
    pub chain_indexed_events: Counter,
    /// Reorganisations the chain indexer rolled back.
    pub chain_reorgs: Counter,
    /// Proposals the policy scheduler opened.
    pub policy_proposals_opened: Counter,
    /// Proposals decided, by outcome (`passed`, `failed`).
    pub policy_decisions: Family<OutcomeLabels, Counter>,
    /// Decisions whose actions were all carried out.
    pub policy_decisions_executed: Counter,
    /// Scheduler passes that failed (the database, say) and were retried on the next tick.
    pub policy_passes_failed: Counter,
    /// Job leases this replica holds now.
    pub job_leases_held: Gauge,
    /// Job leases this replica took from another, by job (in `outcome`).
    pub job_lease_takeovers: Family<OutcomeLabels, Counter>,
    /// Job leases this replica lost without stopping (its database connection failed).
    pub job_leases_lost: Counter,
    /// From a change's transaction on any replica to this replica's notice of it, in seconds.
    pub snapshot_notice_lag: Histogram,
    /// Snapshots refreshed by the periodic comparison because their notice never came.
    pub snapshot_fallback_refreshes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("revshare");
        let http_requests = Family::<RouteLabels, Counter>::default();
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        let picks = Family::<OutcomeLabels, Counter>::default();
        let wallet_documents = Family::<OutcomeLabels, Counter>::default();
        let communities = Gauge::default();
        let snapshot_swaps = Counter::default();
        let reports_applied = Counter::default();
        let reports_refused = Counter::default();
        let relay_retries = Counter::default();
        let reports_reissued = Counter::default();
        let reconciliation_divergences = Gauge::default();
        let chain_head = Gauge::default();
        let chain_indexed_block = Gauge::default();
        let chain_indexed_events = Counter::default();
        let chain_reorgs = Counter::default();
        let policy_proposals_opened = Counter::default();
        let policy_decisions = Family::<OutcomeLabels, Counter>::default();
        let policy_decisions_executed = Counter::default();
        let policy_passes_failed = Counter::default();
        let job_leases_held = Gauge::default();
        let job_lease_takeovers = Family::<OutcomeLabels, Counter>::default();
        let job_leases_lost = Counter::default();
        let snapshot_notice_lag = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]);
        let snapshot_fallback_refreshes = Counter::default();
        registry.register(
            "job_leases_held",
            "Background-job leases this replica holds",
            job_leases_held.clone(),
        );
        registry.register(
            "job_lease_takeovers",
            "Job leases taken over from another replica, by job",
            job_lease_takeovers.clone(),
        );
        registry.register(
            "job_leases_lost",
            "Job leases lost when the lease connection failed",
            job_leases_lost.clone(),
        );
        registry.register(
            "snapshot_notice_lag_seconds",
            "From a change's transaction to this replica's notice of it",
            snapshot_notice_lag.clone(),
        );
        registry.register(
            "snapshot_fallback_refreshes",
            "Snapshots refreshed by the periodic comparison, their notice lost",
            snapshot_fallback_refreshes.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_duration.clone(),
        );
        registry.register("picks", "Wallets picked, by split component", picks.clone());
        registry.register(
            "wallet_documents",
            "Wallet-address document look-ups",
            wallet_documents.clone(),
        );
        registry.register(
            "communities",
            "Communities held in memory",
            communities.clone(),
        );
        registry.register(
            "snapshot_swaps",
            "Selection snapshots swapped after a change",
            snapshot_swaps.clone(),
        );
        registry.register(
            "oracle_reports_applied",
            "Oracle reports seen applied on chain",
            reports_applied.clone(),
        );
        registry.register(
            "oracle_reports_refused",
            "Oracle reports the chain can never accept, refused for good and never sent",
            reports_refused.clone(),
        );
        registry.register(
            "relay_retries",
            "Relayer steps retried after a failure",
            relay_retries.clone(),
        );
        registry.register(
            "oracle_reports_reissued",
            "Oracle reports re-signed before they landed (expired, stranded by a rotation, or after a refused report)",
            reports_reissued.clone(),
        );
        registry.register(
            "reconciliation_divergences",
            "Pools where the chain diverges from what this oracle signed",
            reconciliation_divergences.clone(),
        );
        registry.register(
            "chain_head_block",
            "The chain's head block as the indexer last saw it",
            chain_head.clone(),
        );
        registry.register(
            "chain_indexed_block",
            "The last block the chain indexer has read",
            chain_indexed_block.clone(),
        );
        registry.register(
            "chain_indexed_events",
            "Report events the chain indexer stored",
            chain_indexed_events.clone(),
        );
        registry.register(
            "chain_reorgs",
            "Chain reorganisations the indexer rolled back",
            chain_reorgs.clone(),
        );
        registry.register(
            "policy_proposals_opened",
            "Proposals the policy scheduler opened",
            policy_proposals_opened.clone(),
        );
        registry.register(
            "policy_decisions",
            "Proposals decided, by outcome",
            policy_decisions.clone(),
        );
        registry.register(
            "policy_decisions_executed",
            "Decisions whose actions were all carried out",
            policy_decisions_executed.clone(),
        );
        registry.register(
            "policy_passes_failed",
            "Policy scheduler passes that failed and were retried",
            policy_passes_failed.clone(),
        );
        Metrics {
            registry,
            reports_applied,
            reports_refused,
            relay_retries,
            reports_reissued,
            http_requests,
            http_duration,
            picks,
            wallet_documents,
            communities,
            snapshot_swaps,
            reconciliation_divergences,
            chain_head,
            chain_indexed_block,
            chain_indexed_events,
            chain_reorgs,
            policy_proposals_opened,
            policy_decisions,
            policy_decisions_executed,
            policy_passes_failed,
            job_leases_held,
            job_lease_takeovers,
            job_leases_lost,
            snapshot_notice_lag,
            snapshot_fallback_refreshes,
        }
    }
}

impl Metrics {
    /// The metrics in the Prometheus (OpenMetrics) text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts one occurrence of an outcome in a family.
    pub fn count(family: &Family<OutcomeLabels, Counter>, outcome: &str) {
        family
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }
}
