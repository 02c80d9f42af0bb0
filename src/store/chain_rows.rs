//! How the chain index's rows are written and read: events and headers many rows per `INSERT`,
//! and a stored event back into its [`ContractEvent`]. The queries that decide *which* rows are
//! in `chain.rs`; this file only encodes and decodes them.

use alloy_primitives::{B256, Bytes, U256, hex};
use alloy_sol_types::SolValue;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::chain::{BlockHeader, Confirmation, IndexedEvent, from_i64, parse_b256, to_i64};
use super::{StoreError, corrupt};
use crate::chain::events::{ContractEvent, LogPosition, PoolApplied, ReportEvent, SignersRotated};
use crate::report::{Digest, abi};

/// Rows written per `INSERT`: one statement for many rows saves a round trip per row, and 64 rows
/// of at most 17 columns stay far below both databases' parameter limits.
const ROWS_PER_INSERT: usize = 64;

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// `($1, …, $columns), ($columns+1, …)` for `rows` rows.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let cells: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) async fn insert_headers(
    tx: &mut Transaction<'static, Any>,
    chain_id: i64,
    contract: &str,
    headers: &[BlockHeader],
) -> Result<(), StoreError> {
    for chunk in headers.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO chain_blocks (chain_id, contract, block_number, block_hash, parent_hash) \
             VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for header in chunk {
            query = query
                .bind(chain_id)
                .bind(contract.to_owned())
                .bind(to_i64(header.number)?)
                .bind(header.hash.to_string())
                .bind(header.parent_hash.to_string());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    chain_id: i64,
    contract: &str,
    events: &[ContractEvent],
) -> Result<(), StoreError> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO chain_events (chain_id, contract, block_number, log_index, block_hash, \
               tx_hash, kind, community, pool, seq, digest, epoch, signer_bitmap, report, root, \
               signatures, status) \
             VALUES {}",
            placeholders(chunk.len(), 17)
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = bind_event(query, chain_id, contract, event)?;
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn bind_event<'q>(
    query: AnyQuery<'q>,
    chain_id: i64,
    contract: &str,
    event: &ContractEvent,
) -> Result<AnyQuery<'q>, StoreError> {
    let position = &event.position;
    let (kind, community, pool, epoch, bitmap, report, root, signatures) = match &event.event {
        ReportEvent::Pool(applied) => (
            "pool",
            Some(applied.report.community.to_string()),
            Some(applied.report.pool.to_string()),
            applied.signer_epoch,
            applied.signer_bitmap,
            hex::encode_prefixed(applied.report.abi_encode()),
            Some(applied.root.to_string()),
            &applied.signatures,
        ),
        ReportEvent::Signers(rotated) => (
            "signers",
            None,
            None,
            rotated.epoch,
            rotated.signer_bitmap,
            hex::encode_prefixed(rotated.report.abi_encode()),
            None,
            &rotated.signatures,
        ),
    };
    Ok(query
        .bind(chain_id)
        .bind(contract.to_owned())
        .bind(to_i64(position.block_number)?)
        .bind(to_i64(position.log_index)?)
        .bind(position.block_hash.to_string())
        .bind(position.tx_hash.to_string())
        .bind(kind)
        .bind(community)
        .bind(pool)
        .bind(to_i64(event.event.seq())?)
        .bind(event.event.digest().get().to_string())
        .bind(to_i64(epoch)?)
        .bind(format!("{bitmap:#x}"))
        .bind(report)
        .bind(root)
        .bind(hex::encode_prefixed(signatures))
        .bind(Confirmation::Seen.as_str()))
}

pub(super) fn event_from_row(row: &AnyRow) -> Result<IndexedEvent, StoreError> {
    let position = LogPosition {
        block_number: from_i64(row.try_get("block_number")?)?,
        block_hash: parse_b256(&row.try_get::<String, _>("block_hash")?)?,
        log_index: from_i64(row.try_get("log_index")?)?,
        tx_hash: parse_b256(&row.try_get::<String, _>("tx_hash")?)?,
    };
    let digest = Digest::new(parse_b256(&row.try_get::<String, _>("digest")?)?);
    let epoch = from_i64(row.try_get("epoch")?)?;
    let bitmap_text: String = row.try_get("signer_bitmap")?;
    let signer_bitmap = bitmap_text
        .parse::<U256>()
        .map_err(|e| corrupt("signer bitmap", e))?;
    let report_text: String = row.try_get("report")?;
    let report_bytes = hex::decode(&report_text).map_err(|e| corrupt("indexed report", e))?;
    // Rows indexed from the contract's first version have neither (migration 0012): read as a
    // zero root and no signatures, which nothing in the service relies on.
    let root = match row.try_get::<Option<String>, _>("root")? {
        Some(text) => parse_b256(&text)?,
        None => B256::ZERO,
    };
    let signatures = match row.try_get::<Option<String>, _>("signatures")? {
        Some(text) => {
            Bytes::from(hex::decode(&text).map_err(|e| corrupt("indexed signatures", e))?)
        }
        None => Bytes::new(),
    };
    let kind: String = row.try_get("kind")?;
    let event = match kind.as_str() {
        "pool" => ReportEvent::Pool(PoolApplied {
            digest,
            signer_epoch: epoch,
            signer_bitmap,
            root,
            report: abi::PoolReport::abi_decode(&report_bytes)
                .map_err(|e| corrupt("indexed pool report", e))?,
            signatures,
        }),
        "signers" => ReportEvent::Signers(SignersRotated {
            epoch,
            digest,
            signer_bitmap,
            report: abi::SignerReport::abi_decode(&report_bytes)
                .map_err(|e| corrupt("indexed signer report", e))?,
            signatures,
        }),
        other => return Err(corrupt("indexed event kind", other)),
    };
    let status: String = row.try_get("status")?;
    let confirmation = match status.as_str() {
        "seen" => Confirmation::Seen,
        "confirmed" => Confirmation::Confirmed,
        other => return Err(corrupt("indexed event status", other)),
    };
    Ok(IndexedEvent {
        event: ContractEvent { position, event },
        confirmation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_cell_once() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(1, 1), "($1)");
    }
}
