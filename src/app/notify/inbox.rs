//! The in-app inbox and the notification preferences of the logged-in account.
//!
//! Every account has an inbox (organizers and lawyers are told things too, later); an account
//! only ever sees and marks its own notifications — another's id is "not found", so ids reveal
//! nothing.

use super::{NotifyError, Result};
use crate::accounts::User;
use crate::db::inbox::InboxRow;
use crate::db::Db;
use crate::notify::{Channel, ContactKind, Kind};
use crate::validation::{excerpt, FieldErrors};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Notifications per page when the client does not say.
pub const DEFAULT_PAGE: i64 = 20;
/// The most notifications one page may ask for.
pub const MAX_PAGE: i64 = 100;

/// One page of the inbox.
#[derive(Debug, Clone)]
pub struct InboxPage {
    /// Newest first.
    pub items: Vec<InboxRow>,
    /// Unread notifications in the whole inbox (not just this page).
    pub unread: i64,
    /// The `before` of the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// A page of the account's notifications older than `before`, newest first.
pub async fn list(
    db: &Db,
    user: &User,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<InboxPage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(NotifyError::Invalid(FieldErrors::single(
            "limit",
            format!("每页条数应在 1 到 {MAX_PAGE} 之间"),
        )));
    }
    // one row more than asked tells whether an older page exists
    let mut items = db.inbox(user.id, before, limit + 1).await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_before = if more {
        items.last().map(|r| r.id)
    } else {
        None
    };
    let unread = db.unread_count(user.id).await?;
    Ok(InboxPage {
        items,
        unread,
        next_before,
    })
}

/// The bell's number: the account's unread notifications.
pub async fn unread(db: &Db, user: &User) -> Result<i64> {
    Ok(db.unread_count(user.id).await?)
}

/// Mark one of the account's notifications read. Returns where it points, if anywhere a
/// browser may be sent: a site-relative path (never `//host`, which would leave the site).
pub async fn mark_read(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    id: i64,
) -> Result<Option<String>> {
    let link = db
        .mark_read(user.id, id, now)
        .await?
        .ok_or(NotifyError::NotFound)?;
    Ok(link.filter(|l| is_site_path(l)))
}

/// Mark every notification of the account read; returns how many were unread.
pub async fn mark_all_read(db: &Db, now: DateTime<Utc>, user: &User) -> Result<u64> {
    Ok(db.mark_all_read(user.id, now).await?)
}

/// A path on this site, safe to redirect to.
pub fn is_site_path(link: &str) -> bool {
    link.starts_with('/') && !link.starts_with("//") && !link.contains('\\')
}

/// Whether each channel carries one kind of notification for the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    pub kind: Kind,
    pub email: bool,
    pub sms: bool,
}

/// An account's contact for a channel: its value, if given, and whether it is verified
/// (mail and SMS go only to verified contacts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactState {
    pub value: Option<String>,
    pub verified: bool,
}

/// The account's preferences, every kind in [`Kind::ALL`] order, and its contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub items: Vec<Preference>,
    pub email: ContactState,
    pub mobile: ContactState,
}

impl Preferences {
    /// The contact a channel sends to.
    pub fn contact(&self, channel: Channel) -> &ContactState {
        match channel.contact() {
            ContactKind::Email => &self.email,
            ContactKind::Mobile => &self.mobile,
        }
    }
}

/// The effective choice for every kind and channel: the account's explicit choice, else the
/// kind's default.
pub fn effective(explicit: &[(Kind, Channel, bool)]) -> Vec<Preference> {
    let on = |kind: Kind, channel: Channel| {
        explicit
            .iter()
            .find(|(k, c, _)| *k == kind && *c == channel)
            .map_or_else(|| kind.default_on(channel), |(_, _, on)| *on)
    };
    Kind::ALL
        .into_iter()
        .map(|kind| Preference {
            kind,
            email: on(kind, Channel::Email),
            sms: on(kind, Channel::Sms),
        })
        .collect()
}

/// The account's preferences and contacts.
pub async fn preferences(db: &Db, user: &User) -> Result<Preferences> {
    let explicit = db.notification_prefs(user.id).await?;
    let mut email = ContactState::default();
    let mut mobile = ContactState::default();
    for c in db.notification_contacts(user.id).await? {
        let state = ContactState {
            value: Some(c.value),
            verified: c.verified,
        };
        match c.kind {
            ContactKind::Email => email = state,
            ContactKind::Mobile => mobile = state,
        }
    }
    Ok(Preferences {
        items: effective(&explicit),
        email,
        mobile,
    })
}

/// A choice as a client sends it: the kind by its name (`promoted`, `reminder`, …).
#[derive(Debug, Clone)]
pub struct Choice {
    pub kind: String,
    pub email: bool,
    pub sms: bool,
}

/// Check the choices: every kind known, none twice. Errors name the entry
/// (`items[2].kind`).
pub fn check_choices(choices: &[Choice]) -> std::result::Result<Vec<Preference>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(choices.len());
    for (i, c) in choices.iter().enumerate() {
        let field = format!("items[{i}].kind");
        match Kind::parse(c.kind.trim()) {
            None => errors.add(
                &field,
                format!(
                    "未知的通知类型“{}”，可用的类型：{}",
                    excerpt(&c.kind),
                    Kind::ALL.map(Kind::as_str).join("、")
                ),
            ),
            Some(kind) if !seen.insert(kind) => {
                errors.add(&field, format!("通知类型 {} 重复出现", kind.as_str()))
            }
            Some(kind) => out.push(Preference {
                kind,
                email: c.email,
                sms: c.sms,
            }),
        }
    }
    errors.into_result().map(|()| out)
}

/// Save the account's choices for the kinds listed (the others keep theirs) and return the
/// preferences as they now are. Nothing is saved when one entry is wrong.
pub async fn set_preferences(db: &Db, user: &User, choices: &[Choice]) -> Result<Preferences> {
    let checked = check_choices(choices).map_err(NotifyError::Invalid)?;
    let rows: Vec<(Kind, Channel, bool)> = checked
        .iter()
        .flat_map(|p| {
            [
                (p.kind, Channel::Email, p.email),
                (p.kind, Channel::Sms, p.sms),
            ]
        })
        .collect();
    db.set_notification_prefs(user.id, &rows).await?;
    preferences(db, user).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_what_the_account_did_not_choose() {
        let prefs = effective(&[(Kind::Reminder, Channel::Sms, false)]);
        assert_eq!(prefs.len(), Kind::ALL.len());
        let reminder = prefs.iter().find(|p| p.kind == Kind::Reminder).unwrap();
        assert_eq!((reminder.email, reminder.sms), (true, false));
        let promoted = prefs.iter().find(|p| p.kind == Kind::Promoted).unwrap();
        assert_eq!((promoted.email, promoted.sms), (true, true));
        let message = prefs
            .iter()
            .find(|p| p.kind == Kind::SessionMessage)
            .unwrap();
        assert!(!message.sms);
    }

    #[test]
    fn unknown_and_repeated_kinds_are_refused_by_entry() {
        let choice = |kind: &str| Choice {
            kind: kind.into(),
            email: true,
            sms: false,
        };
        let errors =
            check_choices(&[choice("promoted"), choice("spam"), choice("promoted")]).unwrap_err();
        assert!(errors
            .get("items[1].kind")
            .unwrap()
            .contains("未知的通知类型"));
        assert!(errors.get("items[2].kind").unwrap().contains("重复"));
        assert!(errors.get("items[0].kind").is_none());
        let ok = check_choices(&[choice("reminder")]).unwrap();
        assert_eq!(ok[0].kind, Kind::Reminder);
    }

    #[test]
    fn only_site_paths_are_followed() {
        assert!(is_site_path("/sessions/7"));
        assert!(!is_site_path("//evil.example/x"));
        assert!(!is_site_path("https://evil.example/"));
        assert!(!is_site_path("/\\evil.example"));
    }
}
