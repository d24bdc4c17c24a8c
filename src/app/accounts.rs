//! Enterprise self-registration and the enterprise's own secrets (the calendar feed token), and
//! the staff accounts organizers (or the `pufa admin` command line) manage: add, disable,
//! re-enable, reset the password.

use super::audit::{self, Action, Target};
use crate::accounts::{self, validate_enterprise, EnterpriseSignup, Role, User};
use crate::db::accounts::{DisableOutcome, Enterprise, StaffAccount};
use crate::db::{
    violated_unique_constraint, Db, ENTERPRISES_MOBILE_KEY, ENTERPRISES_USCC_KEY,
    USERS_USERNAME_KEY,
};
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
    /// Only organizers manage staff accounts.
    #[error("forbidden")]
    Forbidden,
    /// No such staff account.
    #[error("not found")]
    NotFound,
    /// The staff login name is taken.
    #[error("username taken")]
    UsernameTaken,
    /// An organizer tried to disable its own account.
    #[error("cannot disable oneself")]
    DisableSelf,
    /// Disabling would leave no active organizer.
    #[error("last active organizer")]
    LastOrganizer,
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
                format!("统一社会信用代码 {uscc} 已注册过账号，请直接登录；如忘记密码请联系工商联。如果该账号不是贵企业注册的，请凭营业执照提交信用代码申诉：/claims/new?uscc={uscc}")
            }
            AccountsError::Forbidden => "只有组织方可以管理工作人员账号".into(),
            AccountsError::NotFound => "没有这个工作人员账号".into(),
            AccountsError::UsernameTaken => "该用户名已被使用，请换一个".into(),
            AccountsError::DisableSelf => "不能停用自己的账号".into(),
            AccountsError::LastOrganizer => {
                "这是最后一个启用中的组织方账号，不能停用；请先新建或启用另一个组织方账号".into()
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

/// A new staff account as an organizer enters it.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "lawyer", "username": "lawyer.wang",
    "display_name": "王律师", "password": "harbor lamp orchard 7"}))]
pub struct NewStaff {
    /// `lawyer` or `organizer`.
    #[serde(default)]
    #[schema(required = true, value_type = String)]
    pub role: String,
    /// Login name: 3–32 letters, digits, '.', '_' or '-'.
    #[serde(default)]
    #[schema(required = true)]
    pub username: String,
    /// Name shown in the UI (the login name when empty).
    #[serde(default)]
    pub display_name: String,
    /// Initial password; must pass the strength rule.
    #[serde(default)]
    #[schema(required = true)]
    pub password: String,
}

fn require_organizer(actor: &User) -> Result<(), AccountsError> {
    if actor.role == Role::Organizer {
        Ok(())
    } else {
        Err(AccountsError::Forbidden)
    }
}

/// One page of the enterprise directory for organizer `actor` (mobiles are masked by the
/// page; a search by a mobile number still finds its enterprise).
pub async fn enterprise_directory(
    db: &Db,
    actor: &User,
    filter: &crate::db::accounts::EnterpriseFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Enterprise>, i64), AccountsError> {
    require_organizer(actor)?;
    Ok(db.enterprise_page(filter, limit, offset).await?)
}

/// The staff accounts, for organizer `actor`.
pub async fn staff_accounts(db: &Db, actor: &User) -> Result<Vec<StaffAccount>, AccountsError> {
    require_organizer(actor)?;
    Ok(db.staff_accounts().await?)
}

/// Validate a new staff account (login name, display name, role, password strength against
/// its own names).
fn validate_staff(input: &NewStaff) -> Result<(Role, String, String), AccountsError> {
    let mut errors = FieldErrors::default();
    let role = match input.role.trim() {
        "lawyer" => Some(Role::Lawyer),
        "organizer" => Some(Role::Organizer),
        _ => {
            errors.add("role", "请选择角色：律师或组织方");
            None
        }
    };
    let username = input.username.trim().to_string();
    if let Err(e) = accounts::check_username(&username) {
        errors.add("username", e);
    }
    let display = input
        .display_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let display = if display.is_empty() {
        username.clone()
    } else {
        display
    };
    if display.chars().count() > 50 {
        errors.add("display_name", "显示名称不能超过50个字符");
    } else {
        errors.check_text(
            "display_name",
            "显示名称",
            &display,
            crate::validation::Lines::Single,
        );
    }
    accounts::check_password(&input.password, &[&username, &display], &mut errors);
    match role {
        Some(role) if errors.is_empty() => Ok((role, username, display)),
        _ => Err(AccountsError::Invalid(errors)),
    }
}

/// Create a staff account. `actor` is the organizer doing it, or `None` for the command line.
pub async fn create_staff(
    db: &Db,
    now: DateTime<Utc>,
    actor: Option<&User>,
    input: &NewStaff,
) -> Result<StaffAccount, AccountsError> {
    if let Some(actor) = actor {
        require_organizer(actor)?;
    }
    let (role, username, display) = validate_staff(input)?;
    let hash = super::login::hash_password(input.password.clone()).await?;
    let id = match db.insert_staff(role, &username, &display, &hash).await {
        Ok(id) => id,
        Err(e) if violated_unique_constraint(&e).as_deref() == Some(USERS_USERNAME_KEY) => {
            return Err(AccountsError::UsernameTaken)
        }
        Err(e) => return Err(AccountsError::Internal(e.into())),
    };
    let account = db
        .staff_account(id)
        .await?
        .with_context(|| format!("staff account {id} vanished after creation"))?;
    audit::record(
        db,
        now,
        actor,
        Action::AccountCreated,
        Target::Account(id),
        serde_json::json!({"role": role.as_str(), "username": username}),
    )
    .await;
    Ok(account)
}

/// Disable (`disabled`) or re-enable staff account `id`. Disabling ends its login sessions at
/// once; an organizer cannot disable itself, and the last active organizer cannot be disabled.
pub async fn set_staff_disabled(
    db: &Db,
    now: DateTime<Utc>,
    actor: Option<&User>,
    id: i64,
    disabled: bool,
) -> Result<StaffAccount, AccountsError> {
    if let Some(actor) = actor {
        require_organizer(actor)?;
        if disabled && actor.id == id {
            return Err(AccountsError::DisableSelf);
        }
    }
    db.staff_account(id).await?.ok_or(AccountsError::NotFound)?;
    match db.set_disabled(id, disabled.then_some(now)).await? {
        DisableOutcome::Done => {}
        DisableOutcome::LastOrganizer => return Err(AccountsError::LastOrganizer),
        DisableOutcome::NotFound => return Err(AccountsError::NotFound),
    }
    let action = if disabled {
        Action::AccountDisabled
    } else {
        Action::AccountEnabled
    };
    audit::record(
        db,
        now,
        actor,
        action,
        Target::Account(id),
        serde_json::json!({}),
    )
    .await;
    db.staff_account(id).await?.ok_or(AccountsError::NotFound)
}

/// Give staff account `id` a new password: `new_password` when given (strength-checked), else
/// a generated one that is returned to be shown once. All its login sessions end.
pub async fn reset_staff_password(
    db: &Db,
    now: DateTime<Utc>,
    actor: Option<&User>,
    id: i64,
    new_password: Option<&str>,
) -> Result<(StaffAccount, Option<String>), AccountsError> {
    if let Some(actor) = actor {
        require_organizer(actor)?;
    }
    let account = db.staff_account(id).await?.ok_or(AccountsError::NotFound)?;
    let (password, generated) = match new_password.filter(|p| !p.is_empty()) {
        Some(p) => {
            let mut errors = FieldErrors::default();
            accounts::check_password(p, &[&account.username, &account.display_name], &mut errors);
            errors.into_result().map_err(AccountsError::Invalid)?;
            (p.to_string(), None)
        }
        None => {
            let p = accounts::password::generate();
            (p.clone(), Some(p))
        }
    };
    let hash = super::login::hash_password(password).await?;
    if !db.set_password_hash(id, &hash).await? {
        return Err(AccountsError::NotFound);
    }
    audit::record(
        db,
        now,
        actor,
        Action::PasswordReset,
        Target::Account(id),
        serde_json::json!({"generated": generated.is_some()}),
    )
    .await;
    Ok((account, generated))
}

/// The privacy notice version enterprise `user` agreed to, and when (`NotFound` for accounts
/// registered before the notice existed; `Forbidden` for staff).
pub async fn privacy_consent(
    db: &Db,
    user: &User,
) -> Result<crate::db::accounts::PrivacyConsent, AccountsError> {
    if user.role != Role::Enterprise {
        return Err(AccountsError::Forbidden);
    }
    db.privacy_consent(user.id)
        .await?
        .ok_or(AccountsError::NotFound)
}

/// The staff account called `username` (command line).
pub async fn staff_named(db: &Db, username: &str) -> Result<StaffAccount, AccountsError> {
    db.staff_account_named(username)
        .await?
        .ok_or(AccountsError::NotFound)
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
            privacy_consent: true,
            privacy_notice_version: None,
            size: None,
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

    fn organizer(id: i64) -> User {
        User {
            id,
            role: Role::Organizer,
            display_name: "组织方".into(),
            username: Some("admin".into()),
        }
    }

    #[tokio::test]
    async fn staff_are_created_disabled_and_reset_with_the_rules() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let now = Utc::now();
        let admin = create_staff(
            &db,
            now,
            None,
            &NewStaff {
                role: "organizer".into(),
                username: "admin".into(),
                display_name: "".into(),
                password: "harbor lamp orchard 7".into(),
            },
        )
        .await
        .expect("admin");
        let actor = organizer(admin.id);
        let weak = NewStaff {
            role: "lawyer".into(),
            username: "lawyer.wang".into(),
            display_name: "王律师".into(),
            password: "password".into(),
        };
        let e = create_staff(&db, now, Some(&actor), &weak)
            .await
            .expect_err("weak");
        assert!(
            matches!(&e, AccountsError::Invalid(f) if f.get("password").is_some()),
            "{e:?}"
        );
        let lawyer = create_staff(
            &db,
            now,
            Some(&actor),
            &NewStaff {
                password: "river bamboo kettle 42".into(),
                ..weak.clone()
            },
        )
        .await
        .expect("lawyer");
        assert_eq!(lawyer.display_name, "王律师");
        let again = create_staff(
            &db,
            now,
            Some(&actor),
            &NewStaff {
                password: "river bamboo kettle 42".into(),
                ..weak
            },
        )
        .await;
        assert!(
            matches!(again, Err(AccountsError::UsernameTaken)),
            "{again:?}"
        );

        // the only organizer can disable neither itself nor be disabled as the last one
        let e = set_staff_disabled(&db, now, Some(&actor), admin.id, true).await;
        assert!(matches!(e, Err(AccountsError::DisableSelf)), "{e:?}");
        let e = set_staff_disabled(&db, now, None, admin.id, true).await;
        assert!(matches!(e, Err(AccountsError::LastOrganizer)), "{e:?}");
        let off = set_staff_disabled(&db, now, Some(&actor), lawyer.id, true)
            .await
            .expect("disabled");
        assert!(!off.is_active());
        let on = set_staff_disabled(&db, now, Some(&actor), lawyer.id, false)
            .await
            .expect("enabled");
        assert!(on.is_active());

        let (_, generated) = reset_staff_password(&db, now, Some(&actor), lawyer.id, None)
            .await
            .expect("reset");
        assert!(generated.is_some_and(|p| p.len() >= 16));
        let e = reset_staff_password(&db, now, Some(&actor), lawyer.id, Some("lawyer.wang")).await;
        assert!(matches!(e, Err(AccountsError::Invalid(_))), "{e:?}");
        let lawyer_user = User {
            id: lawyer.id,
            role: Role::Lawyer,
            display_name: "王律师".into(),
            username: Some("lawyer.wang".into()),
        };
        let e = staff_accounts(&db, &lawyer_user).await;
        assert!(matches!(e, Err(AccountsError::Forbidden)), "{e:?}");
        let log = db
            .audit_entries(&crate::db::audit::AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("audit");
        let actions: Vec<&str> = log.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "account.password_reset",
                "account.enabled",
                "account.disabled",
                "account.created",
                "account.created"
            ]
        );
    }
}
