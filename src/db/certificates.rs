//! Issued learning certificates, found by their verification code.

use super::Db;
use chrono::{DateTime, NaiveDate, Utc};

/// A certificate to record (or refresh: the share may have grown since it was first printed).
pub struct IssuedCertificate<'a> {
    pub code: &'a str,
    pub lecture_id: i64,
    pub enterprise_id: i64,
    pub attended_on: NaiveDate,
    pub percent: i64,
    pub issued_at: DateTime<Utc>,
}

/// What the public verification page shows: enterprise, lecture, date, share — nothing else.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VerifiedCertificate {
    pub code: String,
    pub enterprise_name: String,
    pub lecture_title: String,
    #[sqlx(try_from = "crate::db::Day")]
    pub attended_on: NaiveDate,
    pub percent: i64,
}

impl Db {
    /// Record a certificate as printed now; the first issue time stays.
    pub async fn record_certificate(&self, c: &IssuedCertificate<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO certificates (code, lecture_id, enterprise_id, attended_on, percent, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (code) DO UPDATE SET
                attended_on = excluded.attended_on, percent = excluded.percent",
        )
        .bind(c.code)
        .bind(c.lecture_id)
        .bind(c.enterprise_id)
        .bind(crate::db::day(c.attended_on))
        .bind(c.percent)
        .bind(crate::db::ts(c.issued_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The certificate with verification code `code`, while its enterprise and lecture exist.
    pub async fn verified_certificate(
        &self,
        code: &str,
    ) -> Result<Option<VerifiedCertificate>, sqlx::Error> {
        sqlx::query_as(
            "SELECT c.code, e.name AS enterprise_name, s.title AS lecture_title, c.attended_on, c.percent
               FROM certificates c
               JOIN enterprises e ON e.user_id = c.enterprise_id
               JOIN lectures l ON l.id = c.lecture_id
               JOIN lecture_sessions s ON s.id = l.session_id
              WHERE c.code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await
    }
}
