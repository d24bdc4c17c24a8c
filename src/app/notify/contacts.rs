//! Verified contacts: adding an e-mail address or mobile, sending a 6-digit code through its
//! channel, checking it; and the one-click e-mail unsubscription (issue 12).
//!
//! A code goes out right away through the channel itself (not through the outbox: it is
//! useless ten minutes later and must not wait behind a backoff). Codes are random, stored as
//! an HMAC under the server's signing secret (bound to the account, the contact kind and the
//! purpose, so a verification code cannot reset a password), valid 10 minutes, 5 tries each;
//! at most one per minute and five per hour per account and contact kind.
//!
//! [`send_code`] and [`check_code`] take a [`CodePurpose`], so that the password reset (issue
//! 15) can send a code to an already verified contact and check it the same way.

use super::{NotifyError, Result};
use crate::app::notify::delivery::Channels;
use crate::db::contacts::{CodeCheck, ContactRow};
use crate::db::deliveries::Outcome;
use crate::db::throttle::Reservation;
use crate::db::Db;
use crate::notify::{hmac_hex, ContactKind};
use crate::validation::FieldErrors;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// How long a code is valid.
pub const CODE_TTL_MINUTES: i64 = 10;
/// Tries per code.
pub const CODE_TRIES: i64 = 5;
/// Seconds between two codes of one account and kind.
pub const RESEND_AFTER_SECS: i64 = 60;
/// Codes per hour of one account and kind.
pub const CODES_PER_HOUR: i64 = 5;

/// What a code is for; part of its hash, and of the text sent with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    /// Proving the account owns the e-mail address or mobile it entered.
    VerifyContact,
    /// Resetting a forgotten password through a verified contact (issue 15).
    ResetPassword,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::VerifyContact => "verify",
            CodePurpose::ResetPassword => "reset",
        }
    }

    /// The sentence the mail gives the code.
    pub fn text_zh(self) -> &'static str {
        match self {
            CodePurpose::VerifyContact => "此验证码用于验证您在精准普法登记的联系方式",
            CodePurpose::ResetPassword => "此验证码用于重置您的精准普法账号密码",
        }
    }
}

/// A code that went out.
#[derive(Debug, Clone)]
pub struct CodeSent {
    pub kind: ContactKind,
    /// The normalized address it went to.
    pub value: String,
    pub expires_at: DateTime<Utc>,
}

/// `value` as stored for `kind`: a mainland mobile's 11 digits, or a trimmed e-mail address
/// with its domain in lower case. The error is for the field `value`.
pub fn normalize(kind: ContactKind, value: &str) -> std::result::Result<String, FieldErrors> {
    match kind {
        ContactKind::Mobile => crate::accounts::mobile::normalize_mobile(value)
            .map_err(|e| FieldErrors::single("value", e.message_zh())),
        ContactKind::Email => {
            let v = value.trim();
            if v.is_empty() {
                return Err(FieldErrors::single("value", "请输入电子邮箱地址"));
            }
            if !valid_email(v) {
                return Err(FieldErrors::single(
                    "value",
                    "电子邮箱地址格式不正确（如 name@example.cn）",
                ));
            }
            let (local, domain) = v.rsplit_once('@').unwrap_or((v, ""));
            Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
        }
    }
}

/// A plain `local@domain.tld` address: printable ASCII local part without spaces, quotes or
/// angle brackets; a domain of dot-separated letter/digit/hyphen labels with at least one dot.
/// Stricter than RFC 5322 on purpose: what passes here every SMTP server accepts.
pub fn valid_email(v: &str) -> bool {
    if v.len() > 254 {
        return false;
    }
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// A random 6-digit code.
fn new_code() -> String {
    use rand::Rng;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// The stored form of `code`.
fn code_hash(
    secret: &str,
    user_id: i64,
    kind: ContactKind,
    purpose: CodePurpose,
    code: &str,
) -> String {
    hmac_hex(
        secret.as_bytes(),
        format!(
            "code:{}:{user_id}:{}:{}",
            purpose.as_str(),
            kind.as_str(),
            code.trim()
        )
        .as_bytes(),
    )
}

/// Send a fresh code for `purpose` to `value` (already normalized) through `kind`'s channel,
/// replacing the account's pending code of that kind. With [`CodePurpose::VerifyContact`]
/// the value also becomes the account's (unverified, if it changed) contact.
pub async fn send_code(
    db: &Db,
    channels: &Channels,
    now: DateTime<Utc>,
    user_id: i64,
    kind: ContactKind,
    value: &str,
    purpose: CodePurpose,
) -> Result<CodeSent> {
    if !channels.has(kind.channel()) {
        return Err(NotifyError::ChannelUnavailable(kind.channel()));
    }
    if let Some(sent) = db.contact_code_sent_at(user_id, kind).await? {
        let wait = sent + Duration::seconds(RESEND_AFTER_SECS) - now;
        if wait > Duration::zero() {
            return Err(NotifyError::Throttled {
                retry_after_s: u64::try_from(wait.num_seconds().max(1)).unwrap_or(60),
            });
        }
    }
    let scope = format!("contact-code:{}:{user_id}", kind.as_str());
    if let Reservation::Refused { window_start } = db
        .reserve_login_attempt(&scope, now, Duration::hours(1), CODES_PER_HOUR)
        .await?
    {
        let wait = (window_start + Duration::hours(1) - now)
            .num_seconds()
            .max(1);
        return Err(NotifyError::Throttled {
            retry_after_s: u64::try_from(wait).unwrap_or(3600),
        });
    }
    let code = new_code();
    let secret = db.signing_secret().await?;
    let expires_at = now + Duration::minutes(CODE_TTL_MINUTES);
    let stored = db
        .store_contact_code(
            user_id,
            kind,
            value,
            &code_hash(&secret, user_id, kind, purpose, &code),
            expires_at,
            now,
            purpose == CodePurpose::VerifyContact,
            now - Duration::seconds(RESEND_AFTER_SECS),
        )
        .await?;
    if !stored {
        // another request sent one a moment ago
        return Err(NotifyError::Throttled {
            retry_after_s: u64::try_from(RESEND_AFTER_SECS).unwrap_or(60),
        });
    }
    let outcome = match kind {
        ContactKind::Email => match &channels.mail {
            Some(m) => m.send_code(value, &code, purpose.text_zh()).await,
            None => return Err(NotifyError::ChannelUnavailable(kind.channel())),
        },
        ContactKind::Mobile => match &channels.sms {
            Some(s) => {
                let params = BTreeMap::from([("code".to_string(), code.clone())]);
                s.send(value, "PUFA_CODE", &params).await
            }
            None => return Err(NotifyError::ChannelUnavailable(kind.channel())),
        },
    };
    match outcome {
        Outcome::Sent => Ok(CodeSent {
            kind,
            value: value.to_string(),
            expires_at,
        }),
        Outcome::Retry(e) | Outcome::Permanent(e) => {
            // a code nobody received must not hold back the next one by a minute
            db.drop_contact_code(user_id, kind).await?;
            tracing::warn!(kind = kind.as_str(), error = %e, "sending a verification code failed");
            Err(NotifyError::SendFailed(kind.channel()))
        }
    }
}

/// Check `code` against the account's pending code of `kind` and `purpose`, using a try.
/// Returns the address the code was sent to; wrong, expired or used up → `BadCode`.
pub async fn check_code(
    db: &Db,
    now: DateTime<Utc>,
    user_id: i64,
    kind: ContactKind,
    purpose: CodePurpose,
    code: &str,
) -> Result<String> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotifyError::Invalid(FieldErrors::single(
            "code",
            "请输入 6 位数字验证码",
        )));
    }
    let secret = db.signing_secret().await?;
    let hash = code_hash(&secret, user_id, kind, purpose, code);
    match db
        .check_contact_code(user_id, kind, &hash, now, CODE_TRIES)
        .await?
    {
        CodeCheck::Matched(value) => Ok(value),
        CodeCheck::Missing | CodeCheck::Wrong => Err(NotifyError::BadCode),
    }
}

/// `POST /api/v1/me/contacts`: validate the value, store it, send it a code.
pub async fn add_contact(
    db: &Db,
    channels: &Channels,
    now: DateTime<Utc>,
    user_id: i64,
    kind: ContactKind,
    value: &str,
) -> Result<CodeSent> {
    let value = normalize(kind, value).map_err(NotifyError::Invalid)?;
    send_code(
        db,
        channels,
        now,
        user_id,
        kind,
        &value,
        CodePurpose::VerifyContact,
    )
    .await
}

/// `POST /api/v1/me/contacts/verify`: the code makes the contact verified.
pub async fn verify_contact(
    db: &Db,
    now: DateTime<Utc>,
    user_id: i64,
    kind: ContactKind,
    code: &str,
) -> Result<ContactRow> {
    let value = check_code(db, now, user_id, kind, CodePurpose::VerifyContact, code).await?;
    if !db.mark_contact_verified(user_id, kind, &value, now).await? {
        // the contact changed after the code was sent
        return Err(NotifyError::BadCode);
    }
    db.contacts(user_id)
        .await?
        .into_iter()
        .find(|c| c.kind == kind)
        .ok_or(NotifyError::NotFound)
}

/// The account's contacts.
pub async fn contacts(db: &Db, user_id: i64) -> Result<Vec<ContactRow>> {
    Ok(db.contacts(user_id).await?)
}

/// The account a one-click unsubscribe token names, if its signature holds.
pub async fn unsubscribe_target(db: &Db, token: &str) -> Result<Option<i64>> {
    let secret = db.signing_secret().await?;
    Ok(crate::notify::verify_unsubscribe_token(&secret, token))
}

/// Stop e-mail to the account `token` names. `None` for a bad token.
pub async fn unsubscribe(db: &Db, now: DateTime<Utc>, token: &str) -> Result<Option<i64>> {
    let Some(user_id) = unsubscribe_target(db, token).await? else {
        return Ok(None);
    };
    db.unsubscribe_email(user_id, now).await?;
    Ok(Some(user_id))
}

/// Receive e-mail again (the account's own page).
pub async fn resubscribe(db: &Db, user_id: i64) -> Result<()> {
    Ok(db.resubscribe_email(user_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_normalized() {
        assert_eq!(
            normalize(ContactKind::Email, " Li.Wei@Example.CN ").unwrap(),
            "Li.Wei@example.cn"
        );
        for bad in [
            "", "a", "a@b", "a b@c.cn", "a@-b.cn", "<a@b.cn>", "a@b..cn", ".a@b.cn",
        ] {
            assert!(normalize(ContactKind::Email, bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize(ContactKind::Mobile, "+86 138-0013-8000").unwrap(),
            "13800138000"
        );
        assert!(normalize(ContactKind::Mobile, "12345").is_err());
    }

    #[test]
    fn codes_are_bound_to_purpose_account_and_kind() {
        let h = |p, u, k| code_hash("s", u, k, p, "123456");
        let base = h(CodePurpose::VerifyContact, 1, ContactKind::Email);
        assert_ne!(base, h(CodePurpose::ResetPassword, 1, ContactKind::Email));
        assert_ne!(base, h(CodePurpose::VerifyContact, 2, ContactKind::Email));
        assert_ne!(base, h(CodePurpose::VerifyContact, 1, ContactKind::Mobile));
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
}
