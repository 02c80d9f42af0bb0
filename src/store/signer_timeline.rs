//! Every signer set of the oracle's domain in outbox order, read with one query, so that a page
//! listing thousands of reports checks each against the set in force for it without a query per
//! report.

use super::reports::{PLACE, decode_signer_set};
use super::{Store, StoreError};
use crate::oracle::Oracle;
use crate::report::SignerSet;

/// The oracle's first signer set and each rotation after it, by outbox place.
#[derive(Clone, Debug)]
pub struct SignerTimeline {
    genesis: SignerSet,
    /// (place, set), ascending by place.
    rotations: Vec<(i64, SignerSet)>,
}

impl SignerTimeline {
    /// The set in force for a report at `place`: the last rotation placed before it, else the
    /// oracle's first set.
    pub fn before(&self, place: i64) -> &SignerSet {
        let after = self.rotations.partition_point(|(at, _)| *at < place);
        after
            .checked_sub(1)
            .map_or(&self.genesis, |last| &self.rotations[last].1)
    }
}

impl Store {
    /// Every rotation (neither superseded nor refused) of `oracle`'s domain in outbox order.
    pub async fn signer_timeline(&self, oracle: &Oracle) -> Result<SignerTimeline, StoreError> {
        let domain = oracle.domain();
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT {PLACE} AS place, r.report FROM oracle_reports r WHERE r.kind = 'signer' \
               AND r.chain_id = $1 AND r.contract = $2 AND r.status NOT IN ('superseded', 'refused') \
             ORDER BY place"
        ))
        .bind(domain.chain_id() as i64)
        .bind(domain.verifying_contract().to_string())
        .fetch_all(&self.pool)
        .await?;
        let rotations = rows
            .iter()
            .map(|(place, report)| Ok((*place, decode_signer_set(report)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(SignerTimeline {
            genesis: oracle.genesis().clone(),
            rotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;

    use super::*;

    fn set(byte: u8) -> SignerSet {
        SignerSet::new(vec![Address::repeat_byte(byte)], 1).unwrap()
    }

    #[test]
    fn a_report_is_checked_against_the_last_rotation_placed_before_it() {
        let timeline = SignerTimeline {
            genesis: set(1),
            rotations: vec![(5, set(2)), (9, set(3))],
        };
        assert_eq!(timeline.before(1), &set(1));
        assert_eq!(
            timeline.before(5),
            &set(1),
            "a rotation is not in force for itself"
        );
        assert_eq!(timeline.before(6), &set(2));
        assert_eq!(timeline.before(9), &set(2));
        assert_eq!(timeline.before(10), &set(3));
    }
}
