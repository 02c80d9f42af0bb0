//! One pick from pools of 10, 1,000 and 100,000 entries, and one topic pick with a split: the time
//! per pick should stay flat as the pool grows (alias table, O(1)).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use revshare_oracle::domain::{
    Cause, CommunityConfig, Entry, MemberId, Pool, PoolName, PoolVersion, SplitRules, SplitVersion,
    Timestamp, TopicFacts, TopicId, WalletAddress, Weight,
};
use revshare_oracle::select::{CommunitySnapshot, PickContext};

fn snapshot(entries: usize) -> CommunitySnapshot {
    let pool = Pool::new(
        (0..entries)
            .map(|i| Entry {
                wallet: WalletAddress::parse(&format!("$wallet{i}.example/pay")).unwrap(),
                weight: Weight::new((i % 97 + 1) as u64).unwrap(),
                label: None,
                member: None,
            })
            .collect(),
    )
    .unwrap();
    let cause = Cause::AdminBootstrap { note: None };
    let author = MemberId::parse("author").unwrap();
    CommunitySnapshot::build(CommunityConfig {
        pools: vec![(
            PoolName::parse("default").unwrap(),
            PoolVersion {
                version: 1,
                pool,
                cause: cause.clone(),
                recorded_at: Timestamp(0),
            },
        )],
        splits: Some(SplitVersion {
            version: 1,
            rules: SplitRules {
                author_bps: 5000,
                participants_bps: 2000,
                ..SplitRules::default()
            },
            cause,
            recorded_at: Timestamp(0),
        }),
        member_wallets: vec![(
            author.clone(),
            WalletAddress::parse("$author.example").unwrap(),
        )],
        topics: vec![(
            TopicId::parse("1").unwrap(),
            TopicFacts {
                author,
                participants: vec![],
                tags: vec![],
            },
        )],
    })
}

fn picks(c: &mut Criterion) {
    let mut group = c.benchmark_group("pick");
    let pool = PoolName::parse("default").unwrap();
    let topic = TopicId::parse("1").unwrap();
    for size in [10usize, 1_000, 100_000] {
        let snapshot = snapshot(size);
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        group.bench_with_input(BenchmarkId::new("pool", size), &snapshot, |b, s| {
            b.iter(|| {
                s.pick(PickContext::Pool(&pool), &mut rng)
                    .unwrap()
                    .wallet
                    .as_str()
                    .len()
            })
        });
        group.bench_with_input(BenchmarkId::new("topic_split", size), &snapshot, |b, s| {
            b.iter(|| {
                s.pick(PickContext::Topic(&topic), &mut rng)
                    .unwrap()
                    .wallet
                    .as_str()
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, picks);
criterion_main!(benches);
