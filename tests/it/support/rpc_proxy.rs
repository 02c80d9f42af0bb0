//! A JSON-RPC proxy on loopback in front of a node, for tests of what a hosted node does to an
//! indexer or an auditor: it refuses `eth_getLogs` ranges wider than a limit with Infura's error
//! (`-32005 query returned more than 10000 results`, HTTP 200), can hide chosen logs from the
//! answers, and can hold `eth_getLogs` requests unanswered (so a test knows its client is in the
//! middle of a read). Everything else is passed through unchanged, single requests and batches
//! alike.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy::primitives::B256;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

/// What the proxy changes.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Refuse `eth_getLogs` over more blocks than this.
    pub max_log_blocks: Option<u64>,
    /// Drop logs emitted by these transactions from `eth_getLogs` answers.
    pub hidden_transactions: HashSet<B256>,
}

struct Shared {
    upstream: String,
    rules: Rules,
    client: reqwest::Client,
    refused: AtomicUsize,
    widest_served: AtomicUsize,
    /// While true, `eth_getLogs` requests wait.
    hold: tokio::sync::watch::Sender<bool>,
    held: AtomicUsize,
}

/// A running proxy.
pub struct RpcProxy {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl RpcProxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: &str, rules: Rules) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            rules,
            client: reqwest::Client::new(),
            refused: AtomicUsize::new(0),
            widest_served: AtomicUsize::new(0),
            hold: tokio::sync::watch::channel(false).0,
            held: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/", post(relay))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        RpcProxy {
            url,
            shared,
            server,
        }
    }

    /// How many `eth_getLogs` requests were refused as too wide.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// The widest `eth_getLogs` range answered, in blocks.
    pub fn widest_served(&self) -> usize {
        self.shared.widest_served.load(Ordering::Relaxed)
    }
}

impl RpcProxy {
    /// From now on, `eth_getLogs` requests wait unanswered until [`RpcProxy::release_logs`].
    pub fn hold_logs(&self) {
        self.shared.hold.send_replace(true);
    }

    /// Answers the held requests, and the next ones at once.
    pub fn release_logs(&self) {
        self.shared.hold.send_replace(false);
    }

    /// How many `eth_getLogs` requests are waiting now.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::Relaxed)
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> axum::Json<Value> {
    let request: Value = serde_json::from_slice(&body).expect("JSON-RPC requests are JSON");
    let answer = match request {
        Value::Array(calls) => {
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                answers.push(one(&shared, call).await);
            }
            Value::Array(answers)
        }
        call => one(&shared, call).await,
    };
    axum::Json(answer)
}

async fn one(shared: &Shared, call: Value) -> Value {
    let is_logs = call["method"] == "eth_getLogs";
    if is_logs && *shared.hold.borrow() {
        let _waiting = Waiting::on(&shared.held);
        let mut released = shared.hold.subscribe();
        let _ = released.wait_for(|held| !held).await;
    }
    if is_logs && let Some(limit) = shared.rules.max_log_blocks {
        let filter = &call["params"][0];
        let (from, to) = (block(&filter["fromBlock"]), block(&filter["toBlock"]));
        if let (Some(from), Some(to)) = (from, to) {
            let blocks = to.saturating_sub(from) + 1;
            if blocks > limit {
                shared.refused.fetch_add(1, Ordering::Relaxed);
                return json!({
                    "jsonrpc": "2.0",
                    "id": call["id"],
                    "error": {"code": -32005, "message": "query returned more than 10000 results"}
                });
            }
            shared
                .widest_served
                .fetch_max(blocks as usize, Ordering::Relaxed);
        }
    }
    let mut answer: Value = shared
        .client
        .post(&shared.upstream)
        .json(&call)
        .send()
        .await
        .expect("the node answers the proxy")
        .json()
        .await
        .expect("the node answers JSON");
    if is_logs
        && !shared.rules.hidden_transactions.is_empty()
        && let Some(logs) = answer["result"].as_array_mut()
    {
        logs.retain(|log| {
            let tx: Option<B256> = log["transactionHash"].as_str().and_then(|h| h.parse().ok());
            !tx.is_some_and(|tx| shared.rules.hidden_transactions.contains(&tx))
        });
    }
    answer
}

/// Counts a held request while it waits, including when its client goes away mid-wait.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn block(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
}
