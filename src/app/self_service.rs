//! Self-service of an account (issue 15): the password reset through a verified contact,
//! profile editing, a new login mobile proven by a code, and the deletion of an enterprise
//! account (个人信息保护法 第四十七条).
//!
//! The reset never tells whether a login exists: asking for a code answers the same for an
//! unknown login, an account without a verified contact of the kind, and a real one, and the
//! code goes out in the background so the answer time does not tell either. Both steps are
//! throttled per login and per client address in the login throttle table.

use super::audit::{self, Action, Target};
use super::login::{self, Verifications};
use super::notify::contacts::{self, CodePurpose};
use super::notify::delivery::Channels;
use super::notify::NotifyError;
use crate::accounts::{self, EnterpriseSignup, LoginKey, Role, User};
use crate::db::accounts::Enterprise;
use crate::db::self_service::Deletion;
use crate::db::throttle::Reservation;
use crate::db::{violated_unique_constraint, Db, ENTERPRISES_MOBILE_KEY};
use crate::notify::{Channel, ContactKind};
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// Codes asked for per login (and per account) in one [`reset_window`].
pub const RESET_REQUESTS_PER_LOGIN: i64 = 5;
/// Reset requests and attempts per client address in one [`reset_window`].
pub const RESET_REQUESTS_PER_IP: i64 = 20;

/// Window of the reset throttles.
pub fn reset_window() -> Duration {
    Duration::hours(1)
}

/// What an account cannot do to itself, and why.
#[derive(Debug, thiserror::Error)]
pub enum SelfServiceError {
    /// Fields to correct.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Too many requests for this login or from this address.
    #[error("throttled")]
    Throttled { retry_after_s: u64 },
    /// A code that is wrong, expired, used up — or a login that does not exist (not told
    /// apart).
    #[error("bad code")]
    BadCode,
    /// The channel is not configured on this server.
    #[error("channel unavailable")]
    ChannelUnavailable(Channel),
    /// The new mobile is the login mobile of another enterprise.
    #[error("mobile taken")]
    MobileTaken,
    /// The password given to confirm a deletion is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// Staff accounts are not deleted here (organizers disable them).
    #[error("staff cannot delete themselves")]
    StaffAccount,
    /// Not for this kind of account.
    #[error("forbidden")]
    Forbidden,
    /// Any other failure of the contacts area (a code the gateway refused …), answered as
    /// that area answers it.
    #[error(transparent)]
    Notify(NotifyError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SelfServiceError {
    fn from(e: sqlx::Error) -> Self {
        SelfServiceError::Internal(e.into())
    }
}

impl From<NotifyError> for SelfServiceError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Invalid(f) => SelfServiceError::Invalid(f),
            NotifyError::Throttled { retry_after_s } => {
                SelfServiceError::Throttled { retry_after_s }
            }
            NotifyError::BadCode | NotifyError::NotFound => SelfServiceError::BadCode,
            NotifyError::ChannelUnavailable(c) => SelfServiceError::ChannelUnavailable(c),
            NotifyError::Internal(e) => SelfServiceError::Internal(e),
            other => SelfServiceError::Notify(other),
        }
    }
}

impl SelfServiceError {
    /// What the page says, in one sentence (field messages are shown next to their fields).
    pub fn message_zh(&self) -> String {
        match self {
            SelfServiceError::Invalid(_) => "请按提示修改标红的内容".into(),
            SelfServiceError::Throttled { retry_after_s } => {
                NotifyError::throttled_message_zh(*retry_after_s)
            }
            SelfServiceError::BadCode => {
                "验证码不正确或已过期（或账号不存在），请核对账号后重新获取验证码。".into()
            }
            SelfServiceError::ChannelUnavailable(c) => NotifyError::channel_unavailable_zh(*c),
            SelfServiceError::MobileTaken => "该手机号已用于另一个企业账号，请换一个手机号".into(),
            SelfServiceError::WrongPassword => "密码不正确，账号未注销。".into(),
            SelfServiceError::StaffAccount => "工作人员账号不能在此注销，请联系组织方停用。".into(),
            SelfServiceError::Forbidden => "此操作不适用于您的账号类型。".into(),
            SelfServiceError::Notify(_) | SelfServiceError::Internal(_) => {
                "服务器处理请求时出错，请稍后重试。".into()
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, SelfServiceError>;

/// The answer to every code request, whatever the login.
pub const FORGOT_ANSWER_ZH: &str =
    "如果该账号有已验证的联系方式，验证码已发送，10 分钟内有效。请在下方输入验证码和新密码。";

/// Count one attempt in `scope`, or say how long to wait.
async fn throttle(db: &Db, scope: &str, now: DateTime<Utc>, limit: i64) -> Result<()> {
    match db
        .reserve_login_attempt(scope, now, reset_window(), limit)
        .await?
    {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Refused { window_start } => {
            let wait = (window_start + reset_window() - now).num_seconds().max(1);
            Err(SelfServiceError::Throttled {
                retry_after_s: u64::try_from(wait).unwrap_or(3600),
            })
        }
    }
}

/// The account `login` names, with the throttle scope of resets for it: the account's own
/// when it exists (credit code and mobile share it), else one per unknown login.
async fn reset_subject(db: &Db, login: &str) -> Result<(Option<User>, String)> {
    let key = LoginKey::from_login(login);
    let found = db.find_login(&key).await?.map(|(user, _)| user);
    let scope = match &found {
        Some(user) => format!("reset:user:{}", user.id),
        None => format!("reset:login:{}", key.canonical()),
    };
    Ok((found, scope))
}

fn require_login(login: &str, errors: &mut FieldErrors) {
    if login.trim().is_empty() {
        errors.add("login", "请输入统一社会信用代码、手机号或用户名");
    }
}

/// `POST /api/v1/password/forgot`: send a reset code to the verified contact of `kind` of the
/// account `login` names. Answers `Ok` whether or not that account exists or has such a
/// contact (no account enumeration); only a channel this server lacks, invalid input and the
/// throttles (per login and per address, the same for every login) are errors.
pub async fn forgot_password(
    db: &Db,
    channels: &Arc<Channels>,
    now: DateTime<Utc>,
    login: &str,
    kind: ContactKind,
    client_ip: &str,
) -> Result<()> {
    let mut errors = FieldErrors::default();
    require_login(login, &mut errors);
    errors.into_result().map_err(SelfServiceError::Invalid)?;
    if !channels.has(kind.channel()) {
        return Err(SelfServiceError::ChannelUnavailable(kind.channel()));
    }
    throttle(
        db,
        &format!("reset:ip:{client_ip}"),
        now,
        RESET_REQUESTS_PER_IP,
    )
    .await?;
    let (found, scope) = reset_subject(db, login).await?;
    throttle(db, &scope, now, RESET_REQUESTS_PER_LOGIN).await?;
    let Some(user) = found else { return Ok(()) };
    if db.disabled_at(user.id).await?.is_some() {
        return Ok(());
    }
    let Some(value) = db.verified_contact(user.id, kind).await? else {
        return Ok(());
    };
    // sent in the background: the answer must take as long for an unknown login
    let (db, channels) = (db.clone(), channels.clone());
    tokio::spawn(async move {
        let sent = contacts::send_code(
            &db,
            &channels,
            now,
            user.id,
            kind,
            &value,
            CodePurpose::ResetPassword,
        )
        .await;
        if let Err(e) = sent {
            tracing::warn!(user_id = user.id, kind = kind.as_str(), error = %e,
                "a password reset code was not sent");
        }
    });
    Ok(())
}

/// A new password with the code that was sent.
#[derive(Debug, Clone)]
pub struct ResetRequest<'a> {
    pub login: &'a str,
    pub kind: ContactKind,
    pub code: &'a str,
    pub new_password: &'a str,
}

/// `POST /api/v1/password/reset`: check the code (single use, 10 minutes, 5 tries), store
/// the new password (strength rule), end every login session of the account, note it in the
/// audit log and tell the account on every channel. An unknown login answers like a wrong
/// code.
pub async fn reset_password(
    db: &Db,
    now: DateTime<Utc>,
    req: &ResetRequest<'_>,
    client_ip: &str,
) -> Result<User> {
    let mut errors = FieldErrors::default();
    require_login(req.login, &mut errors);
    if req.code.trim().is_empty() {
        errors.add("code", "请输入 6 位数字验证码");
    }
    errors.into_result().map_err(SelfServiceError::Invalid)?;
    throttle(
        db,
        &format!("reset:ip:{client_ip}"),
        now,
        RESET_REQUESTS_PER_IP,
    )
    .await?;
    let (found, _) = reset_subject(db, req.login).await?;
    // the strength rule first, so a weak password does not use up the code; the account's
    // own names make a password guessable
    let mut inputs: Vec<String> = vec![req.login.trim().to_string()];
    let enterprise = match &found {
        Some(user) => {
            inputs.push(user.display_name.clone());
            inputs.extend(user.username.clone());
            db.enterprise(user.id).await?
        }
        None => None,
    };
    if let Some(e) = &enterprise {
        inputs.extend([e.uscc.clone(), e.mobile.clone(), e.contact_name.clone()]);
    }
    let input_refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut errors = FieldErrors::default();
    accounts::check_password(req.new_password, &input_refs, &mut errors);
    if let Some(message) = errors.get("password") {
        return Err(SelfServiceError::Invalid(FieldErrors::single(
            "new_password",
            message,
        )));
    }
    let Some(user) = found else {
        return Err(SelfServiceError::BadCode);
    };
    if db.disabled_at(user.id).await?.is_some() {
        return Err(SelfServiceError::BadCode);
    }
    contacts::check_code(
        db,
        now,
        user.id,
        req.kind,
        CodePurpose::ResetPassword,
        req.code,
    )
    .await?;
    let hash = login::hash_password(req.new_password.to_string()).await?;
    if !db.reset_password_by_code(user.id, &hash, now).await? {
        return Err(SelfServiceError::BadCode);
    }
    // the owner proved itself: earlier wrong passwords no longer hold its login back
    db.clear_login_failures(&format!("user:{}", user.id))
        .await?;
    audit::record(
        db,
        now,
        Some(&user),
        Action::PasswordReset,
        Target::Account(user.id),
        serde_json::json!({"self_service": true, "channel": req.kind.channel().as_str()}),
    )
    .await;
    Ok(user)
}

/// The own profile: the enterprise's fields, or a staff account's display name.
#[derive(Debug, Clone)]
pub struct Profile {
    pub user: User,
    pub enterprise: Option<Enterprise>,
}

/// The profile of `user`.
pub async fn profile(db: &Db, user: &User) -> Result<Profile> {
    let user = db.user(user.id).await?.unwrap_or_else(|| user.clone());
    let enterprise = match user.role {
        Role::Enterprise => db.enterprise(user.id).await?,
        _ => None,
    };
    Ok(Profile { user, enterprise })
}

/// The fields `/me/profile` changes; which apply depends on the account's role (enterprise:
/// `name`, `industry`, `district`, `contact_name`; staff: `display_name`). A field left out
/// keeps its value.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "示例科技有限公司", "industry": "I", "district": "鼓楼区",
    "contact_name": "示例联系人"}))]
pub struct ProfileUpdate {
    /// Enterprise: company name.
    #[serde(default)]
    pub name: Option<String>,
    /// Enterprise: GB/T 4754-2017 section letter A–T.
    #[serde(default)]
    pub industry: Option<String>,
    /// Enterprise: district (empty clears it).
    #[serde(default)]
    pub district: Option<String>,
    /// Enterprise: contact person.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// Staff: the name shown in the UI.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Enterprise: 企业规模 `micro`, `small`, `medium` or `large` (empty clears it).
    #[serde(default)]
    pub size: Option<String>,
}

const ENTERPRISE_FIELDS: [&str; 5] = ["name", "industry", "district", "contact_name", "size"];

/// Change the own profile, validated with the registration's rules. Staff changes go to the
/// audit log.
pub async fn update_profile(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    update: &ProfileUpdate,
) -> Result<Profile> {
    match user.role {
        Role::Enterprise => {
            if update.display_name.is_some() {
                return Err(SelfServiceError::Invalid(FieldErrors::single(
                    "display_name",
                    "企业账号的显示名称就是企业名称，请修改企业名称",
                )));
            }
            let current = db
                .enterprise(user.id)
                .await?
                .ok_or(SelfServiceError::Forbidden)?;
            // the registration's own rules: the unchanged credit code and mobile, and a
            // throwaway strong password, fill the fields not edited here
            let signup = EnterpriseSignup {
                name: update.name.clone().unwrap_or_else(|| current.name.clone()),
                uscc: current.uscc.clone(),
                industry: update
                    .industry
                    .clone()
                    .unwrap_or_else(|| current.industry.clone()),
                district: match &update.district {
                    Some(d) => Some(d.clone()),
                    None => current.district.clone(),
                },
                contact_name: update
                    .contact_name
                    .clone()
                    .unwrap_or_else(|| current.contact_name.clone()),
                mobile: current.mobile.clone(),
                password: accounts::random_token(),
                privacy_consent: true,
                privacy_notice_version: None,
                size: update.size.clone().or_else(|| current.size.clone()),
            };
            let valid = match accounts::validate_enterprise(&signup) {
                Ok(v) => v,
                Err(errors) => {
                    let own: Vec<_> = errors
                        .0
                        .into_iter()
                        .filter(|e| ENTERPRISE_FIELDS.contains(&e.field.as_str()))
                        .collect();
                    if own.is_empty() {
                        return Err(SelfServiceError::Internal(anyhow::anyhow!(
                            "the stored credit code or mobile of enterprise {} does not validate",
                            user.id
                        )));
                    }
                    return Err(SelfServiceError::Invalid(FieldErrors(own)));
                }
            };
            db.update_enterprise_profile(
                user.id,
                &valid.name,
                valid.industry,
                valid.district.as_deref(),
                &valid.contact_name,
            )
            .await?;
            db.set_enterprise_size(user.id, valid.size).await?;
        }
        Role::Organizer | Role::Lawyer => {
            if ENTERPRISE_FIELDS
                .iter()
                .zip([
                    &update.name,
                    &update.industry,
                    &update.district,
                    &update.contact_name,
                    &update.size,
                ])
                .any(|(_, v)| v.is_some())
            {
                return Err(SelfServiceError::Invalid(FieldErrors::single(
                    "display_name",
                    "工作人员账号只能修改显示名称",
                )));
            }
            if let Some(name) = &update.display_name {
                let display = name.split_whitespace().collect::<Vec<_>>().join(" ");
                let mut errors = FieldErrors::default();
                if display.is_empty() {
                    errors.add("display_name", "请填写显示名称");
                } else if display.chars().count() > 50 {
                    errors.add("display_name", "显示名称不能超过50个字符");
                } else {
                    errors.check_text("display_name", "显示名称", &display, Lines::Single);
                }
                errors.into_result().map_err(SelfServiceError::Invalid)?;
                if display != user.display_name {
                    db.set_staff_display_name(user.id, &display).await?;
                    audit::record(
                        db,
                        now,
                        Some(user),
                        Action::ProfileEdited,
                        Target::Account(user.id),
                        serde_json::json!({"fields": ["display_name"]}),
                    )
                    .await;
                }
            }
        }
    }
    profile(db, user).await
}

/// Send a code to `new_mobile`, the enterprise's next login mobile. Until the code is
/// confirmed with [`confirm_mobile_change`] the login mobile stays as it was.
pub async fn request_mobile_change(
    db: &Db,
    channels: &Channels,
    now: DateTime<Utc>,
    user: &User,
    new_mobile: &str,
) -> Result<contacts::CodeSent> {
    if user.role != Role::Enterprise {
        return Err(SelfServiceError::Forbidden);
    }
    let mobile = contacts::normalize(ContactKind::Mobile, new_mobile).map_err(|e| {
        SelfServiceError::Invalid(FieldErrors::single(
            "mobile",
            e.get("value").unwrap_or("请输入手机号"),
        ))
    })?;
    let current = db
        .enterprise(user.id)
        .await?
        .ok_or(SelfServiceError::Forbidden)?;
    if current.mobile == mobile {
        return Err(SelfServiceError::Invalid(FieldErrors::single(
            "mobile",
            "这已是您的登录手机号",
        )));
    }
    let key = LoginKey {
        mobile: Some(mobile.clone()),
        ..Default::default()
    };
    if db.find_login(&key).await?.is_some() {
        return Err(SelfServiceError::MobileTaken);
    }
    Ok(contacts::send_code(
        db,
        channels,
        now,
        user.id,
        ContactKind::Mobile,
        &mobile,
        CodePurpose::VerifyContact,
    )
    .await?)
}

/// Confirm the new login mobile with its code: it becomes the login mobile and the verified
/// mobile contact at once.
pub async fn confirm_mobile_change(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    code: &str,
) -> Result<Profile> {
    if user.role != Role::Enterprise {
        return Err(SelfServiceError::Forbidden);
    }
    let mobile = contacts::check_code(
        db,
        now,
        user.id,
        ContactKind::Mobile,
        CodePurpose::VerifyContact,
        code,
    )
    .await?;
    match db.change_login_mobile(user.id, &mobile, now).await {
        Ok(true) => {}
        Ok(false) => return Err(SelfServiceError::Forbidden),
        Err(e) if violated_unique_constraint(&e).as_deref() == Some(ENTERPRISES_MOBILE_KEY) => {
            return Err(SelfServiceError::MobileTaken)
        }
        Err(e) => return Err(e.into()),
    }
    profile(db, user).await
}

/// Delete the enterprise account of `user` after checking its password and the explicit
/// confirmation (see [`Db::delete_enterprise_account`] for what goes and what stays). Wrong
/// passwords count against the account's login throttle. Staff accounts are refused.
pub async fn delete_account(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    password: &str,
    confirmed: bool,
    verifications: &Verifications,
) -> Result<Deletion> {
    if user.role != Role::Enterprise {
        return Err(SelfServiceError::StaffAccount);
    }
    let mut errors = FieldErrors::default();
    if password.is_empty() {
        errors.add("password", "请输入当前密码");
    }
    if !confirmed {
        errors.add("confirm", "请勾选确认注销");
    }
    errors.into_result().map_err(SelfServiceError::Invalid)?;
    let scope = format!("user:{}", user.id);
    if let Reservation::Refused { window_start } = db
        .reserve_login_attempt(
            &scope,
            now,
            login::failure_window(),
            login::ACCOUNT_FAILURE_LIMIT,
        )
        .await?
    {
        let wait = (window_start + login::failure_window() - now)
            .num_seconds()
            .max(1);
        return Err(SelfServiceError::Throttled {
            retry_after_s: u64::try_from(wait).unwrap_or(900),
        });
    }
    let stored = db.password_hash(user.id).await?;
    if !login::verify_password(password.to_string(), stored, verifications).await? {
        return Err(SelfServiceError::WrongPassword);
    }
    let deletion = db
        .delete_enterprise_account(user.id, now)
        .await?
        .ok_or(SelfServiceError::Forbidden)?;
    audit::record(
        db,
        now,
        Some(user),
        Action::AccountDeleted,
        Target::Account(user.id),
        serde_json::json!({}),
    )
    .await;
    Ok(deletion)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn setup() -> (tempfile::TempDir, Db, User, User) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let now = Utc::now();
        let e = crate::app::accounts::register_enterprise(
            &db,
            now,
            &EnterpriseSignup {
                name: "示例科技有限公司".into(),
                uscc: "91350100M000100Y43".into(),
                industry: "E".into(),
                district: Some("示例区".into()),
                contact_name: "示例联系人".into(),
                mobile: "13800138000".into(),
                password: "enterprise-pass-1".into(),
                privacy_consent: true,
                privacy_notice_version: None,
                size: None,
            },
        )
        .await
        .expect("registered");
        let staff = db
            .insert_staff(Role::Lawyer, "lawyer.li", "李律师", "x")
            .await
            .expect("staff");
        let enterprise = db.user(e.id).await.expect("user").expect("exists");
        let lawyer = db.user(staff).await.expect("user").expect("exists");
        (dir, db, enterprise, lawyer)
    }

    #[tokio::test]
    async fn each_role_edits_only_its_own_fields() {
        let (_dir, db, enterprise, lawyer) = setup().await;
        let now = Utc::now();
        let e = update_profile(
            &db,
            now,
            &enterprise,
            &ProfileUpdate {
                display_name: Some("别名".into()),
                ..Default::default()
            },
        )
        .await;
        assert!(matches!(&e, Err(SelfServiceError::Invalid(f)) if f.get("display_name").is_some()));
        // a field left out keeps its value; a blank district clears it
        let p = update_profile(
            &db,
            now,
            &enterprise,
            &ProfileUpdate {
                district: Some("  ".into()),
                ..Default::default()
            },
        )
        .await
        .expect("saved");
        let stored = p.enterprise.expect("enterprise");
        assert_eq!(stored.district, None);
        assert_eq!(stored.name, "示例科技有限公司");
        assert_eq!(stored.uscc, "91350100M000100Y43");

        let e = update_profile(
            &db,
            now,
            &lawyer,
            &ProfileUpdate {
                contact_name: Some("张三".into()),
                ..Default::default()
            },
        )
        .await;
        assert!(matches!(e, Err(SelfServiceError::Invalid(_))), "{e:?}");
        for bad in ["   ", "律\u{202E}师"] {
            let e = update_profile(
                &db,
                now,
                &lawyer,
                &ProfileUpdate {
                    display_name: Some(bad.into()),
                    ..Default::default()
                },
            )
            .await;
            assert!(
                matches!(e, Err(SelfServiceError::Invalid(_))),
                "{bad}: {e:?}"
            );
        }
        let p = update_profile(
            &db,
            now,
            &lawyer,
            &ProfileUpdate {
                display_name: Some(" 李 律师 ".into()),
                ..Default::default()
            },
        )
        .await
        .expect("saved");
        assert_eq!(p.user.display_name, "李 律师");
    }

    #[tokio::test]
    async fn staff_are_not_deleted_here_and_enterprises_need_password_and_confirmation() {
        let (_dir, db, enterprise, lawyer) = setup().await;
        let now = Utc::now();
        let v = Verifications::default();
        let e = delete_account(&db, now, &lawyer, "x", true, &v).await;
        assert!(matches!(e, Err(SelfServiceError::StaffAccount)), "{e:?}");
        let e = delete_account(&db, now, &enterprise, "", false, &v).await;
        let Err(SelfServiceError::Invalid(f)) = e else {
            panic!("expected Invalid, got {e:?}");
        };
        assert!(f.get("password").is_some() && f.get("confirm").is_some());
        let e = delete_account(&db, now, &enterprise, "wrong-pass", true, &v).await;
        assert!(matches!(e, Err(SelfServiceError::WrongPassword)), "{e:?}");
        delete_account(&db, now, &enterprise, "enterprise-pass-1", true, &v)
            .await
            .expect("deleted");
        // nothing is left to log in with
        let key = LoginKey::from_login("91350100M000100Y43");
        assert!(db.find_login(&key).await.expect("lookup").is_none());
        let hash = db.password_hash(enterprise.id).await.expect("hash");
        assert!(
            !login::verify_password("enterprise-pass-1".into(), hash, &v)
                .await
                .expect("verify")
        );
    }
}
