//! SQL of 5+1 advisor groups (issue 16): groups, their lawyers and enterprises, the
//! enterprises still without an advisor, and enterprise size. See `crate::app::qa::advisors`.

use super::Db;
use crate::qa::EnterpriseSize;
use chrono::{DateTime, Utc};
use sqlx::Row;

/// A stored group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
}

/// A lawyer as groups show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupLawyer {
    pub group_id: i64,
    pub id: i64,
    pub name: String,
    pub firm: String,
    /// How the group's enterprises reach the lawyer (`lawyer_profiles.contact`).
    pub contact: String,
}

/// An enterprise as groups and the organizer's lists show it. `mobile` and `contact_name`
/// are personal data: pages that show them are audited.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupEnterprise {
    /// 0 when the enterprise is in no group.
    pub group_id: i64,
    pub id: i64,
    pub name: String,
    pub industry: String,
    pub size: Option<String>,
    pub contact_name: String,
    pub mobile: String,
}

impl GroupEnterprise {
    pub fn size(&self) -> Option<EnterpriseSize> {
        self.size.as_deref().and_then(EnterpriseSize::parse)
    }
}

/// What the membership rules need to know about a proposed member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    pub id: i64,
    /// `None`: no such account.
    pub role: Option<String>,
    /// Enterprises: name, size and the group it is in.
    pub name: String,
    pub size: Option<String>,
    pub group_id: Option<i64>,
}

const ENTERPRISE_COLUMNS: &str =
    "e.user_id AS id, e.name, e.industry, e.size, e.contact_name, e.mobile";

impl Db {
    /// Every group, oldest first (`lawyer`: only the groups it is in).
    pub async fn advisor_groups(&self, lawyer: Option<i64>) -> Result<Vec<GroupRow>, sqlx::Error> {
        match lawyer {
            None => {
                sqlx::query_as("SELECT id, name, created_at FROM advisor_groups ORDER BY id")
                    .fetch_all(&self.pool)
                    .await
            }
            Some(l) => {
                sqlx::query_as(
                    "SELECT g.id, g.name, g.created_at FROM advisor_groups g
                     JOIN advisor_group_lawyers m ON m.group_id = g.id
                     WHERE m.lawyer_id = $1 ORDER BY g.id",
                )
                .bind(l)
                .fetch_all(&self.pool)
                .await
            }
        }
    }

    pub async fn advisor_group(&self, id: i64) -> Result<Option<GroupRow>, sqlx::Error> {
        sqlx::query_as("SELECT id, name, created_at FROM advisor_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The lawyers of every group (filter by `group_id` in the caller).
    pub async fn advisor_group_lawyers(&self) -> Result<Vec<GroupLawyer>, sqlx::Error> {
        sqlx::query_as(
            "SELECT m.group_id, u.id, u.display_name AS name,
                    COALESCE(p.firm, '') AS firm, COALESCE(p.contact, '') AS contact
             FROM advisor_group_lawyers m JOIN users u ON u.id = m.lawyer_id
             LEFT JOIN lawyer_profiles p ON p.user_id = u.id
             ORDER BY m.group_id, u.id",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// The enterprises of every group.
    pub async fn advisor_group_enterprises(&self) -> Result<Vec<GroupEnterprise>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT m.group_id, {ENTERPRISE_COLUMNS}
             FROM advisor_group_enterprises m JOIN enterprises e ON e.user_id = m.enterprise_id
             ORDER BY m.group_id, e.user_id"
        ))
        .fetch_all(&self.pool)
        .await
    }

    /// The advisors of enterprise `id` (lawyers of its group), for 我的.
    pub async fn advisors_of(&self, enterprise_id: i64) -> Result<Vec<GroupLawyer>, sqlx::Error> {
        sqlx::query_as(
            "SELECT m.group_id, u.id, u.display_name AS name,
                    COALESCE(p.firm, '') AS firm, COALESCE(p.contact, '') AS contact
             FROM advisor_group_enterprises ge
             JOIN advisor_group_lawyers m ON m.group_id = ge.group_id
             JOIN users u ON u.id = m.lawyer_id
             LEFT JOIN lawyer_profiles p ON p.user_id = u.id
             WHERE ge.enterprise_id = $1 ORDER BY u.id",
        )
        .bind(enterprise_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Lawyer accounts (id, name, firm) for the group form.
    pub async fn lawyer_choices(&self) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
        sqlx::query(
            "SELECT u.id, u.display_name, COALESCE(p.firm, '') AS firm FROM users u
             LEFT JOIN lawyer_profiles p ON p.user_id = u.id
             WHERE u.role = 'lawyer' ORDER BY u.display_name, u.id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
    }

    /// What the membership rules need about accounts `ids`, in the order given.
    pub async fn member_facts(&self, ids: &[i64]) -> Result<Vec<MemberFacts>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = sqlx::query(
                "SELECT u.role, COALESCE(e.name, u.display_name) AS name, e.size, ge.group_id
                 FROM users u LEFT JOIN enterprises e ON e.user_id = u.id
                 LEFT JOIN advisor_group_enterprises ge ON ge.enterprise_id = u.id
                 WHERE u.id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            out.push(match row {
                Some(r) => MemberFacts {
                    id,
                    role: Some(r.try_get("role")?),
                    name: r.try_get("name")?,
                    size: r.try_get("size")?,
                    group_id: r.try_get("group_id")?,
                },
                None => MemberFacts {
                    id,
                    role: None,
                    name: String::new(),
                    size: None,
                    group_id: None,
                },
            });
        }
        Ok(out)
    }

    /// Create a group with its members (already checked). A race with another change that
    /// put one of the enterprises in a group fails on `advisor_group_enterprises`' unique key.
    pub async fn create_advisor_group(
        &self,
        name: &str,
        lawyer_ids: &[i64],
        enterprise_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO advisor_groups (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        insert_members(&mut tx, id, lawyer_ids, enterprise_ids).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replace a group's name and members (already checked); false when it does not exist.
    pub async fn set_advisor_group(
        &self,
        id: i64,
        name: &str,
        lawyer_ids: &[i64],
        enterprise_ids: &[i64],
    ) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let updated = sqlx::query("UPDATE advisor_groups SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM advisor_group_lawyers WHERE group_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM advisor_group_enterprises WHERE group_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_members(&mut tx, id, lawyer_ids, enterprise_ids).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Remove a group (its enterprises have no advisor afterwards); false when it did not exist.
    pub async fn delete_advisor_group(&self, id: i64) -> Result<bool, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM advisor_groups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Small and micro enterprises in no group, by name, optionally searched by name; a page
    /// and the total.
    pub async fn enterprises_without_advisor(
        &self,
        query: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<GroupEnterprise>, i64), sqlx::Error> {
        let cond = "WHERE e.size IN ('micro', 'small')
              AND NOT EXISTS (SELECT 1 FROM advisor_group_enterprises ge WHERE ge.enterprise_id = e.user_id)
              AND ($1 IS NULL OR e.name LIKE $2)";
        let like = query.map(|q| format!("%{}%", q.replace(['%', '_'], "")));
        let rows = sqlx::query_as(&format!(
            "SELECT 0 AS group_id, {ENTERPRISE_COLUMNS} FROM enterprises e {cond}
             ORDER BY e.name, e.user_id LIMIT $3 OFFSET $4"
        ))
        .bind(like.as_deref())
        .bind(like.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM enterprises e {cond}"))
            .bind(like.as_deref())
            .bind(like.as_deref())
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Enterprises that have not stated their size (at most `limit`) and how many there are.
    pub async fn enterprises_unknown_size(
        &self,
        limit: i64,
    ) -> Result<(Vec<GroupEnterprise>, i64), sqlx::Error> {
        let rows = sqlx::query_as(&format!(
            "SELECT 0 AS group_id, {ENTERPRISE_COLUMNS} FROM enterprises e
             WHERE e.size IS NULL ORDER BY e.name, e.user_id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM enterprises WHERE size IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Set an enterprise's size (`None`: not stated).
    pub async fn set_enterprise_size(
        &self,
        enterprise_id: i64,
        size: Option<EnterpriseSize>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE enterprises SET size = $1 WHERE user_id = $2")
            .bind(size.map(EnterpriseSize::as_str))
            .bind(enterprise_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An enterprise's size, if stated.
    pub async fn enterprise_size(
        &self,
        enterprise_id: i64,
    ) -> Result<Option<EnterpriseSize>, sqlx::Error> {
        let s: Option<Option<String>> =
            sqlx::query_scalar("SELECT size FROM enterprises WHERE user_id = $1")
                .bind(enterprise_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(s.flatten().as_deref().and_then(EnterpriseSize::parse))
    }
}

async fn insert_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    lawyer_ids: &[i64],
    enterprise_ids: &[i64],
) -> Result<(), sqlx::Error> {
    for l in lawyer_ids {
        sqlx::query("INSERT INTO advisor_group_lawyers (group_id, lawyer_id) VALUES ($1, $2)")
            .bind(id)
            .bind(l)
            .execute(&mut **tx)
            .await?;
    }
    for e in enterprise_ids {
        sqlx::query(
            "INSERT INTO advisor_group_enterprises (group_id, enterprise_id) VALUES ($1, $2)",
        )
        .bind(id)
        .bind(e)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
