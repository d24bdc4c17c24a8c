//! Enterprise self-registration and the enterprise's own secrets (the calendar feed token).

use crate::accounts::{self, validate_enterprise, EnterpriseSignup};
use crate::db::accounts::Enterprise;
use crate::db::{violated_unique_constraint, Db, ENTERPRISES_MOBILE_KEY, ENTERPRISES_USCC_KEY};
use crate::validation::FieldErrors;
use anyhow::Context;
use chrono::{DateTime, Utc};

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// Fields to correct, each with its message.
    #[error("invalid registration")]
    Invalid(FieldErrors),
    /// The mobile number belongs to another enterprise account.
    #[error("mobile number taken")]
    MobileTaken,
    /// The credit code is registered already.
    #[error("credit code {uscc} taken")]
    UsccTaken { uscc: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AccountsError {
    fn from(e: sqlx::Error) -> Self {
        AccountsError::Internal(e.into())
    }
}

impl AccountsError {
    /// What the enterprise is told, in one sentence (the field messages of `Invalid` are
    /// shown next to their fields).
    pub fn message_zh(&self) -> String {
        match self {
            AccountsError::Invalid(_) => "请按提示修改标红的内容".into(),
            AccountsError::MobileTaken => {
                "该手机号已用于另一个企业账号，请换一个手机号或直接登录".into()
            }
            AccountsError::UsccTaken { uscc } => {
                format!("统一社会信用代码 {uscc} 已注册过账号，请直接登录；如忘记密码请联系工商联")
            }
            AccountsError::Internal(_) => "服务器处理请求时出错，请稍后重试。".into(),
        }
    }
}

/// Register an enterprise account at `now`: validate every field, hash the password and store
/// the account. The uniqueness of the credit code and mobile number is enforced by the
/// database (no racy pre-check); its unique violations are told apart by constraint name.
pub async fn register_enterprise(
    db: &Db,
    now: DateTime<Utc>,
    input: &EnterpriseSignup,
) -> Result<Enterprise, AccountsError> {
    let valid = validate_enterprise(input).map_err(AccountsError::Invalid)?;
    let hash = super::login::hash_password(input.password.clone()).await?;
    let calendar_token = accounts::random_token();
    let id = match db
        .insert_enterprise(&valid, &hash, &calendar_token, now)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            return Err(match violated_unique_constraint(&e).as_deref() {
                Some(ENTERPRISES_MOBILE_KEY) => AccountsError::MobileTaken,
                Some(ENTERPRISES_USCC_KEY) => AccountsError::UsccTaken { uscc: valid.uscc },
                // anything else (a calendar token drawn twice from 256 random bits) is a fault
                // of ours, not something the enterprise can fix
                _ => AccountsError::Internal(
                    anyhow::Error::new(e).context("storing an enterprise account"),
                ),
            });
        }
    };
    db.enterprise(id)
        .await?
        .with_context(|| format!("enterprise {id} vanished after registration"))
        .map_err(AccountsError::Internal)
}

/// Give enterprise `enterprise_id` a new calendar feed token and return it; the old feed
/// address stops working at once (for a link that was shared or leaked).
pub async fn rotate_calendar_token(db: &Db, enterprise_id: i64) -> Result<String, AccountsError> {
    let token = accounts::random_token();
    if !db.set_calendar_token(enterprise_id, &token).await? {
        return Err(AccountsError::Internal(anyhow::anyhow!(
            "no enterprise {enterprise_id} to give a calendar token"
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup(uscc: &str, mobile: &str) -> EnterpriseSignup {
        EnterpriseSignup {
            name: "示例科技有限公司".into(),
            uscc: uscc.into(),
            industry: "E".into(),
            district: None,
            contact_name: "示例联系人".into(),
            mobile: mobile.into(),
            password: "enterprise-pass-1".into(),
        }
    }

    #[tokio::test]
    async fn taken_mobile_and_credit_code_are_told_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let now = Utc::now();
        let first = register_enterprise(&db, now, &signup("91350100M000100Y43", "13800138000"))
            .await
            .expect("registered");
        assert_eq!(first.uscc, "91350100M000100Y43");
        let again = register_enterprise(&db, now, &signup("91430111MA4L41YT1U", "13800138000"))
            .await
            .expect_err("mobile taken");
        assert!(matches!(again, AccountsError::MobileTaken), "{again:?}");
        let again = register_enterprise(&db, now, &signup("91350100M000100Y43", "13900139000"))
            .await
            .expect_err("credit code taken");
        assert!(
            matches!(&again, AccountsError::UsccTaken { uscc } if uscc == "91350100M000100Y43"),
            "{again:?}"
        );
        let bad = register_enterprise(&db, now, &signup("123", "13900139000"))
            .await
            .expect_err("invalid");
        assert!(matches!(bad, AccountsError::Invalid(e) if e.get("uscc").is_some()));
    }

    #[tokio::test]
    async fn a_rotated_calendar_token_replaces_the_old_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let e = register_enterprise(
            &db,
            Utc::now(),
            &signup("91350100M000100Y43", "13800138000"),
        )
        .await
        .expect("registered");
        let new = rotate_calendar_token(&db, e.id).await.expect("rotated");
        assert_ne!(new, e.calendar_token);
        let found = |t: String| {
            let db = db.clone();
            async move { db.enterprise_by_calendar_token(&t).await.expect("lookup") }
        };
        assert!(found(e.calendar_token.clone()).await.is_none());
        assert_eq!(found(new).await.map(|f| f.id), Some(e.id));
        let none = rotate_calendar_token(&db, e.id + 100).await;
        assert!(matches!(none, Err(AccountsError::Internal(_))), "{none:?}");
    }
}
