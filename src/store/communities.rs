//! Communities: created by an admin, never deleted.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{Community, CommunitySlug, Timestamp};

use super::{Store, StoreError, corrupt, is_unique_violation};

/// A community with its database id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommunityRow {
    /// The database's key, used by the other tables.
    pub id: i64,
    /// The community.
    pub community: Community,
}

fn community_from_row(row: &AnyRow) -> Result<CommunityRow, StoreError> {
    let slug: String = row.try_get("slug")?;
    Ok(CommunityRow {
        id: row.try_get("id")?,
        community: Community {
            slug: CommunitySlug::parse(&slug).map_err(|e| corrupt("community slug", e))?,
            name: row.try_get("name")?,
            created_at: Timestamp(row.try_get("created_at_ms")?),
        },
    })
}

impl Store {
    /// Records a new community; refuses a slug that is taken.
    pub async fn create_community(
        &self,
        slug: &CommunitySlug,
        name: &str,
        at: Timestamp,
    ) -> Result<CommunityRow, StoreError> {
        let row = sqlx::query(
            "INSERT INTO communities (slug, name, created_at_ms) VALUES ($1, $2, $3) \
             RETURNING id, slug, name, created_at_ms",
        )
        .bind(slug.as_str())
        .bind(name)
        .bind(at.millis())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::CommunityExists(slug.clone())
            } else {
                e.into()
            }
        })?;
        community_from_row(&row)
    }

    /// The community with this slug.
    pub async fn community(&self, slug: &CommunitySlug) -> Result<CommunityRow, StoreError> {
        let row =
            sqlx::query("SELECT id, slug, name, created_at_ms FROM communities WHERE slug = $1")
                .bind(slug.as_str())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::UnknownCommunity(slug.clone()))?;
        community_from_row(&row)
    }

    /// The community with this database id, if there is one.
    pub async fn community_by_id(&self, id: i64) -> Result<Option<CommunityRow>, StoreError> {
        sqlx::query("SELECT id, slug, name, created_at_ms FROM communities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(community_from_row)
            .transpose()
    }

    /// Every community, oldest first.
    pub async fn communities(&self) -> Result<Vec<CommunityRow>, StoreError> {
        sqlx::query("SELECT id, slug, name, created_at_ms FROM communities ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(community_from_row)
            .collect()
    }
}
