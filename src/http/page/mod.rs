//! The public transparency page of a community, `GET /c/{community}`: each pool's current entries
//! with their shares (a bar chart drawn on the server, and a table carrying the same numbers), the
//! split rules, and the full history of every change with its time and cause.
//!
//! Rendered with askama templates (`templates/`), which escape every value. The page has inline
//! CSS and no script, and its Content-Security-Policy forbids loading anything from anywhere, so
//! a visit makes no request to another origin.
//!
//! It shows only what the service records: each pool change with its signed report (seq, digest,
//! policy version, relay state, block and transaction, and whether its signatures verify against
//! the signer set in force), and each decision with its reason, its evidence and its vote's link.
//! Errors are HTML pages, with the status of the problem they stand for, when the client asks for
//! `text/html` (a browser does); any other client gets the problem details themselves.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::PathNames;
use super::live;
use super::problem::{Problem, ProblemKind};
use crate::domain::{
    BASIS_POINTS, Cause, PoolName, PoolVersion, SplitRules, SplitVersion, Timestamp,
};
use crate::select::{Share, pool_distribution};
use crate::store::{DecisionLink, RelayStatus, StoredReport, StoredSigned, VersionSize};

/// Nothing but the inline style may load: no script, font, image or connection anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Most reports read for one page.
const REPORTS_SHOWN: u32 = 10_000;

/// Most versions of each pool the history shows, newest first; the JSON history has them all.
const HISTORY_VERSIONS_SHOWN: u32 = 200;

/// Most entries of the current pool its table lists; the JSON API pages through the rest.
const TABLE_ENTRIES: usize = 500;

/// Largest version whose entries the history lists; a larger one is summed up with a link.
const HISTORY_ENTRIES: usize = 50;

/// Bars in a pool's chart; the table below it lists every entry.
const CHART_BARS: usize = 12;

/// Longest label drawn in a chart (SVG text does not wrap); the table has it in full.
const CHART_LABEL_CHARS: usize = 48;

/// Height of one bar's row in the chart, in CSS pixels: a line of text, then the bar.
const CHART_ROW_PX: u32 = 44;

/// The page of a community.
pub async fn community_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    names: Result<PathNames, Problem>,
) -> Response {
    let rendered = match names {
        Ok(names) => render(&state, &names).await,
        Err(problem) => Err(PageFailure::new(
            problem,
            "That is not a valid community name.".to_string(),
        )),
    };
    match rendered {
        Ok(html) => html_response(StatusCode::OK, html),
        Err(failure) if asks_for_html(&headers) => failure.page().into_response(),
        Err(failure) => failure.problem.into_response(),
    }
}

/// Whether the client's `Accept` names `text/html` (browsers do; API clients and `curl` do not).
fn asks_for_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            media.eq_ignore_ascii_case("text/html") && !refused
        })
}

/// Why the page could not be drawn: the problem, and what the error page tells a person.
struct PageFailure {
    problem: Problem,
    message: String,
}

impl PageFailure {
    fn new(problem: Problem, message: String) -> Self {
        PageFailure { problem, message }
    }

    /// A failure of the store, explained as its problem kind explains itself.
    fn stored(problem: Problem) -> Self {
        let (_, _, _, explanation) = problem.kind().describe();
        PageFailure::new(problem, explanation.to_string())
    }

    fn page(self) -> ErrorPage {
        ErrorPage::new(&self.problem, self.message)
    }
}

async fn render(state: &AppState, names: &PathNames) -> Result<String, PageFailure> {
    let slug = names.community();
    let live = live(state, slug).map_err(|p| {
        PageFailure::new(
            p,
            format!("No community named “{slug}” is registered on this service."),
        )
    })?;
    let snapshot = &live.snapshot;
    let stored = PageFailure::stored;

    let mut reports = report_cells(state, live.id).await.map_err(stored)?;
    let mut pools = Vec::new();
    let mut history = Vec::new();
    let slug_text = live.community.slug.to_string();
    for name in snapshot.pool_names() {
        let current = snapshot.pool(name).expect("named pools exist");
        pools.push(PoolSection::new(&slug_text, name, current));
        let sizes = state
            .store
            .pool_version_sizes(live.id, name, None, HISTORY_VERSIONS_SHOWN, true)
            .await
            .map_err(|e| stored(e.into()))?;
        for size in sizes {
            let report = reports.remove(&(name.to_string(), size.version));
            let details = if size.entries <= HISTORY_ENTRIES {
                let version = state
                    .store
                    .pool_version(live.id, name, size.version)
                    .await
                    .map_err(|e| stored(e.into()))?
                    .ok_or_else(|| {
                        stored(Problem::new(
                            ProblemKind::Internal,
                            format!("pool `{name}` version {} vanished", size.version),
                        ))
                    })?;
                Details::Entries(entry_rows(&version).0)
            } else {
                Details::Summary {
                    entries: size.entries,
                    link: format!(
                        "/v1/communities/{slug_text}/pools/{name}/versions/{}",
                        size.version
                    ),
                }
            };
            history.push(HistoryRow::pool(name, &size, details, report));
        }
    }
    let split_versions = state
        .store
        .split_history(live.id)
        .await
        .map_err(|e| stored(e.into()))?;
    history.extend(split_versions.iter().map(HistoryRow::splits));
    let decisions: std::collections::HashMap<String, DecisionLink> = state
        .store
        .decision_links(live.id)
        .await
        .map_err(|e| stored(e.into()))?
        .into_iter()
        .map(|link| (link.hash.clone(), link))
        .collect();
    for row in &mut history {
        row.cause.join(&decisions);
    }
    // Newest first; one moment's changes keep a fixed order.
    history.sort_by(|a, b| {
        b.at.millis
            .cmp(&a.at.millis)
            .then_with(|| a.order_key.cmp(&b.order_key))
    });

    let (rules, splits_version) = snapshot.splits();
    let current_split = splits_version.and_then(|v| split_versions.iter().find(|s| s.version == v));
    let page = CommunityPage {
        name: live.community.name.clone(),
        slug: live.community.slug.to_string(),
        created: Moment::new(live.community.created_at),
        pools,
        splits: SplitSummary::new(rules, current_split),
        history,
        history_versions_shown: HISTORY_VERSIONS_SHOWN,
    };
    page.render().map_err(|e| {
        tracing::error!(error = %e, "the community page did not render");
        PageFailure::new(
            Problem::new(
                ProblemKind::Internal,
                "the page could not be drawn; it was logged",
            ),
            "The page could not be drawn; it was logged.".into(),
        )
    })
}

/// The community's reports by (pool, version), each with its signatures checked against the
/// signer set in force for it (when this node runs the oracle and knows that set).
async fn report_cells(
    state: &AppState,
    community_id: i64,
) -> Result<std::collections::HashMap<(String, u64), ReportCell>, Problem> {
    let mut cells = std::collections::HashMap::new();
    let mut superseded: std::collections::HashMap<(String, u64), Vec<String>> =
        std::collections::HashMap::new();
    let timeline = match &state.oracle {
        Some(oracle) => Some(state.store.signer_timeline(oracle).await?),
        None => None,
    };
    for report in state
        .store
        .community_reports(community_id, REPORTS_SHOWN)
        .await?
    {
        let (Some(pool), Some(version), StoredSigned::Pool(signed)) =
            (&report.pool, report.pool_version, &report.signed)
        else {
            continue;
        };
        if report.status == RelayStatus::Superseded {
            let digests = superseded.entry((pool.clone(), version)).or_default();
            digests.insert(0, signed.digest().to_string());
            continue;
        }
        let verified = timeline
            .as_ref()
            .map(|timeline| crate::report::verify(signed, timeline.before(report.place)).is_ok());
        cells.insert(
            (pool.clone(), version),
            ReportCell::new(&report, signed, verified),
        );
    }
    for (key, digests) in superseded {
        if let Some(cell) = cells.get_mut(&key) {
            cell.reissued_from = digests
                .into_iter()
                .map(|digest| (abbreviate_hash(&digest), digest))
                .collect();
        }
    }
    Ok(cells)
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The whole page.
#[derive(Template)]
#[template(path = "community.html")]
struct CommunityPage {
    name: String,
    slug: String,
    created: Moment,
    pools: Vec<PoolSection>,
    splits: SplitSummary,
    history: Vec<HistoryRow>,
    history_versions_shown: u32,
}

/// A time, for a `<time>` element.
struct Moment {
    millis: i64,
    /// RFC 3339, for `datetime`.
    machine: String,
    /// `2026-01-31 14:05:09 UTC`, for people.
    text: String,
}

impl Moment {
    fn new(at: Timestamp) -> Self {
        let text = jiff::Timestamp::from_millisecond(at.millis())
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|_| at.to_rfc3339());
        Moment {
            millis: at.millis(),
            machine: at.to_rfc3339(),
            text,
        }
    }
}

/// One pool's current state.
struct PoolSection {
    name: String,
    version: u64,
    recorded: Moment,
    total_weight: u64,
    /// How many entries the pool holds.
    entry_count: usize,
    /// The first entries, at most `TABLE_ENTRIES`.
    entries: Vec<EntryRow>,
    /// The JSON API's page of the entries after the table's, when there are more.
    more: Option<String>,
    chart: Chart,
}

impl PoolSection {
    fn new(slug: &str, name: &PoolName, current: &PoolVersion) -> Self {
        let (mut entries, shares) = entry_rows(current);
        let chart = Chart::new(name, &entries, &shares);
        let entry_count = entries.len();
        entries.truncate(TABLE_ENTRIES);
        PoolSection {
            name: name.to_string(),
            version: current.version,
            recorded: Moment::new(current.recorded_at),
            total_weight: current.pool.total_weight(),
            entry_count,
            more: (entry_count > TABLE_ENTRIES).then(|| {
                format!(
                    "/v1/communities/{slug}/pools/{name}/versions/{}?offset={TABLE_ENTRIES}",
                    current.version
                )
            }),
            chart,
            entries,
        }
    }
}

/// One entry of a pool version, with its share.
struct EntryRow {
    /// The label, or the payment pointer when there is none.
    name: String,
    /// Whether `name` is a label (otherwise it is the payment pointer).
    labelled: bool,
    payment_pointer: String,
    member: Option<String>,
    weight: u64,
    /// `33.3333`, trailing zeros trimmed (`50`).
    percent: String,
    /// `1/3`.
    fraction: String,
}

fn entry_rows(version: &PoolVersion) -> (Vec<EntryRow>, Vec<Share>) {
    let shares = pool_distribution(&version.pool);
    let rows = version
        .pool
        .entries()
        .iter()
        .zip(&shares)
        .map(|(entry, share)| {
            let payment_pointer = entry.wallet.payment_pointer();
            EntryRow {
                name: entry
                    .label
                    .as_ref()
                    .map_or_else(|| payment_pointer.clone(), |l| l.as_str().to_string()),
                labelled: entry.label.is_some(),
                payment_pointer,
                member: entry.member.as_ref().map(ToString::to_string),
                weight: entry.weight.get(),
                percent: trim_percent(&share.percent()),
                fraction: share.fraction(),
            }
        })
        .collect();
    (rows, shares)
}

/// `50.0000` → `50`, `12.5000` → `12.5`, `33.3333` stays.
fn trim_percent(percent: &str) -> String {
    match percent.split_once('.') {
        Some((whole, decimals)) => {
            let decimals = decimals.trim_end_matches('0');
            if decimals.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{decimals}")
            }
        }
        None => percent.to_string(),
    }
}

/// Basis points as a percentage: 2500 → `25`, 1234 → `12.34`.
fn bps_percent(bps: u32) -> String {
    trim_percent(&format!("{}.{:02}", bps / 100, bps % 100))
}

/// A horizontal bar chart of a pool's largest shares, drawn in SVG on the server. Bars are sized
/// in percent of the chart's width, so it fits any screen while the text keeps its size.
struct Chart {
    /// The accessible name: every drawn share in words.
    title: String,
    height: u32,
    bars: Vec<Bar>,
    /// Entries not drawn (the table lists them).
    hidden: usize,
}

struct Bar {
    text: String,
    /// The bar's width in percent of the chart, e.g. `33.3333`.
    width: String,
    text_y: u32,
    bar_y: u32,
}

impl Chart {
    fn new(pool: &PoolName, entries: &[EntryRow], shares: &[Share]) -> Self {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        // Largest share first; equal shares keep the pool's order. All share one denominator.
        order.sort_by(|&a, &b| shares[b].numerator.cmp(&shares[a].numerator));
        let drawn = &order[..order.len().min(CHART_BARS)];
        let bars: Vec<Bar> = drawn
            .iter()
            .enumerate()
            .map(|(row, &i)| {
                let entry = &entries[i];
                let top = row as u32 * CHART_ROW_PX;
                Bar {
                    text: format!(
                        "{} — {}%",
                        shorten(&entry.name, CHART_LABEL_CHARS),
                        entry.percent
                    ),
                    width: bar_width(&shares[i]),
                    text_y: top + 16,
                    bar_y: top + 22,
                }
            })
            .collect();
        let mut title = format!("Shares of pool {pool}: ");
        if entries.is_empty() {
            title.push_str("no entries.");
        } else {
            let parts: Vec<String> = drawn
                .iter()
                .map(|&i| format!("{} {}%", entries[i].name, entries[i].percent))
                .collect();
            title.push_str(&parts.join(", "));
            let hidden = entries.len() - drawn.len();
            if hidden > 0 {
                title.push_str(&format!(", and {hidden} more entries"));
            }
            title.push('.');
        }
        Chart {
            title,
            height: (bars.len() as u32 * CHART_ROW_PX).max(CHART_ROW_PX / 2),
            hidden: entries.len() - drawn.len(),
            bars,
        }
    }
}

/// A share as a width in percent with four decimals, at least a sliver so a tiny share shows.
fn bar_width(share: &Share) -> String {
    let scaled = (share.numerator * 1_000_000 / share.denominator.max(1)).max(500) as u64;
    format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let kept: String = text.chars().take(max - 1).collect();
        format!("{kept}…")
    }
}

/// The split rules in force.
struct SplitSummary {
    /// `None` when no rules were ever set (the defaults apply).
    version: Option<u64>,
    recorded: Option<Moment>,
    author: String,
    participants: String,
    pool: String,
    default_pool: String,
    routes: Vec<(String, String)>,
}

impl SplitSummary {
    fn new(rules: &SplitRules, current: Option<&SplitVersion>) -> Self {
        SplitSummary {
            version: current.map(|s| s.version),
            recorded: current.map(|s| Moment::new(s.recorded_at)),
            author: bps_percent(rules.author_bps),
            participants: bps_percent(rules.participants_bps),
            pool: bps_percent(
                BASIS_POINTS.saturating_sub(rules.author_bps + rules.participants_bps),
            ),
            default_pool: rules.default_pool.to_string(),
            routes: rules
                .tag_routes
                .iter()
                .map(|r| (r.tag.to_string(), r.pool.to_string()))
                .collect(),
        }
    }
}

/// A pool version's signed report, as the history shows it.
struct ReportCell {
    seq: u64,
    digest: String,
    digest_short: String,
    policy_version: u64,
    status: &'static str,
    block: Option<u64>,
    tx_short: Option<String>,
    /// Why a refused report can never land.
    refusal: Option<String>,
    signatures: usize,
    /// Whether the signatures verify against the signer set in force; `None` when unknown here.
    verified: Option<bool>,
    /// Earlier reports of this version that expired before they landed, oldest first:
    /// (abbreviated, whole digest).
    reissued_from: Vec<(String, String)>,
}

impl ReportCell {
    fn new(
        report: &StoredReport,
        signed: &crate::report::SignedReport<crate::report::PoolReport>,
        verified: Option<bool>,
    ) -> Self {
        let digest = signed.digest().to_string();
        ReportCell {
            seq: signed.report().seq(),
            digest_short: abbreviate_hash(&digest),
            digest,
            policy_version: signed.report().policy_version(),
            status: match report.status {
                RelayStatus::Pending => "pending",
                RelayStatus::Submitted => "submitted",
                RelayStatus::Applied => "on chain",
                RelayStatus::Refused => "refused",
                RelayStatus::Superseded => "superseded",
            },
            block: report.block_number,
            refusal: (report.status == RelayStatus::Refused)
                .then(|| report.last_error.clone().unwrap_or_default()),
            tx_short: report
                .tx_hash
                .map(|hash| abbreviate_hash(&hash.to_string())),
            signatures: signed.signatures().len(),
            verified,
            reissued_from: Vec::new(),
        }
    }
}

/// `0x1234…abcd`: enough to recognise a hash, with the whole of it in the link.
fn abbreviate_hash(hash: &str) -> String {
    match (hash.get(..6), hash.get(hash.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if hash.len() > 12 => format!("{head}…{tail}"),
        _ => hash.to_string(),
    }
}

/// One change in the history, with the report that put it on chain when there is one.
struct HistoryRow {
    at: Moment,
    /// Sorts the changes of one moment: pools by name, then the split rules.
    order_key: (u8, String, u64),
    /// `Pool dev` or `Split rules`.
    subject: String,
    /// The anchor of the pool's section, for pools.
    pool: Option<String>,
    version: u64,
    cause: CauseView,
    details: Details,
    report: Option<ReportCell>,
}

enum Details {
    Entries(Vec<EntryRow>),
    /// A version too large to list here: its size, and its entries in the JSON API.
    Summary {
        entries: usize,
        link: String,
    },
    Rules(SplitSummary),
}

impl HistoryRow {
    fn pool(
        name: &PoolName,
        version: &VersionSize,
        details: Details,
        report: Option<ReportCell>,
    ) -> Self {
        HistoryRow {
            at: Moment::new(version.recorded_at),
            order_key: (0, name.to_string(), u64::MAX - version.version),
            subject: format!("Pool {name}"),
            pool: Some(name.to_string()),
            version: version.version,
            cause: CauseView::new(&version.cause),
            details,
            report,
        }
    }

    fn splits(split: &SplitVersion) -> Self {
        HistoryRow {
            at: Moment::new(split.recorded_at),
            order_key: (1, String::new(), u64::MAX - split.version),
            subject: "Split rules".to_string(),
            pool: None,
            version: split.version,
            cause: CauseView::new(&split.cause),
            details: Details::Rules(SplitSummary::new(&split.rules, Some(split))),
            report: None,
        }
    }
}

/// Why a version exists, as the page says it.
struct CauseView {
    /// `Admin bootstrap` or `Decision`.
    kind: &'static str,
    /// The admin's note.
    note: Option<String>,
    /// The decision's id.
    decision: Option<String>,
    /// Why the decision went so.
    reason: Option<String>,
    /// The vote the decision closed, on its platform.
    vote_url: Option<String>,
}

impl CauseView {
    fn new(cause: &Cause) -> Self {
        match cause {
            Cause::AdminBootstrap { note } => CauseView {
                kind: "Admin bootstrap",
                note: note.clone(),
                decision: None,
                reason: None,
                vote_url: None,
            },
            Cause::Decision { decision } => CauseView {
                kind: "Decision",
                note: None,
                decision: Some(decision.clone()),
                reason: None,
                vote_url: None,
            },
        }
    }

    /// Adds the decision's reason and vote link, when this node recorded the decision.
    fn join(&mut self, decisions: &std::collections::HashMap<String, DecisionLink>) {
        let Some(link) = self.decision.as_ref().and_then(|hash| decisions.get(hash)) else {
            return;
        };
        self.reason = Some(link.reason.clone());
        self.vote_url = link.vote_url.clone();
    }
}

/// An error, as an HTML page with the status of the problem it stands for.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
}

impl ErrorPage {
    fn new(problem: &Problem, message: String) -> Self {
        let (_, status, title, _) = problem.kind().describe();
        ErrorPage {
            status: status.as_u16(),
            title,
            message,
        }
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let html = self
            .render()
            .unwrap_or_else(|_| format!("{} {}", self.status, self.title));
        let mut response = html_response(status, html);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests;
