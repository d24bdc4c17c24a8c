//! Logging in and out: credentials with throttling of failures, login sessions, and the
//! password hashing every account creation goes through.

use crate::accounts::{self, LoginKey, User};
use crate::db::Db;
use crate::validation::FieldErrors;
use chrono::{DateTime, Duration, Utc};

/// Failed attempts allowed per account in one window before logins are refused.
pub const ACCOUNT_FAILURE_LIMIT: i64 = 5;
/// Failed attempts allowed per client address in one window.
pub const IP_FAILURE_LIMIT: i64 = 20;

/// Length of the throttle window.
pub fn failure_window() -> Duration {
    Duration::minutes(15)
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The login or the password was left empty.
    #[error("invalid login request")]
    Invalid(FieldErrors),
    /// No such account, or the wrong password (the two are not told apart).
    #[error("bad credentials")]
    BadCredentials,
    /// Too many failures for this account or this address; try again after `retry_after_s`.
    #[error("login throttled for {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> Self {
        LoginError::Internal(e.into())
    }
}

impl LoginError {
    /// The Chinese message of a throttled login (the other variants have fixed texts).
    pub fn throttled_message_zh(retry_after_s: u64) -> String {
        format!(
            "登录失败次数过多，请在{}分钟后再试。",
            retry_after_s.div_ceil(60)
        )
    }
}

/// Hash a password with Argon2id on the blocking pool (it takes tens of milliseconds of CPU,
/// which must not stall the async workers). Every account creation goes through here.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || accounts::hash_password_blocking(&password)).await?
}

/// Check `password` against a stored hash on the blocking pool. With no stored hash (an
/// unknown login) it is checked against a dummy hash and fails, taking as long as for a known
/// account, so the answer time does not tell which logins exist.
pub async fn verify_password(password: String, phc: Option<String>) -> anyhow::Result<bool> {
    let checked = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => accounts::verify_password_blocking(&password, &phc),
        None => {
            accounts::verify_password_blocking(&password, accounts::dummy_hash());
            false
        }
    });
    Ok(checked.await?)
}

/// Check credentials with throttling of failures per account and per client address. A
/// throttled login is refused before the password is looked at, so guessing cannot continue;
/// successful logins do not count and reset the account's counter.
pub async fn authenticate(
    db: &Db,
    now: DateTime<Utc>,
    login: &str,
    password: &str,
    client_ip: &str,
) -> Result<User, LoginError> {
    let mut errors = FieldErrors::default();
    if login.trim().is_empty() {
        errors.add("login", "请输入用户名、统一社会信用代码或手机号");
    }
    if password.is_empty() {
        errors.add("password", "请输入密码");
    }
    errors.into_result().map_err(LoginError::Invalid)?;

    let key = LoginKey::from_login(login);
    let account_scope = format!("account:{}", key.canonical());
    let ip_scope = format!("ip:{client_ip}");
    let window = failure_window();
    for (scope, limit) in [
        (&account_scope, ACCOUNT_FAILURE_LIMIT),
        (&ip_scope, IP_FAILURE_LIMIT),
    ] {
        let (failures, started) = db.login_failures(scope, now, window).await?;
        if failures >= limit {
            let retry_after_s = (started + window - now).num_seconds().max(1) as u64;
            return Err(LoginError::Throttled { retry_after_s });
        }
    }

    let found = db.find_login(&key).await?;
    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    let ok = verify_password(password.to_string(), stored).await?;
    match found {
        Some((user, _)) if ok => {
            db.clear_login_failures(&account_scope).await?;
            Ok(user)
        }
        _ => {
            db.record_login_failure(&account_scope, now, window).await?;
            db.record_login_failure(&ip_scope, now, window).await?;
            Err(LoginError::BadCredentials)
        }
    }
}

/// A login session just opened: the token goes into the cookie, the database keeps its hash.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    /// Lifetime of the session, for the cookie's `Max-Age`.
    pub max_age_s: i64,
}

/// Open a login session of `session_hours` for `user_id`.
pub async fn start_session(
    db: &Db,
    now: DateTime<Utc>,
    user_id: i64,
    session_hours: u32,
) -> Result<NewSession, LoginError> {
    let token = accounts::random_token();
    let hours = i64::from(session_hours);
    db.create_login_session(
        &accounts::token_hash(&token),
        user_id,
        now,
        now + Duration::hours(hours),
    )
    .await?;
    Ok(NewSession {
        token,
        max_age_s: hours * 3600,
    })
}

/// End the login session whose cookie holds `token`, if there is one.
pub async fn end_session(db: &Db, token: Option<&str>) -> Result<(), LoginError> {
    if let Some(token) = token {
        db.delete_login_session(&accounts::token_hash(token))
            .await?;
    }
    Ok(())
}

/// The account of an unexpired login session.
pub async fn session_user(
    db: &Db,
    now: DateTime<Utc>,
    token: &str,
) -> Result<Option<User>, LoginError> {
    Ok(db.session_user(&accounts::token_hash(token), now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;

    async fn db_with_staff(dir: &tempfile::TempDir) -> Db {
        let db = Db::open(dir.path()).await.expect("open");
        let hash = hash_password("organizer-pass-1".into())
            .await
            .expect("hash");
        db.insert_staff(Role::Organizer, "admin", "管理员", &hash)
            .await
            .expect("staff");
        db
    }

    #[tokio::test]
    async fn empty_fields_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let e = authenticate(&db, Utc::now(), " ", "", "10.0.0.1")
            .await
            .expect_err("invalid");
        let LoginError::Invalid(errors) = e else {
            panic!("expected Invalid, got {e:?}");
        };
        assert!(errors.get("login").is_some() && errors.get("password").is_some());
    }

    #[tokio::test]
    async fn account_is_throttled_after_the_limit_until_the_window_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db_with_staff(&dir).await;
        let start = Utc::now();
        for _ in 0..ACCOUNT_FAILURE_LIMIT {
            let e = authenticate(&db, start, "admin", "wrong-pass", "10.0.0.1")
                .await
                .expect_err("wrong password");
            assert!(matches!(e, LoginError::BadCredentials), "{e:?}");
        }
        // even the right password is refused now, from another address too
        let later = start + Duration::minutes(5);
        let e = authenticate(&db, later, "ADMIN", "organizer-pass-1", "10.0.0.2")
            .await
            .expect_err("throttled");
        let LoginError::Throttled { retry_after_s } = e else {
            panic!("expected Throttled, got {e:?}");
        };
        assert_eq!(retry_after_s, 10 * 60);
        assert_eq!(
            LoginError::throttled_message_zh(retry_after_s),
            "登录失败次数过多，请在10分钟后再试。"
        );
        let user = authenticate(
            &db,
            start + failure_window(),
            "admin",
            "organizer-pass-1",
            "10.0.0.2",
        )
        .await
        .expect("window over");
        assert_eq!(user.username.as_deref(), Some("admin"));
    }

    #[tokio::test]
    async fn sessions_last_their_hours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db_with_staff(&dir).await;
        let now = Utc::now();
        let user = authenticate(&db, now, "admin", "organizer-pass-1", "10.0.0.1")
            .await
            .expect("login");
        let session = start_session(&db, now, user.id, 2).await.expect("session");
        assert_eq!(session.max_age_s, 7200);
        let found = session_user(&db, now + Duration::minutes(119), &session.token)
            .await
            .expect("lookup");
        assert_eq!(found.map(|u| u.id), Some(user.id));
        let expired = session_user(&db, now + Duration::hours(2), &session.token)
            .await
            .expect("lookup");
        assert!(expired.is_none());
        end_session(&db, Some(&session.token)).await.expect("end");
        let ended = session_user(&db, now, &session.token)
            .await
            .expect("lookup");
        assert!(ended.is_none());
    }
}
