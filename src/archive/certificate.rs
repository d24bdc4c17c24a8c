//! The learning certificate (学习证明): who may open it, when it can be issued, its
//! verification code.

use super::attendance::{percent, Attendance};
use crate::accounts::User;

/// Whether `viewer` may open the certificate of the enterprise account `enterprise_id`: the
/// organizers and the enterprise itself.
pub fn may_view(viewer: &User, enterprise_id: i64) -> bool {
    viewer.is_organizer() || viewer.id == enterprise_id
}

/// The enterprise did not watch enough of the lecture for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotAttended {
    /// What it watched, in percent.
    pub percent: u32,
    /// The attendance threshold, in percent.
    pub required_percent: u32,
}

impl NotAttended {
    pub fn message_zh(&self) -> String {
        format!(
            "该企业观看了{}%，未达到{}%的学习要求，暂不能出具学习证明",
            self.percent, self.required_percent
        )
    }
}

/// A certificate is issued once the attendance threshold (0..=1) is reached.
pub fn check_eligible(attendance: &Attendance, threshold: f64) -> Result<(), NotAttended> {
    if attendance.attended {
        Ok(())
    } else {
        Err(NotAttended {
            percent: attendance.percent,
            required_percent: percent(threshold),
        })
    }
}

/// The alphabet of verification codes: digits and capitals without I, L, O and U (Crockford's
/// base 32), so that a code read aloud or typed from paper is not mistaken.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The verification code of the certificate of `enterprise_id` for `lecture_id`: 80 bits of an
/// HMAC-SHA256 under the site's `secret`, as `XXXX-XXXX-XXXX-XXXX`. Not guessable from ids, the
/// same each time the certificate is printed.
pub fn code(secret: &[u8], lecture_id: i64, enterprise_id: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC accepts keys of any length; kept total without a panic path
        Err(_) => return String::new(),
    };
    mac.update(format!("certificate:{lecture_id}:{enterprise_id}").as_bytes());
    let digest = mac.finalize().into_bytes();
    // 80 bits → 16 symbols of 5 bits
    let mut bits: u128 = 0;
    for b in &digest[..10] {
        bits = (bits << 8) | u128::from(*b);
    }
    let symbols: Vec<u8> = (0..16)
        .rev()
        .map(|i| CODE_ALPHABET[((bits >> (i * 5)) & 31) as usize])
        .collect();
    symbols
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as someone typed it, in its stored form: upper case, dashes where they belong,
/// spaces and dashes ignored, the letters people confuse (I/L → 1, O → 0) read as meant.
/// `None` when it cannot be a code.
pub fn normalize_code(input: &str) -> Option<String> {
    let symbols: Vec<char> = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '－')
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect();
    if symbols.len() != 16 || !symbols.iter().all(|c| CODE_ALPHABET.contains(&(*c as u8))) {
        return None;
    }
    Some(
        symbols
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;

    #[test]
    fn verification_codes() {
        let a = code(b"secret", 3, 17);
        assert_eq!(a.len(), 19);
        assert_eq!(a, code(b"secret", 3, 17), "the same every time");
        assert_ne!(a, code(b"secret", 3, 18));
        assert_ne!(a, code(b"other", 3, 17));
        assert!(a.split('-').all(|g| g.len() == 4));
        assert_eq!(normalize_code(&a).as_deref(), Some(a.as_str()));
        let typed = a.replace('-', " ").to_lowercase();
        assert_eq!(normalize_code(&typed).as_deref(), Some(a.as_str()));
        assert_eq!(
            normalize_code("ABCD-EFGH-JKMN-PQRS").as_deref(),
            Some("ABCD-EFGH-JKMN-PQRS")
        );
        assert_eq!(
            normalize_code("abcd efgh jkmn pqrl").as_deref(),
            Some("ABCD-EFGH-JKMN-PQR1")
        );
        assert_eq!(normalize_code("ABCD-EFGH-JKMN-PQRU"), None);
        assert_eq!(normalize_code("ABCD"), None);
        assert_eq!(normalize_code("证明编号"), None);
    }

    #[test]
    fn eligibility_and_viewers() {
        let threshold = 0.6;
        assert_eq!(
            check_eligible(&Attendance::of(30.0, 100.0, threshold), threshold),
            Err(NotAttended {
                percent: 30,
                required_percent: 60
            })
        );
        assert!(check_eligible(&Attendance::of(60.0, 100.0, threshold), threshold).is_ok());
        assert_eq!(
            NotAttended {
                percent: 30,
                required_percent: 60
            }
            .message_zh(),
            "该企业观看了30%，未达到60%的学习要求，暂不能出具学习证明"
        );
        let enterprise = User {
            id: 5,
            role: Role::Enterprise,
            display_name: "x".into(),
            username: None,
        };
        assert!(may_view(&enterprise, 5));
        assert!(!may_view(&enterprise, 6));
    }
}
