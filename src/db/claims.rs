//! Credit-code claims: storage, and the freeze and hand-over transactions.

use super::notifications;
use super::registrations::end_upcoming_registrations;
use super::Db;
use crate::notify::Event;
use crate::signup::EndReason;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// The state of a claim.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    sqlx::Type,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum ClaimState {
    /// 待审核
    Pending,
    /// 已驳回
    Rejected,
    /// 已移交
    Transferred,
}

impl ClaimState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimState::Pending => "pending",
            ClaimState::Rejected => "rejected",
            ClaimState::Transferred => "transferred",
        }
    }

    pub fn parse(s: &str) -> Option<ClaimState> {
        [
            ClaimState::Pending,
            ClaimState::Rejected,
            ClaimState::Transferred,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ClaimState::Pending => "待审核",
            ClaimState::Rejected => "已驳回",
            ClaimState::Transferred => "已移交",
        }
    }
}

/// A stored claim.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claim {
    pub id: i64,
    pub uscc: String,
    pub company_name: String,
    pub contact_name: String,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub statement: String,
    pub licence_file: String,
    pub licence_type: String,
    pub token_hash: String,
    pub state: ClaimState,
    pub reject_reason: Option<String>,
    pub holder_user_id: Option<i64>,
    pub new_user_id: Option<i64>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub activate_until: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub activated_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub decided_at: Option<DateTime<Utc>>,
}

/// A claim as filed, validated.
#[derive(Debug, Clone)]
pub struct NewClaimRow<'a> {
    pub uscc: &'a str,
    pub company_name: &'a str,
    pub contact_name: &'a str,
    pub mobile: Option<&'a str>,
    pub email: Option<&'a str>,
    pub contact_key: &'a str,
    pub statement: &'a str,
    pub licence_file: &'a str,
    pub licence_type: &'a str,
    pub token_hash: &'a str,
    pub holder_user_id: i64,
}

/// The account holding a claimed code, as the organizer reviews it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Holder {
    pub user_id: i64,
    pub name: String,
    pub uscc: String,
    pub contact_name: String,
    pub mobile: String,
    pub industry: String,
    pub district: Option<String>,
    #[sqlx(try_from = "crate::db::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::OptTs")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Sign-ups ever made (any state).
    pub signups: i64,
}

/// What a freeze or hand-over found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimChange {
    /// Done: the registrations ended by the freeze (none when it was frozen already).
    Done { cancelled: usize },
    /// The claim is not pending any more.
    NotPending,
    /// The claim or its holder is gone.
    NotFound,
    /// The new account's mobile belongs to a third account.
    MobileTaken,
    /// The holder no longer has the code (handed over on another claim, or changed).
    CodeMoved,
}

const COLUMNS: &str =
    "id, uscc, company_name, contact_name, mobile, email, statement, licence_file,
    licence_type, token_hash, state, reject_reason, holder_user_id, new_user_id, activate_until,
    activated_at, created_at, decided_at";

impl Db {
    /// The enterprise account holding credit code `uscc`, if any.
    pub async fn holder_of_uscc(&self, uscc: &str) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT user_id FROM enterprises WHERE uscc = $1")
            .bind(uscc)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("user_id")).transpose()
    }

    /// Store a new pending claim; a second open claim for the same code and contact violates
    /// [`super::CLAIMS_ONE_OPEN_KEY`].
    pub async fn insert_claim(
        &self,
        c: &NewClaimRow<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO claims (uscc, company_name, contact_name, mobile, email, contact_key,
                 statement, licence_file, licence_type, token_hash, holder_user_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(c.uscc)
        .bind(c.company_name)
        .bind(c.contact_name)
        .bind(c.mobile)
        .bind(c.email)
        .bind(c.contact_key)
        .bind(c.statement)
        .bind(c.licence_file)
        .bind(c.licence_type)
        .bind(c.token_hash)
        .bind(c.holder_user_id)
        .bind(crate::db::ts(now))
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    pub async fn claim(&self, id: i64) -> Result<Option<Claim>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM claims WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Claims in `state` (all when `None`), newest first.
    pub async fn claims(&self, state: Option<ClaimState>) -> Result<Vec<Claim>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM claims WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT 500"
        ))
        .bind(state.map(ClaimState::as_str))
        .fetch_all(&self.pool)
        .await
    }

    /// The account `user_id` as a claim's holder.
    pub async fn claim_holder(&self, user_id: i64) -> Result<Option<Holder>, sqlx::Error> {
        sqlx::query_as(
            "SELECT e.user_id, e.name, e.uscc, e.contact_name, e.mobile, e.industry, e.district,
                    u.created_at, u.disabled_at,
                    (SELECT COUNT(*) FROM registrations r WHERE r.enterprise_id = e.user_id)
                      AS signups
             FROM enterprises e JOIN users u ON u.id = e.user_id WHERE e.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Reject pending claim `id` with `reason`; false when it is not pending.
    pub async fn reject_claim(
        &self,
        id: i64,
        reason: &str,
        by: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE claims SET state = 'rejected', reject_reason = $1, decided_at = $2, decided_by = $3
             WHERE id = $4 AND state = 'pending'",
        )
        .bind(reason)
        .bind(crate::db::ts(now))
        .bind(by)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Freeze the holder of pending claim `id` (see [`freeze_in`]) in one transaction.
    pub async fn freeze_claim_holder(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<ClaimChange, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let Some((uscc, holder)) = pending_claim(&mut tx, id).await? else {
            return Ok(ClaimChange::NotPending);
        };
        let Some(holder) = holder else {
            return Ok(ClaimChange::NotFound);
        };
        let cancelled = freeze_in(&mut tx, id, holder, &uscc, now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(ClaimChange::Done { cancelled })
    }

    /// Hand the code of pending claim `id` over, in one transaction: the holder is frozen if
    /// it is not yet, its credit code (and its mobile, when it is the claimant's) replaced by
    /// tombstones, and an enterprise account created for the claimant with an unusable
    /// password, to be set through the one-time link valid until `activate_until`.
    pub async fn transfer_claim(
        &self,
        id: i64,
        by: i64,
        now: DateTime<Utc>,
        activate_until: DateTime<Utc>,
        calendar_token: &str,
    ) -> Result<ClaimChange, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let Some(claim) = sqlx::query_as::<_, Claim>(&format!(
            "SELECT {COLUMNS} FROM claims WHERE id = $1 AND state = 'pending'"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(ClaimChange::NotPending);
        };
        let Some(holder) = claim.holder_user_id else {
            return Ok(ClaimChange::NotFound);
        };
        let row = sqlx::query(
            "SELECT e.industry, e.district, e.mobile, e.uscc FROM enterprises e
             WHERE e.user_id = $1",
        )
        .bind(holder)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ClaimChange::NotFound);
        };
        let industry: String = row.try_get("industry")?;
        let district: Option<String> = row.try_get("district")?;
        let holder_mobile: String = row.try_get("mobile")?;
        if row.try_get::<String, _>("uscc")? != claim.uscc {
            return Ok(ClaimChange::CodeMoved);
        }
        let cancelled = freeze_in(&mut tx, id, holder, &claim.uscc, now).await?;
        // the code, and the claimant's mobile when the holder registered it, become free
        let free_mobile = claim.mobile.as_deref() == Some(holder_mobile.as_str());
        sqlx::query(
            "UPDATE enterprises SET uscc = $1, mobile = CASE WHEN $2 THEN $3 ELSE mobile END
             WHERE user_id = $4",
        )
        .bind(crate::accounts::released_uscc(holder))
        .bind(free_mobile)
        .bind(crate::accounts::released_mobile(holder))
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        let event = Event::UsccTransferred {
            claim_id: id,
            uscc: claim.uscc.clone(),
        };
        notifications::enqueue(&mut tx, holder, &event, now).await?;
        let user = sqlx::query(
            "INSERT INTO users (role, username, display_name, password_hash, created_at)
             VALUES ('enterprise', NULL, $1, $2, $3) RETURNING id",
        )
        .bind(&claim.company_name)
        // not a PHC string: no password verifies until the claimant sets one
        .bind(UNSET_PASSWORD)
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let new_id: i64 = user.try_get("id")?;
        // a claimant who gave only an e-mail logs in with the code; the mobile column needs a
        // unique value that is never a mobile number
        let mobile = claim
            .mobile
            .clone()
            .unwrap_or_else(|| crate::accounts::released_mobile(new_id));
        let inserted = sqlx::query(
            "INSERT INTO enterprises
               (user_id, name, uscc, industry, district, contact_name, mobile, calendar_token)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id)
        .bind(&claim.company_name)
        .bind(&claim.uscc)
        .bind(&industry)
        .bind(&district)
        .bind(&claim.contact_name)
        .bind(&mobile)
        .bind(calendar_token)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if super::violated_unique_constraint(&e).as_deref()
                == Some(super::ENTERPRISES_MOBILE_KEY)
            {
                return Ok(ClaimChange::MobileTaken);
            }
            return Err(e);
        }
        sqlx::query(
            "UPDATE claims SET state = 'transferred', new_user_id = $1, activate_until = $2,
                 decided_at = $3, decided_by = $4 WHERE id = $5",
        )
        .bind(new_id)
        .bind(crate::db::ts(activate_until))
        .bind(crate::db::ts(now))
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(ClaimChange::Done { cancelled })
    }

    /// Set the password of the account handed over by claim `id` and use up its setup link,
    /// recording the privacy consent given on the setup page. False when the link is used,
    /// expired or the claim was not handed over.
    pub async fn activate_claim_account(
        &self,
        id: i64,
        password_hash: &str,
        privacy_version: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let (_turn, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE claims SET activated_at = $1
             WHERE id = $2 AND state = 'transferred' AND activated_at IS NULL
               AND activate_until > $3 AND new_user_id IS NOT NULL
             RETURNING new_user_id",
        )
        .bind(crate::db::ts(now))
        .bind(id)
        .bind(crate::db::ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user_id: i64 = row.try_get("new_user_id")?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE enterprises SET privacy_notice_version = $1, privacy_consent_at = $2
             WHERE user_id = $3",
        )
        .bind(privacy_version)
        .bind(crate::db::ts(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }
}

/// The password hash of an account whose password is not set yet: not a PHC string, so no
/// password verifies against it.
pub const UNSET_PASSWORD: &str = "!unset:claim";

async fn pending_claim(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(String, Option<i64>)>, sqlx::Error> {
    let row =
        sqlx::query("SELECT uscc, holder_user_id FROM claims WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| Ok((r.try_get("uscc")?, r.try_get("holder_user_id")?)))
        .transpose()
}

/// Freeze account `holder` for claim `claim_id` inside a write transaction, unless it is
/// frozen already: disable it, end its login sessions, end its sign-ups for sessions that have
/// not started (the waitlists move up) and tell it why. Returns the sign-ups ended.
async fn freeze_in(
    conn: &mut AnyConnection,
    claim_id: i64,
    holder: i64,
    uscc: &str,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let done =
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(crate::db::ts(now))
            .bind(holder)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(0);
    }
    sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    let (ended, _) = end_upcoming_registrations(
        conn,
        holder,
        &EndReason::Removed {
            reason: FROZEN_REASON.to_string(),
        },
        now,
    )
    .await?;
    let event = Event::AccountFrozen {
        claim_id,
        uscc: uscc.to_string(),
    };
    notifications::enqueue(conn, holder, &event, now).await?;
    Ok(ended.len())
}

/// The end reason of sign-ups cancelled by a freeze (shown on rosters).
pub const FROZEN_REASON: &str = "账号因信用代码申诉被冻结";
