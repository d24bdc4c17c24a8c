//! Credit-code disputes: a company whose 统一社会信用代码 another account registered files a
//! claim with its business licence; organizers review it and reject it, freeze the holding
//! account, or hand the code over to a new account for the claimant. Both sides are told: the
//! holder in its inbox (and channels), the claimant — who has no account — directly by mail or
//! SMS when a channel is configured, and always on its private status page.
//!
//! Licence images are personal-adjacent evidence: they live under `DATA/claims/` with random
//! names (never under the public media root), are served only to organizers with
//! `Cache-Control: private, no-store`, and every opening is audited. `pufa backup` includes
//! them with the database.

use super::audit::{self, Action, Target};
use super::notify::delivery::Channels;
use crate::accounts::{self, mobile, uscc::Uscc, Role, User};
use crate::config::PublicUrl;
use crate::db::claims::{Claim, ClaimChange, ClaimState, Holder, NewClaimRow};
use crate::db::deliveries::Outcome;
use crate::db::throttle::Reservation;
use crate::db::{violated_unique_constraint, Db, CLAIMS_ONE_OPEN_KEY};
use crate::validation::{FieldErrors, Lines};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Folder of the licence files inside the data directory.
pub const CLAIMS_DIR: &str = "claims";
/// Largest licence file accepted.
pub const MAX_LICENCE_BYTES: usize = 5 * 1024 * 1024;
/// Longest statement.
pub const MAX_STATEMENT_CHARS: usize = 500;
/// Claims one address may file per hour.
pub const CLAIMS_PER_IP_HOUR: i64 = 5;
/// How long the claimant's password setup link stays valid after the hand-over.
pub fn activation_validity() -> Duration {
    Duration::days(7)
}

/// What can go wrong with a claim.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    /// Fields to correct, each with its message.
    #[error("invalid claim")]
    Invalid(FieldErrors),
    /// No account holds the code: the company can simply register.
    #[error("credit code not registered")]
    NotRegistered,
    /// This contact has an open claim for this code already.
    #[error("claim already open")]
    AlreadyOpen,
    /// Too many claims from this address.
    #[error("throttled for {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    /// Only organizers review claims.
    #[error("forbidden")]
    Forbidden,
    /// No such claim, or a wrong status token.
    #[error("not found")]
    NotFound,
    /// The claim was decided already.
    #[error("claim not pending")]
    NotPending,
    /// The claimant's mobile is another (third) account's login.
    #[error("mobile taken")]
    MobileTaken,
    /// The account the claim names no longer holds the code (it was handed over on another
    /// claim): nothing to transfer.
    #[error("code no longer held")]
    CodeMoved,
    /// The password setup link was used or has expired.
    #[error("setup link expired or used")]
    LinkUsed,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ClaimsError {
    fn from(e: sqlx::Error) -> Self {
        ClaimsError::Internal(e.into())
    }
}

impl ClaimsError {
    /// The Chinese sentence shown for this error.
    pub fn message_zh(&self) -> String {
        match self {
            ClaimsError::Invalid(_) => "请按提示修改标红的内容".into(),
            ClaimsError::NotRegistered => "该信用代码尚未注册，可直接注册".into(),
            ClaimsError::AlreadyOpen => {
                "您已为该信用代码提交过申诉，正在审核中，请勿重复提交；进度见提交后给出的查询链接"
                    .into()
            }
            ClaimsError::Throttled { retry_after_s } => format!(
                "提交次数过多，请在{}分钟后再试。",
                retry_after_s.div_ceil(60)
            ),
            ClaimsError::Forbidden => "只有组织方可以处理信用代码申诉".into(),
            ClaimsError::NotFound => "没有找到这条申诉".into(),
            ClaimsError::NotPending => "这条申诉已处理过，不能再次操作".into(),
            ClaimsError::MobileTaken => {
                "申诉人的手机号已被另一个企业账号使用，无法移交；请联系申诉人更换手机号".into()
            }
            ClaimsError::CodeMoved => {
                "该信用代码已不在被申诉的账号名下（可能已按另一条申诉移交），请核实后驳回本申诉"
                    .into()
            }
            ClaimsError::LinkUsed => {
                "密码设置链接已使用或已过期（有效期7天），请联系工商联组织方".into()
            }
            ClaimsError::Internal(_) => "服务器处理请求时出错，请稍后重试。".into(),
        }
    }
}

type Result<T> = std::result::Result<T, ClaimsError>;

/// A claim as the claimant enters it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewClaim {
    pub company_name: String,
    pub uscc: String,
    pub contact_name: String,
    pub mobile: String,
    pub email: String,
    pub statement: String,
}

/// The licence's type, by its first bytes (never by the name or the declared type).
pub fn sniff_licence(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else {
        None
    }
}

/// A claim that passed every check, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidClaim {
    pub company_name: String,
    pub uscc: String,
    pub contact_name: String,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub statement: String,
    pub licence_type: &'static str,
    pub licence_ext: &'static str,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Check every field of a claim and the licence (`None`: none was sent).
pub fn validate(
    input: &NewClaim,
    licence: Option<&[u8]>,
) -> std::result::Result<ValidClaim, FieldErrors> {
    let mut errors = FieldErrors::default();
    let company_name = clean(&input.company_name);
    match company_name.chars().count() {
        0 => errors.add("company_name", "请填写企业名称（与营业执照一致）"),
        2..=100 => {
            errors.check_text("company_name", "企业名称", &company_name, Lines::Single);
        }
        _ => errors.add("company_name", "企业名称应为2到100个字符"),
    }
    let uscc = match Uscc::parse(&input.uscc) {
        Ok(c) => c.as_str().to_string(),
        Err(e) => {
            errors.add("uscc", e.message_zh());
            String::new()
        }
    };
    let contact_name = clean(&input.contact_name);
    match contact_name.chars().count() {
        0 => errors.add("contact_name", "请填写联系人姓名"),
        1..=50 => {
            errors.check_text("contact_name", "联系人姓名", &contact_name, Lines::Single);
        }
        _ => errors.add("contact_name", "联系人姓名不能超过50个字符"),
    }
    let mobile = match input.mobile.trim() {
        "" => None,
        m => match mobile::normalize_mobile(m) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.add("mobile", e.message_zh());
                None
            }
        },
    };
    let email = match input.email.trim() {
        "" => None,
        e => match super::notify::contacts::normalize(crate::notify::ContactKind::Email, e) {
            Ok(e) => Some(e),
            Err(_) => {
                errors.add("email", "电子邮箱地址格式不正确（如 name@example.cn）");
                None
            }
        },
    };
    if input.mobile.trim().is_empty() && input.email.trim().is_empty() {
        errors.add("mobile", "手机号和电子邮箱至少填写一项，用于告知审核结果");
    }
    let statement = input.statement.trim().to_string();
    let statement_len = statement.chars().count();
    if statement_len == 0 {
        errors.add("statement", "请简要说明情况（如：本企业从未在本平台注册）");
    } else if statement_len > MAX_STATEMENT_CHARS {
        errors.add(
            "statement",
            format!("情况说明不能超过{MAX_STATEMENT_CHARS}个字（现在{statement_len}个）"),
        );
    } else {
        errors.check_text("statement", "情况说明", &statement, Lines::Multi);
    }
    let licence_kind = match licence {
        None | Some([]) => {
            errors.add("licence", "请上传营业执照照片或扫描件（JPEG、PNG 或 PDF）");
            None
        }
        Some(b) if b.len() > MAX_LICENCE_BYTES => {
            errors.add("licence", "营业执照文件不能超过5 MB，请压缩后再上传");
            None
        }
        Some(b) => match sniff_licence(b) {
            Some(k) => Some(k),
            None => {
                errors.add(
                    "licence",
                    "营业执照文件应为 JPEG、PNG 图片或 PDF；该文件不是这几种格式",
                );
                None
            }
        },
    };
    match licence_kind {
        Some((licence_type, licence_ext)) if errors.is_empty() => Ok(ValidClaim {
            company_name,
            uscc,
            contact_name,
            mobile,
            email,
            statement,
            licence_type,
            licence_ext,
        }),
        _ => Err(errors),
    }
}

/// A claim just filed: its number and the secret of its status link (shown once).
#[derive(Debug, Clone)]
pub struct FiledClaim {
    pub id: i64,
    pub token: String,
}

impl FiledClaim {
    /// The private status page.
    pub fn status_path(&self) -> String {
        status_path(self.id, &self.token)
    }
}

/// `/claims/{id}/{token}`.
pub fn status_path(id: i64, token: &str) -> String {
    format!("/claims/{id}/{token}")
}

/// Where the licence files are.
pub fn claims_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CLAIMS_DIR)
}

/// File a claim from `client_ip` with the licence bytes. Checks the fields, the per-address
/// limit and that the code belongs to an account; stores the licence privately and the claim;
/// then tells the claimant (best effort) with the status link.
#[allow(clippy::too_many_arguments)]
pub async fn file(
    db: &Db,
    channels: &Channels,
    public_url: &PublicUrl,
    data_dir: &Path,
    now: DateTime<Utc>,
    client_ip: &str,
    input: &NewClaim,
    licence: Option<&[u8]>,
) -> Result<FiledClaim> {
    let valid = validate(input, licence).map_err(ClaimsError::Invalid)?;
    let scope = format!("claim-ip:{client_ip}");
    if let Reservation::Refused { window_start } = db
        .reserve_login_attempt(&scope, now, Duration::hours(1), CLAIMS_PER_IP_HOUR)
        .await?
    {
        let wait = (window_start + Duration::hours(1) - now)
            .num_seconds()
            .max(1);
        return Err(ClaimsError::Throttled {
            retry_after_s: u64::try_from(wait).unwrap_or(3600),
        });
    }
    let holder = db
        .holder_of_uscc(&valid.uscc)
        .await?
        .ok_or(ClaimsError::NotRegistered)?;
    let bytes = licence.unwrap_or_default();
    let dir = claims_dir(data_dir);
    let name = format!("{}.{}", accounts::random_token(), valid.licence_ext);
    write_private(&dir, &name, bytes).await?;
    let token = accounts::random_token();
    let token_hash = accounts::token_hash(&token);
    let contact_key = valid
        .mobile
        .clone()
        .or_else(|| valid.email.clone())
        .unwrap_or_default();
    let row = NewClaimRow {
        uscc: &valid.uscc,
        company_name: &valid.company_name,
        contact_name: &valid.contact_name,
        mobile: valid.mobile.as_deref(),
        email: valid.email.as_deref(),
        contact_key: &contact_key,
        statement: &valid.statement,
        licence_file: &name,
        licence_type: valid.licence_type,
        token_hash: &token_hash,
        holder_user_id: holder,
    };
    let id = match db.insert_claim(&row, now).await {
        Ok(id) => id,
        Err(e) => {
            // the stored file belongs to no claim
            tokio::fs::remove_file(dir.join(&name)).await.ok();
            if violated_unique_constraint(&e).as_deref() == Some(CLAIMS_ONE_OPEN_KEY) {
                return Err(ClaimsError::AlreadyOpen);
            }
            return Err(ClaimsError::Internal(
                anyhow::Error::new(e).context("storing a claim"),
            ));
        }
    };
    let filed = FiledClaim { id, token };
    let link = public_url.join(&filed.status_path());
    tell_claimant(
        channels,
        valid.mobile.as_deref(),
        valid.email.as_deref(),
        Notice {
            id,
            sms_template: "PUFA_CLAIM_RECEIVED",
            subject: "信用代码申诉已受理",
            text: format!(
                "您为“{}”（统一社会信用代码 {}）提交的申诉已受理，申诉编号 {id}。\n工商联组织方将核对营业执照后处理，结果会通知您。\n查询进度（请妥善保存，不要转发）：{link}",
                valid.company_name, valid.uscc
            ),
        },
    )
    .await;
    Ok(filed)
}

/// Write `bytes` to `dir/name` readable by the owner only, creating `dir`.
async fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&path).context("creating the licence file")?;
        f.write_all(&bytes).context("writing the licence file")?;
        f.sync_all().context("writing the licence file")?;
        Ok(())
    })
    .await
    .context("the licence writer ended abnormally")??;
    Ok(())
}

/// A message for the claimant.
struct Notice {
    id: i64,
    sms_template: &'static str,
    subject: &'static str,
    text: String,
}

/// Tell the claimant by every configured channel it gave. Best effort: the decision stands
/// and the status page shows it when a send fails (logged without the address).
async fn tell_claimant(
    channels: &Channels,
    mobile: Option<&str>,
    email: Option<&str>,
    notice: Notice,
) {
    if let (Some(to), Some(sms)) = (mobile, &channels.sms) {
        let params = BTreeMap::from([("id".to_string(), notice.id.to_string())]);
        if let Outcome::Retry(e) | Outcome::Permanent(e) =
            sms.send(to, notice.sms_template, &params).await
        {
            tracing::warn!(claim = notice.id, error = %e, "telling a claimant by SMS failed");
        }
    }
    if let (Some(to), Some(mail)) = (email, &channels.mail) {
        let subject = format!("{}（编号 {}）", notice.subject, notice.id);
        if let Outcome::Retry(e) | Outcome::Permanent(e) =
            mail.send_text(to, &subject, &notice.text).await
        {
            tracing::warn!(claim = notice.id, error = %e, "telling a claimant by mail failed");
        }
    }
}

/// The claim behind a status link; a wrong token is `NotFound`, like a missing claim.
pub async fn by_token(db: &Db, id: i64, token: &str) -> Result<Claim> {
    let claim = db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    let given = accounts::token_hash(token);
    // constant-time comparison of the hashes
    let same = given.len() == claim.token_hash.len()
        && given
            .bytes()
            .zip(claim.token_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(claim)
    } else {
        Err(ClaimsError::NotFound)
    }
}

/// Whether the claimant may still set its password through the link.
pub fn can_activate(claim: &Claim, now: DateTime<Utc>) -> bool {
    claim.state == ClaimState::Transferred
        && claim.activated_at.is_none()
        && claim.activate_until.is_some_and(|t| t > now)
}

/// Set the password of the handed-over account through the one-time link (strength-checked,
/// privacy notice agreed to). Returns the new account's id.
pub async fn activate(
    db: &Db,
    now: DateTime<Utc>,
    id: i64,
    token: &str,
    password: &str,
    privacy_consent: bool,
) -> Result<i64> {
    let claim = by_token(db, id, token).await?;
    if !can_activate(&claim, now) {
        return Err(ClaimsError::LinkUsed);
    }
    let mut errors = FieldErrors::default();
    accounts::check_password(
        password,
        &[
            &claim.company_name,
            &claim.uscc,
            &claim.contact_name,
            claim.mobile.as_deref().unwrap_or(""),
        ],
        &mut errors,
    );
    if !privacy_consent {
        errors.add("privacy_consent", accounts::privacy::CONSENT_REQUIRED_ZH);
    }
    errors.into_result().map_err(ClaimsError::Invalid)?;
    let hash = super::login::hash_password(password.to_string()).await?;
    db.activate_claim_account(id, &hash, accounts::privacy::NOTICE_VERSION, now)
        .await?
        .ok_or(ClaimsError::LinkUsed)
}

fn require_organizer(actor: &User) -> Result<()> {
    if actor.role == Role::Organizer {
        Ok(())
    } else {
        Err(ClaimsError::Forbidden)
    }
}

/// The claims in `state` (all when `None`), newest first, for organizers.
pub async fn list(db: &Db, actor: &User, state: Option<ClaimState>) -> Result<Vec<Claim>> {
    require_organizer(actor)?;
    Ok(db.claims(state).await?)
}

/// A claim with the account holding (or that held) its code, for organizers.
pub async fn detail(db: &Db, actor: &User, id: i64) -> Result<(Claim, Option<Holder>)> {
    require_organizer(actor)?;
    let claim = db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    let holder = match claim.holder_user_id {
        Some(h) => db.claim_holder(h).await?,
        None => None,
    };
    Ok((claim, holder))
}

/// The licence file of claim `id` and its type, for organizers; every opening is audited.
pub async fn licence(
    db: &Db,
    data_dir: &Path,
    now: DateTime<Utc>,
    actor: &User,
    id: i64,
) -> Result<(Vec<u8>, String)> {
    require_organizer(actor)?;
    let claim = db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    // the stored name is ours (random token + extension), but never trust a path from the
    // database to stay inside the folder
    if claim.licence_file.contains(['/', '\\']) || claim.licence_file.starts_with('.') {
        return Err(ClaimsError::NotFound);
    }
    let path = claims_dir(data_dir).join(&claim.licence_file);
    let bytes = tokio::fs::read(&path)
        .await
        .with_context(|| format!("reading the licence of claim {id}"))?;
    audit::record(
        db,
        now,
        Some(actor),
        Action::ClaimLicenceOpened,
        Target::Claim(id),
        serde_json::json!({}),
    )
    .await;
    Ok((bytes, claim.licence_type))
}

/// Reject pending claim `id` with `reason`; the claimant is told.
pub async fn reject(
    db: &Db,
    channels: &Channels,
    now: DateTime<Utc>,
    actor: &User,
    id: i64,
    reason: &str,
) -> Result<Claim> {
    require_organizer(actor)?;
    let reason = reason.trim();
    let mut errors = FieldErrors::default();
    match reason.chars().count() {
        0 => errors.add("reason", "请填写驳回原因（申诉人会看到）"),
        1..=200 => {
            errors.check_text("reason", "驳回原因", reason, Lines::Multi);
        }
        _ => errors.add("reason", "驳回原因不能超过200个字"),
    }
    errors.into_result().map_err(ClaimsError::Invalid)?;
    let claim = db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    if !db.reject_claim(id, reason, actor.id, now).await? {
        return Err(ClaimsError::NotPending);
    }
    audit::record(
        db,
        now,
        Some(actor),
        Action::ClaimRejected,
        Target::Claim(id),
        serde_json::json!({"reason": reason}),
    )
    .await;
    tell_claimant(
        channels,
        claim.mobile.as_deref(),
        claim.email.as_deref(),
        Notice {
            id,
            sms_template: "PUFA_CLAIM_REJECTED",
            subject: "信用代码申诉未通过",
            text: format!(
                "您为“{}”（统一社会信用代码 {}）提交的申诉（编号 {id}）经工商联组织方审核未通过。\n原因：{reason}\n如有疑问，请携营业执照联系工商联组织方；也可在申诉查询链接中查看。",
                claim.company_name, claim.uscc
            ),
        },
    )
    .await;
    db.claim(id).await?.ok_or(ClaimsError::NotFound)
}

fn change_result(change: ClaimChange) -> Result<usize> {
    match change {
        ClaimChange::Done { cancelled } => Ok(cancelled),
        ClaimChange::NotPending => Err(ClaimsError::NotPending),
        ClaimChange::NotFound => Err(ClaimsError::NotFound),
        ClaimChange::MobileTaken => Err(ClaimsError::MobileTaken),
        ClaimChange::CodeMoved => Err(ClaimsError::CodeMoved),
    }
}

/// Freeze the account holding the code of pending claim `id`: it cannot log in, its sessions
/// end, its sign-ups for sessions not yet started are cancelled (the waitlists move up) and it
/// is told why and how to object. Returns the sign-ups cancelled.
pub async fn freeze(db: &Db, now: DateTime<Utc>, actor: &User, id: i64) -> Result<usize> {
    require_organizer(actor)?;
    db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    let cancelled = change_result(db.freeze_claim_holder(id, now).await?)?;
    audit::record(
        db,
        now,
        Some(actor),
        Action::ClaimHolderFrozen,
        Target::Claim(id),
        serde_json::json!({"signups_cancelled": cancelled}),
    )
    .await;
    Ok(cancelled)
}

/// Hand the code of pending claim `id` over to a new account for the claimant (freezing the
/// holder first when needed); the claimant is told to set its password through its status
/// link, the holder in its inbox.
pub async fn transfer(
    db: &Db,
    channels: &Channels,
    now: DateTime<Utc>,
    actor: &User,
    id: i64,
) -> Result<Claim> {
    require_organizer(actor)?;
    db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    let until = now + activation_validity();
    let cancelled = change_result(
        db.transfer_claim(id, actor.id, now, until, &accounts::random_token())
            .await?,
    )?;
    let claim = db.claim(id).await?.ok_or(ClaimsError::NotFound)?;
    audit::record(
        db,
        now,
        Some(actor),
        Action::ClaimTransferred,
        Target::Claim(id),
        serde_json::json!({"new_account": claim.new_user_id, "former_account": claim.holder_user_id,
            "signups_cancelled": cancelled}),
    )
    .await;
    tell_claimant(
        channels,
        claim.mobile.as_deref(),
        claim.email.as_deref(),
        Notice {
            id,
            sms_template: "PUFA_CLAIM_DONE",
            subject: "信用代码申诉已通过",
            text: format!(
                "您为“{}”提交的申诉（编号 {id}）已通过：统一社会信用代码 {} 已移交给贵企业的新账号。\n请在7天内打开提交申诉时收到的查询链接，设置登录密码；之后用信用代码和新密码登录。",
                claim.company_name, claim.uscc
            ),
        },
    )
    .await;
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> NewClaim {
        NewClaim {
            company_name: "真实示例制造有限公司".into(),
            uscc: "91350100m000100y43".into(),
            contact_name: "王经理".into(),
            mobile: "138 0013 8000".into(),
            email: String::new(),
            statement: "本企业从未注册。".into(),
        }
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn licences_are_known_by_their_first_bytes() {
        assert_eq!(sniff_licence(PNG), Some(("image/png", "png")));
        assert_eq!(
            sniff_licence(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(("image/jpeg", "jpg"))
        );
        assert_eq!(
            sniff_licence(b"%PDF-1.7\n"),
            Some(("application/pdf", "pdf"))
        );
        assert_eq!(sniff_licence(b"GIF89a"), None);
        assert_eq!(sniff_licence(b"<svg xmlns=..."), None);
        assert_eq!(sniff_licence(b""), None);
    }

    #[test]
    fn a_claim_is_normalised_and_checked_field_by_field() {
        let v = validate(&input(), Some(PNG)).expect("valid");
        assert_eq!(v.uscc, "91350100M000100Y43");
        assert_eq!(v.mobile.as_deref(), Some("13800138000"));
        assert_eq!(v.email, None);
        assert_eq!(v.licence_type, "image/png");

        let mut no_contact = input();
        no_contact.mobile.clear();
        let e = validate(&no_contact, Some(PNG)).expect_err("no contact");
        assert!(e.get("mobile").is_some_and(|m| m.contains("至少填写一项")));
        let mut email_only = no_contact.clone();
        email_only.email = "Claims@Example.CN".into();
        let v = validate(&email_only, Some(PNG)).expect("e-mail only");
        assert_eq!(v.email.as_deref(), Some("Claims@example.cn"));

        let mut long = input();
        long.statement = "说".repeat(MAX_STATEMENT_CHARS + 1);
        let e = validate(&long, Some(PNG)).expect_err("too long");
        assert!(e.get("statement").is_some());

        let e = validate(&input(), None).expect_err("no licence");
        assert!(e.get("licence").is_some());
        let mut big = PNG.to_vec();
        big.resize(MAX_LICENCE_BYTES + 1, 0);
        let e = validate(&input(), Some(&big)).expect_err("too big");
        assert!(e.get("licence").is_some_and(|m| m.contains("5 MB")));
        let e = validate(&input(), Some(b"plain text renamed .png")).expect_err("fake");
        assert!(e.get("licence").is_some_and(|m| m.contains("JPEG")));

        let mut bad_code = input();
        bad_code.uscc = "91350100M000100Y44".into();
        assert!(validate(&bad_code, Some(PNG))
            .expect_err("checksum")
            .get("uscc")
            .is_some());
    }
}
