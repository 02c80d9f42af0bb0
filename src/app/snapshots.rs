//! The live set of selection snapshots, one per community, swapped atomically when a
//! configuration changes. Readers never lock and never touch the database (invariant 6).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::Mutex;

use crate::domain::{Community, CommunitySlug};
use crate::select::CommunitySnapshot;
use crate::store::{CommunityRow, Store, StoreError};

/// A community as held in memory: its identity and its prepared configuration.
#[derive(Debug)]
pub struct LiveCommunity {
    /// The database id, for writes.
    pub id: i64,
    /// Who it is.
    pub community: Community,
    /// What to pick from.
    pub snapshot: CommunitySnapshot,
    /// The community's change stamp read before this snapshot was built (PostgreSQL; 0 on
    /// SQLite): a newer stamp in the store means the snapshot may be stale.
    pub stamp: i64,
}

type SnapshotMap = HashMap<CommunitySlug, Arc<LiveCommunity>>;

/// All communities' snapshots.
pub struct Snapshots {
    current: ArcSwap<SnapshotMap>,
    /// Serialises rebuilds so two changes cannot swap in an older state last.
    rebuild: Mutex<()>,
}

impl Snapshots {
    /// Builds every community's snapshot from the store.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let stamps: HashMap<i64, i64> = store.community_stamps().await?.into_iter().collect();
        let map = store
            .all_community_configs()
            .await?
            .into_iter()
            .map(|(row, config)| {
                let live = LiveCommunity {
                    id: row.id,
                    community: row.community,
                    snapshot: CommunitySnapshot::build(config),
                    stamp: stamps.get(&row.id).copied().unwrap_or(0),
                };
                (live.community.slug.clone(), Arc::new(live))
            })
            .collect();
        Ok(Snapshots {
            current: ArcSwap::from_pointee(map),
            rebuild: Mutex::new(()),
        })
    }

    /// The community's current snapshot, without waiting on anything.
    pub fn get(&self, slug: &CommunitySlug) -> Option<Arc<LiveCommunity>> {
        self.current.load().get(slug).cloned()
    }

    /// The community with this database id (a scan: for background work, not for picks).
    pub fn by_id(&self, id: i64) -> Option<Arc<LiveCommunity>> {
        self.current.load().values().find(|c| c.id == id).cloned()
    }

    /// Every community held, for background work that visits each.
    pub fn all(&self) -> Vec<Arc<LiveCommunity>> {
        self.current.load().values().cloned().collect()
    }

    /// How many communities are held.
    pub fn len(&self) -> usize {
        self.current.load().len()
    }

    /// Whether no community is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads one community from the store and swaps its snapshot in.
    pub async fn refresh(
        &self,
        store: &Store,
        row: &CommunityRow,
    ) -> Result<Arc<LiveCommunity>, StoreError> {
        let _guard = self.rebuild.lock().await;
        // The stamp first: a change committed while the configuration is read moves the stamp
        // past this one, so the next comparison refreshes again rather than missing it.
        let stamp = store.community_stamp(row.id).await?;
        let config = store.community_config(row.id).await?;
        let live = Arc::new(LiveCommunity {
            id: row.id,
            community: row.community.clone(),
            snapshot: CommunitySnapshot::build(config),
            stamp,
        });
        let mut next: SnapshotMap = (**self.current.load()).clone();
        next.insert(row.community.slug.clone(), Arc::clone(&live));
        self.current.store(Arc::new(next));
        Ok(live)
    }
}
