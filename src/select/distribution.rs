//! The exact probability of each wallet for a pick context, as integer weights over one common
//! denominator. Used to show shares as exact percentages and as the expected distribution that
//! the statistical tests hold picks to.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::{Label, MemberId, Pool, WalletAddress};

use super::plan::TopicPlan;

/// One wallet's exact share: `numerator / denominator`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Share {
    /// The wallet.
    pub wallet: WalletAddress,
    /// Its label, from the pool entry, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// The member it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberId>,
    /// Its integer weight in the combined distribution.
    #[serde(serialize_with = "as_string")]
    pub numerator: u128,
    /// The sum of all weights.
    #[serde(serialize_with = "as_string")]
    pub denominator: u128,
}

fn as_string<S: serde::Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl Share {
    /// The share as a percentage with four decimals, rounded half up (e.g. `33.3333`).
    pub fn percent(&self) -> String {
        const SCALE: u128 = 1_000_000; // 100 × 10^4
        let scaled = (self.numerator * SCALE + self.denominator / 2) / self.denominator;
        format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
    }

    /// The exact fraction, reduced, as `n/d`.
    pub fn fraction(&self) -> String {
        let g = gcd(self.numerator, self.denominator);
        format!("{}/{}", self.numerator / g, self.denominator / g)
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Accumulates weights per wallet in first-seen order, then reduces them.
#[derive(Default)]
struct Combined {
    index: HashMap<WalletAddress, usize>,
    shares: Vec<Share>,
}

impl Combined {
    fn add(
        &mut self,
        wallet: &WalletAddress,
        label: Option<&Label>,
        member: Option<&MemberId>,
        weight: u128,
    ) {
        if weight == 0 {
            return;
        }
        match self.index.get(wallet) {
            Some(&i) => self.shares[i].numerator += weight,
            None => {
                self.index.insert(wallet.clone(), self.shares.len());
                self.shares.push(Share {
                    wallet: wallet.clone(),
                    label: label.cloned(),
                    member: member.cloned(),
                    numerator: weight,
                    denominator: 0,
                });
            }
        }
    }

    fn finish(mut self) -> Vec<Share> {
        let total: u128 = self.shares.iter().map(|s| s.numerator).sum();
        let g = self.shares.iter().fold(total, |g, s| gcd(g, s.numerator));
        for share in &mut self.shares {
            share.numerator /= g;
            share.denominator = total / g;
        }
        self.shares
    }
}

/// A plain pool's distribution: each entry's weight over the total.
pub fn pool_distribution(pool: &Pool) -> Vec<Share> {
    let mut combined = Combined::default();
    for entry in pool.entries() {
        combined.add(
            &entry.wallet,
            entry.label.as_ref(),
            entry.member.as_ref(),
            u128::from(entry.weight.get()),
        );
    }
    combined.finish()
}

/// A topic's combined distribution: with component weights `a`, `p`, `q`, `k` participants and pool
/// total `W`, the author gets `a·k·W`, each participant `p·W`, and pool entry `i` gets `q·k·w_i`,
/// all over `(a+p+q)·k·W`; one wallet in several components adds up.
pub fn topic_distribution(plan: &TopicPlan, pool: Option<&Pool>) -> Vec<Share> {
    let pool = pool.filter(|p| !p.is_empty());
    let [a, p, q] = plan.component_weights(pool.is_some()).map(u128::from);
    let k = plan.participants.len().max(1) as u128;
    let total_weight = pool.map_or(1, |p| u128::from(p.total_weight()));
    let mut combined = Combined::default();
    if let Some(author) = &plan.author {
        combined.add(
            &author.wallet,
            None,
            Some(&author.member),
            a * k * total_weight,
        );
    }
    for participant in &plan.participants {
        combined.add(
            &participant.wallet,
            None,
            Some(&participant.member),
            p * total_weight,
        );
    }
    if let Some(pool) = pool {
        for entry in pool.entries() {
            combined.add(
                &entry.wallet,
                entry.label.as_ref(),
                entry.member.as_ref(),
                q * k * u128::from(entry.weight.get()),
            );
        }
    }
    combined.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Entry, PoolName, Weight};
    use crate::select::plan::Recipient;

    fn entry(wallet: &str, weight: u64) -> Entry {
        Entry {
            wallet: WalletAddress::parse(wallet).unwrap(),
            weight: Weight::new(weight).unwrap(),
            label: None,
            member: None,
        }
    }

    #[test]
    fn thirds_show_as_exact_fractions_and_rounded_percentages() {
        let pool = Pool::new(vec![entry("$a.example", 1), entry("$b.example", 2)]).unwrap();
        let shares = pool_distribution(&pool);
        assert_eq!(shares[0].fraction(), "1/3");
        assert_eq!(shares[0].percent(), "33.3333");
        assert_eq!(shares[1].percent(), "66.6667");
    }

    #[test]
    fn an_author_also_in_the_pool_adds_up() {
        let pool = Pool::new(vec![entry("$a.example", 1), entry("$b.example", 1)]).unwrap();
        let author = Recipient {
            member: MemberId::parse("ann").unwrap(),
            wallet: WalletAddress::parse("$a.example").unwrap(),
        };
        let plan = TopicPlan {
            pool: PoolName::parse("default").unwrap(),
            author: Some(author.clone()),
            participants: vec![author],
            author_bps: 5000,
            participants_bps: 0,
        };
        let shares = topic_distribution(&plan, Some(&pool));
        // 50% author + 25% from the pool = 3/4; the other pool wallet keeps 1/4.
        assert_eq!(shares[0].fraction(), "3/4");
        assert_eq!(shares[1].fraction(), "1/4");
    }
}
