//! Accounts: roles, password hashing and validation of enterprise self-registration.
//! Plain functions and types — no HTTP or SQL here.

pub mod industry;
pub mod mobile;
pub mod password;
pub mod privacy;
pub mod redirect;
pub mod uscc;

use crate::validation::{FieldErrors, Lines};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 工商联 staff: plans the month, reads rosters and dashboards.
    Organizer,
    /// A lawyer of the legal-advisor panel: sees own sessions and rosters.
    Lawyer,
    /// A private enterprise identified by its 统一社会信用代码.
    Enterprise,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Organizer => "organizer",
            Role::Lawyer => "lawyer",
            Role::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "organizer" => Some(Role::Organizer),
            "lawyer" => Some(Role::Lawyer),
            "enterprise" => Some(Role::Enterprise),
            _ => None,
        }
    }

    /// Chinese label for the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Organizer => "组织者",
            Role::Lawyer => "律师",
            Role::Enterprise => "企业",
        }
    }
}

/// A logged-in account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub role: Role,
    pub display_name: String,
    /// Login name of staff accounts (enterprises log in with credit code or mobile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl User {
    pub fn is_organizer(&self) -> bool {
        self.role == Role::Organizer
    }
    pub fn is_enterprise(&self) -> bool {
        self.role == Role::Enterprise
    }
    pub fn is_lawyer(&self) -> bool {
        self.role == Role::Lawyer
    }
}

/// A random 256-bit token, URL-safe base64 (session tokens, calendar tokens, generated passwords).
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores for a login session token: its SHA-256, so that a leaked
/// database does not leak usable sessions.
pub fn token_hash(token: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Hash a password with Argon2id (default parameters, random salt). CPU-heavy and blocking:
/// async code calls [`crate::app::login::hash_password`], which runs this on the blocking pool.
pub fn hash_password_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Check a password against a stored PHC hash. CPU-heavy and blocking: async code calls
/// [`crate::app::login::verify_password`].
pub fn verify_password_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of nothing in particular, verified against when the login is unknown so that the
/// answer takes as long as for a known account (no account enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password_blocking("pufa-dummy-password").unwrap_or_default())
}

/// Password rules shared by enterprise registration and staff accounts (see
/// [`password::check`]): `user_inputs` are the account's own names, credit code and mobile,
/// which make a password guessable.
pub fn check_password(password: &str, user_inputs: &[&str], errors: &mut FieldErrors) {
    if let Err(message) = password::check(password, user_inputs) {
        errors.add("password", message);
    }
}

/// Staff login names: 3–32 of ASCII letters, digits, '.', '_' or '-'.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !(3..=32).contains(&name.len()) || !ok_chars {
        return Err("用户名需为3到32位字母、数字或 . _ - 符号".into());
    }
    Ok(())
}

/// What an enterprise submits to register itself. Unknown fields are refused (a misspelled
/// field is an error, not silently dropped); the HTML form wraps it with its `csrf` field.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "示例科技有限公司", "uscc": "9135010000004242XH", "industry": "I",
    "district": "鼓楼区", "contact_name": "示例联系人", "mobile": "13800138000",
    "password": "correct horse battery staple", "privacy_consent": true,
    "privacy_notice_version": "2026-1"
}))]
pub struct EnterpriseSignup {
    /// Company name as registered.
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    /// 统一社会信用代码 (18 characters; lower case and full-width accepted).
    #[serde(default)]
    #[schema(required = true)]
    pub uscc: String,
    /// GB/T 4754-2017 industry section letter A–T.
    #[serde(default)]
    #[schema(required = true)]
    pub industry: String,
    /// District (区县) within the city.
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub contact_name: String,
    /// Mainland mobile number.
    #[serde(default)]
    #[schema(required = true)]
    pub mobile: String,
    #[serde(default)]
    #[schema(required = true)]
    pub password: String,
    /// The enterprise agrees to the privacy notice (`/privacy`); must be `true`.
    #[serde(default)]
    #[schema(required = true)]
    pub privacy_consent: bool,
    /// Version of the notice agreed to (see `/privacy`); the current one when left out.
    #[serde(default)]
    pub privacy_notice_version: Option<String>,
    /// 企业规模 (optional): `micro`, `small`, `medium` or `large`; empty: not stated.
    #[serde(default)]
    pub size: Option<String>,
}

/// A registration that passed every check, with normalised values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEnterprise {
    pub name: String,
    pub uscc: String,
    pub industry: char,
    pub district: Option<String>,
    pub contact_name: String,
    pub mobile: String,
    /// The privacy notice version consented to (always the current one).
    pub privacy_notice_version: &'static str,
    /// 企业规模, when stated.
    pub size: Option<crate::qa::EnterpriseSize>,
}

/// An optional 企业规模 from input: empty is "not stated"; anything else must be one of the
/// four sizes.
pub fn parse_size(input: Option<&str>) -> Result<Option<crate::qa::EnterpriseSize>, String> {
    match input.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => crate::qa::EnterpriseSize::parse(s)
            .map(Some)
            .ok_or_else(|| "企业规模应为微型、小型、中型或大型".to_string()),
    }
}

fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Validate every field of a registration, collecting a Chinese message per bad field.
pub fn validate_enterprise(input: &EnterpriseSignup) -> Result<ValidEnterprise, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = clean_text(&input.name);
    let name_len = name.chars().count();
    if name_len == 0 {
        errors.add("name", "请填写企业名称");
    } else if !(2..=100).contains(&name_len) {
        errors.add("name", "企业名称应为2到100个字符");
    } else {
        errors.check_text("name", "企业名称", &name, Lines::Single);
    }
    let uscc = match uscc::Uscc::parse(&input.uscc) {
        Ok(code) => code.as_str().to_string(),
        Err(e) => {
            errors.add("uscc", e.message_zh());
            String::new()
        }
    };
    let industry = match industry::parse_section(&input.industry) {
        Some(c) => c,
        None => {
            errors.add("industry", "请选择所属行业门类（A–T）");
            ' '
        }
    };
    let district = input
        .district
        .as_deref()
        .map(clean_text)
        .filter(|d| !d.is_empty());
    if let Some(d) = &district {
        if d.chars().count() > 50 {
            errors.add("district", "所在区县不能超过50个字符");
        } else {
            errors.check_text("district", "所在区县", d, Lines::Single);
        }
    }
    let contact_name = clean_text(&input.contact_name);
    let contact_len = contact_name.chars().count();
    if contact_len == 0 {
        errors.add("contact_name", "请填写联系人姓名");
    } else if contact_len > 50 {
        errors.add("contact_name", "联系人姓名不能超过50个字符");
    } else {
        errors.check_text("contact_name", "联系人姓名", &contact_name, Lines::Single);
    }
    let mobile = match mobile::normalize_mobile(&input.mobile) {
        Ok(m) => m,
        Err(e) => {
            errors.add("mobile", e.message_zh());
            String::new()
        }
    };
    check_password(
        &input.password,
        &[
            &name,
            &uscc,
            &mobile,
            &contact_name,
            &input.uscc,
            &input.mobile,
        ],
        &mut errors,
    );
    let size = parse_size(input.size.as_deref()).unwrap_or_else(|message| {
        errors.add("size", message);
        None
    });
    if !input.privacy_consent {
        errors.add("privacy_consent", privacy::CONSENT_REQUIRED_ZH);
    } else if let Some(v) = input.privacy_notice_version.as_deref() {
        if v.trim() != privacy::NOTICE_VERSION {
            errors.add("privacy_notice_version", privacy::outdated_version_zh());
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidEnterprise {
        name,
        uscc,
        industry,
        district,
        contact_name,
        mobile,
        privacy_notice_version: privacy::NOTICE_VERSION,
        size,
    })
}

/// How a login string is looked up: a credit code, a mobile number or a staff username.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginKey {
    pub username: Option<String>,
    pub uscc: Option<String>,
    pub mobile: Option<String>,
}

impl LoginKey {
    pub fn from_login(login: &str) -> LoginKey {
        let trimmed = login.trim();
        LoginKey {
            username: (!trimmed.is_empty()).then(|| trimmed.to_string()),
            uscc: uscc::Uscc::parse(trimmed)
                .ok()
                .map(|c| c.as_str().to_string()),
            mobile: mobile::normalize_mobile(trimmed).ok(),
        }
    }

    /// The canonical form used as the throttle key for this account.
    pub fn canonical(&self) -> String {
        self.uscc
            .clone()
            .or_else(|| self.mobile.clone())
            .or_else(|| self.username.as_ref().map(|u| u.to_lowercase()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> EnterpriseSignup {
        EnterpriseSignup {
            name: " 示例科技  有限公司 ".into(),
            uscc: "91350100m000100y43".into(),
            industry: "i".into(),
            district: Some("  ".into()),
            contact_name: "示例联系人".into(),
            mobile: "+86 138-0013-8000".into(),
            password: "correct horse battery staple".into(),
            privacy_consent: true,
            privacy_notice_version: None,
            size: None,
        }
    }

    #[test]
    fn valid_signup_is_normalised() {
        let v = validate_enterprise(&good()).expect("valid");
        assert_eq!(v.name, "示例科技 有限公司");
        assert_eq!(v.uscc, "91350100M000100Y43");
        assert_eq!(v.industry, 'I');
        assert_eq!(v.district, None);
        assert_eq!(v.mobile, "13800138000");
    }

    #[test]
    fn every_bad_field_gets_its_own_message() {
        let bad = EnterpriseSignup {
            name: "".into(),
            uscc: "91350100M000100Y4Z".into(),
            industry: "Z".into(),
            district: None,
            contact_name: "".into(),
            mobile: "12345".into(),
            password: "1234".into(),
            privacy_consent: false,
            privacy_notice_version: None,
            size: None,
        };
        let errors = validate_enterprise(&bad).expect_err("invalid");
        for field in [
            "name",
            "uscc",
            "industry",
            "contact_name",
            "mobile",
            "password",
            "privacy_consent",
        ] {
            assert!(errors.get(field).is_some(), "no message for {field}");
        }
        assert!(errors.get("uscc").unwrap_or_default().contains("18"));
    }

    /// Before the fix NUL and direction overrides were stored in enterprise names as given.
    #[test]
    fn names_refuse_control_and_direction_characters() {
        let mut bad = good();
        bad.name = "示例\0科技有限公司".into();
        bad.contact_name = "张\u{202E}三".into();
        bad.district = Some("示例\u{2067}区".into());
        let errors = validate_enterprise(&bad).expect_err("invalid");
        assert!(errors.get("name").unwrap_or_default().contains("控制字符"));
        assert!(errors
            .get("contact_name")
            .unwrap_or_default()
            .contains("文字方向"));
        assert!(errors.get("district").is_some());
        // tabs and line breaks are blanks, folded as before
        let mut ok = good();
        ok.name = "示例\t科技\n有限公司".into();
        assert_eq!(
            validate_enterprise(&ok).map(|v| v.name),
            Ok("示例 科技 有限公司".to_string())
        );
    }

    #[test]
    fn password_hash_roundtrip() {
        let h = hash_password_blocking("s3cret-pass").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password_blocking("s3cret-pass", &h));
        assert!(!verify_password_blocking("wrong-pass", &h));
        assert!(!verify_password_blocking("x", "not a hash"));
        assert!(!verify_password_blocking("x", dummy_hash()));
    }

    #[test]
    fn login_key_recognises_code_mobile_and_username() {
        let k = LoginKey::from_login("91350100m000100y43");
        assert_eq!(k.uscc.as_deref(), Some("91350100M000100Y43"));
        let k = LoginKey::from_login("138 0013 8000");
        assert_eq!(k.mobile.as_deref(), Some("13800138000"));
        let k = LoginKey::from_login("admin");
        assert_eq!(k.username.as_deref(), Some("admin"));
        assert_eq!(k.uscc, None);
        assert_eq!(k.canonical(), "admin");
    }
}

/// The credit code stored in place of a released one (an account deleted, or a code handed
/// over to its real owner after a claim): unique per account, and never a valid code — `Z`
/// is outside the GB 32100 alphabet — so no registration can ever match or collide with it.
pub fn released_uscc(user_id: i64) -> String {
    format!("Z{user_id:0>17}")
}

/// The login mobile stored in place of a released one, for the same reasons: unique per
/// account and never a mainland mobile number.
pub fn released_mobile(user_id: i64) -> String {
    format!("released-{user_id}")
}

#[cfg(test)]
mod released_tests {
    use super::*;

    #[test]
    fn released_codes_never_parse_and_never_collide() {
        assert_ne!(released_uscc(1), released_uscc(2));
        assert_eq!(released_uscc(42).chars().count(), 18);
        assert!(uscc::Uscc::parse(&released_uscc(42)).is_err());
        assert!(mobile::normalize_mobile(&released_mobile(42)).is_err());
    }
}
