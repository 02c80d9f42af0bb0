//! A loopback stand-in for the service's evidence endpoint: `GET /v1/evidence/{hash}` answers the
//! stored bytes as they are, or 404, so auditor tests can serve honest and forged evidence.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::B256;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

/// A running evidence server.
pub struct EvidenceServer {
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl EvidenceServer {
    /// Serves `documents` (by decision hash) on a free loopback port.
    pub async fn start(documents: HashMap<B256, Vec<u8>>) -> Self {
        let by_text: HashMap<String, Vec<u8>> = documents
            .into_iter()
            .map(|(hash, bytes)| (hash.to_string(), bytes))
            .collect();
        let app = Router::new()
            .route("/v1/evidence/{hash}", get(document))
            .with_state(Arc::new(by_text));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        EvidenceServer { url, server }
    }
}

impl Drop for EvidenceServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn document(
    State(documents): State<Arc<HashMap<String, Vec<u8>>>>,
    Path(hash): Path<String>,
) -> Result<Vec<u8>, StatusCode> {
    documents.get(&hash).cloned().ok_or(StatusCode::NOT_FOUND)
}
