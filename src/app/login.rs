//! Logging in and out: credentials with throttling of failures, login sessions, and the
//! password hashing every account creation goes through.

use crate::accounts::{self, LoginKey, User};
use crate::db::throttle::Reservation;
use crate::db::Db;
use crate::validation::FieldErrors;
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Failed attempts allowed per account (all its login names together) in one window before
/// logins are refused.
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
    /// The right password for an account an organizer disabled. Told only after a correct
    /// password, so it reveals nothing to someone guessing.
    #[error("account disabled")]
    Disabled,
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
    /// What the owner of a disabled account is told.
    pub const DISABLED_ZH: &'static str = "账号已停用，请联系组织方";

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

/// Counts the passwords a server has checked (Argon2 runs, including those against the dummy
/// hash): a figure for monitoring, and what the throttle tests count instead of timing
/// requests. Clones share the count; each server has its own (in [`crate::config::Config`]),
/// so servers of parallel tests do not add to each other's figure.
#[derive(Debug, Clone, Default)]
pub struct Verifications(Arc<AtomicU64>);

impl Verifications {
    /// Passwords checked so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    fn add_one(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Check `password` against a stored hash on the blocking pool. With no stored hash (an
/// unknown login) it is checked against a dummy hash and fails, taking as long as for a known
/// account, so the answer time does not tell which logins exist. Every call is counted in
/// `verifications`.
pub async fn verify_password(
    password: String,
    phc: Option<String>,
    verifications: &Verifications,
) -> anyhow::Result<bool> {
    verifications.add_one();
    let checked = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => accounts::verify_password_blocking(&password, &phc),
        None => {
            accounts::verify_password_blocking(&password, accounts::dummy_hash());
            false
        }
    });
    Ok(checked.await?)
}

/// Reserve one attempt in `scope`, or say how long the caller has to wait.
async fn reserve(
    db: &Db,
    scope: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<DateTime<Utc>, LoginError> {
    let window = failure_window();
    match db.reserve_login_attempt(scope, now, window, limit).await? {
        Reservation::Granted { window_start } => Ok(window_start),
        Reservation::Refused { window_start } => {
            let retry_after_s = (window_start + window - now).num_seconds().max(1) as u64;
            Err(LoginError::Throttled { retry_after_s })
        }
    }
}

/// The throttle counter of a login: the account's own when the login names one (its credit
/// code and its mobile number share it), else one per unknown login, so probing for accounts
/// is throttled too.
fn subject_scope(found: Option<&User>, key: &LoginKey) -> String {
    match found {
        Some(user) => format!("user:{}", user.id),
        None => format!("login:{}", key.canonical()),
    }
}

/// Check credentials with throttling per account and per client address.
///
/// The attempt is counted *before* the password is looked at, in the database and atomically
/// (see [`Db::reserve_login_attempt`]): however many attempts arrive at once, at most
/// [`ACCOUNT_FAILURE_LIMIT`] passwords are checked per account and window, and at most
/// [`IP_FAILURE_LIMIT`] per address; the others are refused as throttled. Successful logins do
/// not count: they give their reservation back and reset the account's counter.
pub async fn authenticate(
    db: &Db,
    now: DateTime<Utc>,
    login: &str,
    password: &str,
    client_ip: &str,
    verifications: &Verifications,
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
    let found = db.find_login(&key).await?;
    let subject = subject_scope(found.as_ref().map(|(user, _)| user), &key);
    let ip_scope = format!("ip:{client_ip}");
    let subject_window = reserve(db, &subject, now, ACCOUNT_FAILURE_LIMIT).await?;
    let ip_window = match reserve(db, &ip_scope, now, IP_FAILURE_LIMIT).await {
        Ok(window_start) => window_start,
        Err(e) => {
            // refused for the address: this attempt was never made for the account either
            db.release_login_attempt(&subject, subject_window).await?;
            return Err(e);
        }
    };

    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    let ok = verify_password(password.to_string(), stored, verifications).await?;
    match found {
        Some((user, _)) if ok => {
            db.clear_login_failures(&subject).await?;
            db.release_login_attempt(&ip_scope, ip_window).await?;
            if db.disabled_at(user.id).await?.is_some() {
                return Err(LoginError::Disabled);
            }
            db.touch_last_login(user.id, now).await?;
            Ok(user)
        }
        _ => Err(LoginError::BadCredentials),
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

/// End every login session of the account whose session cookie holds `token` (logout on all
/// devices). An unknown or expired session can end nothing but itself.
pub async fn end_all_sessions(
    db: &Db,
    now: DateTime<Utc>,
    token: Option<&str>,
) -> Result<(), LoginError> {
    let Some(token) = token else {
        return Ok(());
    };
    let hash = accounts::token_hash(token);
    match db.session_user(&hash, now).await? {
        Some(user) => {
            db.delete_user_sessions(user.id).await?;
        }
        None => db.delete_login_session(&hash).await?,
    }
    Ok(())
}

/// End every other login session of the account whose session cookie holds `token`, keeping
/// this one ("退出其他设备" on 我的); returns how many ended. Without a valid session nothing
/// ends.
pub async fn end_other_sessions(
    db: &Db,
    now: DateTime<Utc>,
    token: Option<&str>,
) -> Result<u64, LoginError> {
    let Some(token) = token else { return Ok(0) };
    let hash = accounts::token_hash(token);
    match db.session_user(&hash, now).await? {
        Some(user) => Ok(db.delete_other_sessions(user.id, &hash).await?),
        None => Ok(0),
    }
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

    fn none() -> Verifications {
        Verifications::default()
    }

    #[tokio::test]
    async fn empty_fields_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let e = authenticate(&db, Utc::now(), " ", "", "10.0.0.1", &none())
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
            let e = authenticate(&db, start, "admin", "wrong-pass", "10.0.0.1", &none())
                .await
                .expect_err("wrong password");
            assert!(matches!(e, LoginError::BadCredentials), "{e:?}");
        }
        // even the right password is refused now, from another address too
        let later = start + Duration::minutes(5);
        let e = authenticate(&db, later, "admin", "organizer-pass-1", "10.0.0.2", &none())
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
            &none(),
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
        let user = authenticate(&db, now, "admin", "organizer-pass-1", "10.0.0.1", &none())
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

    /// Before the fix each login name of an enterprise had its own counter: 5 wrong passwords
    /// by credit code, then 5 more by mobile number.
    #[tokio::test]
    async fn credit_code_and_mobile_share_one_counter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let now = Utc::now();
        let signup = accounts::EnterpriseSignup {
            name: "示例科技有限公司".into(),
            uscc: "91350100M000100Y43".into(),
            industry: "E".into(),
            district: None,
            contact_name: "示例联系人".into(),
            mobile: "13800138000".into(),
            password: "enterprise-pass-1".into(),
            privacy_consent: true,
            privacy_notice_version: None,
            size: None,
        };
        crate::app::accounts::register_enterprise(&db, now, &signup)
            .await
            .expect("registered");
        let counted = none();
        for (i, login) in ["91350100M000100Y43", "138 0013 8000"]
            .iter()
            .cycle()
            .take(ACCOUNT_FAILURE_LIMIT as usize)
            .enumerate()
        {
            let ip = format!("10.0.0.{i}");
            let e = authenticate(&db, now, login, "wrong-pass", &ip, &counted).await;
            assert!(matches!(e, Err(LoginError::BadCredentials)), "{e:?}");
        }
        for login in ["13800138000", "91350100m000100y43"] {
            let e = authenticate(&db, now, login, "enterprise-pass-1", "10.0.1.1", &counted).await;
            assert!(matches!(e, Err(LoginError::Throttled { .. })), "{e:?}");
        }
        assert_eq!(counted.count(), ACCOUNT_FAILURE_LIMIT as u64);
    }

    #[tokio::test]
    async fn unknown_logins_are_throttled_per_login() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db_with_staff(&dir).await;
        let now = Utc::now();
        for i in 0..ACCOUNT_FAILURE_LIMIT {
            let ip = format!("10.0.0.{i}");
            let e = authenticate(&db, now, "nobody", "wrong-pass", &ip, &none()).await;
            assert!(matches!(e, Err(LoginError::BadCredentials)), "{e:?}");
        }
        let e = authenticate(&db, now, " NOBODY ", "wrong-pass", "10.0.1.1", &none()).await;
        assert!(matches!(e, Err(LoginError::Throttled { .. })), "{e:?}");
        // a real account is not touched by the probing
        let user = authenticate(&db, now, "admin", "organizer-pass-1", "10.0.1.1", &none()).await;
        assert!(user.is_ok(), "{user:?}");
    }

    #[tokio::test]
    async fn successful_logins_give_their_reservation_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db_with_staff(&dir).await;
        let now = Utc::now();
        let counted = none();
        for _ in 0..(IP_FAILURE_LIMIT + 5) {
            let user = authenticate(&db, now, "admin", "organizer-pass-1", "10.0.0.1", &counted);
            assert!(user.await.is_ok());
        }
        assert_eq!(counted.count(), (IP_FAILURE_LIMIT + 5) as u64);
        // the address's budget of failures is untouched
        for i in 0..IP_FAILURE_LIMIT {
            let login = format!("nobody{i}");
            let e = authenticate(&db, now, &login, "wrong-pass", "10.0.0.1", &none()).await;
            assert!(matches!(e, Err(LoginError::BadCredentials)), "{e:?}");
        }
        let e = authenticate(&db, now, "admin", "organizer-pass-1", "10.0.0.1", &counted).await;
        assert!(matches!(e, Err(LoginError::Throttled { .. })), "{e:?}");
        // the refusal by address left the account's counter as it was: five failures still
        // fit before the account is throttled, from another address
        for i in 0..ACCOUNT_FAILURE_LIMIT {
            let ip = format!("10.0.1.{i}");
            let e = authenticate(&db, now, "admin", "wrong-pass", &ip, &none()).await;
            assert!(matches!(e, Err(LoginError::BadCredentials)), "{e:?}");
        }
        let e = authenticate(&db, now, "admin", "wrong-pass", "10.0.2.1", &none()).await;
        assert!(matches!(e, Err(LoginError::Throttled { .. })), "{e:?}");
    }
}
