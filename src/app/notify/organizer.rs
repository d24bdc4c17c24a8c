//! The organizer's side: deliveries with state, attempts and last error; a message to everyone
//! signed up for a session (issue 12).
//!
//! Both are for organizers only. A message goes through the same outbox as every other
//! notification: one `SessionMessage` event per recipient, all sharing one `message_id` that
//! the form carries from the moment it is opened, so a form posted twice (a double click, a
//! reload of the confirmation) stores the message once.

use super::{NotifyError, Result};
use crate::accounts::User;
use crate::db::outbox_admin::{
    AttemptRow, Audience, DeliveryFilter, DeliveryRow, DeliveryState, DeliverySummary,
};
use crate::db::schedule::SessionRow;
use crate::db::Db;
use crate::notify::{sms_text, Channel, Event, Kind, Message, SessionRef};
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Deliveries per page.
pub const PAGE_SIZE: i64 = 50;
/// Longest subject of an organizer's message, in characters.
pub const SUBJECT_MAX_CHARS: usize = 60;
/// Longest text of an organizer's message, in characters.
pub const TEXT_MAX_CHARS: usize = 1000;

fn organizer_only(user: &User) -> Result<()> {
    if user.is_organizer() {
        Ok(())
    } else {
        Err(NotifyError::Forbidden)
    }
}

/// One page of the deliveries list.
#[derive(Debug, Clone)]
pub struct DeliveriesPage {
    pub rows: Vec<DeliveryRow>,
    /// Attempts per delivery id (deliveries on this page only).
    pub attempts: HashMap<i64, Vec<AttemptRow>>,
    pub summary: DeliverySummary,
    /// Deliveries matching the whole filter.
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    /// Sessions that have notifications, for the filter.
    pub sessions: Vec<(i64, String)>,
}

/// Page `page` (1-based) of the deliveries matching `filter`, newest first.
pub async fn deliveries(
    db: &Db,
    user: &User,
    filter: &DeliveryFilter,
    page: i64,
) -> Result<DeliveriesPage> {
    organizer_only(user)?;
    let total = db.count_deliveries(filter).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let rows = db
        .deliveries(filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut attempts: HashMap<i64, Vec<AttemptRow>> = HashMap::new();
    for a in db.attempts_of_deliveries(&ids).await? {
        attempts.entry(a.delivery_id).or_default().push(a);
    }
    Ok(DeliveriesPage {
        rows,
        attempts,
        summary: db.delivery_summary(filter).await?,
        total,
        page,
        pages,
        sessions: db.notified_sessions().await?,
    })
}

/// A filter from the page's query parameters; an empty or unknown value means "all".
pub fn filter_from(
    session: Option<&str>,
    kind: Option<&str>,
    state: Option<&str>,
    channel: Option<&str>,
) -> DeliveryFilter {
    let channel = channel.and_then(|c| Channel::ALL.into_iter().find(|x| x.as_str() == c));
    DeliveryFilter {
        session_id: session.and_then(|s| s.trim().parse().ok()),
        kind: kind.and_then(Kind::parse),
        state: state.and_then(DeliveryState::parse),
        channel,
    }
}

/// What the organizer typed into the message form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageDraft {
    /// Issued when the form was opened; the idempotency key of the message.
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub include_waitlist: bool,
}

impl MessageDraft {
    /// A fresh draft with a new message id.
    pub fn new() -> MessageDraft {
        MessageDraft {
            message_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }
    }
}

/// Check a draft: subject and text present, within their lengths and free of control
/// characters, and a well-formed message id. Returns the draft trimmed.
pub fn validate_draft(draft: &MessageDraft) -> std::result::Result<MessageDraft, FieldErrors> {
    let mut errors = FieldErrors::default();
    let subject = draft.subject.trim().to_string();
    let text = draft.text.trim().to_string();
    if subject.is_empty() {
        errors.add("subject", "请填写通知标题");
    } else if subject.chars().count() > SUBJECT_MAX_CHARS {
        errors.add(
            "subject",
            format!("通知标题不能超过 {SUBJECT_MAX_CHARS} 个字"),
        );
    } else {
        errors.check_text("subject", "通知标题", &subject, Lines::Single);
    }
    if text.is_empty() {
        errors.add("text", "请填写通知内容");
    } else if text.chars().count() > TEXT_MAX_CHARS {
        errors.add("text", format!("通知内容不能超过 {TEXT_MAX_CHARS} 个字"));
    } else {
        errors.check_text("text", "通知内容", &text, Lines::Multi);
    }
    let message_id = match uuid::Uuid::parse_str(draft.message_id.trim()) {
        Ok(id) => id.to_string(),
        Err(_) => {
            errors.add("message_id", "表单已过期，请重新打开本页后再发送");
            String::new()
        }
    };
    errors.into_result().map(|()| MessageDraft {
        message_id,
        subject,
        text,
        include_waitlist: draft.include_waitlist,
    })
}

/// The session a message form is about, and who it would reach.
#[derive(Debug, Clone)]
pub struct MessageTarget {
    pub session: SessionRow,
    pub audience: Audience,
}

/// The session of a message form (organizers only).
pub async fn message_target(db: &Db, user: &User, session_id: i64) -> Result<MessageTarget> {
    organizer_only(user)?;
    let session = db.session(session_id).await?.ok_or(NotifyError::NotFound)?;
    let audience = db.session_audience(session_id).await?;
    Ok(MessageTarget { session, audience })
}

fn session_ref(s: &SessionRow) -> SessionRef {
    SessionRef {
        id: s.id,
        title: s.title.clone(),
        starts_at: s.starts_at,
        minutes: s.minutes,
        tz: s.tz(),
    }
}

fn message_for(session: &SessionRef, draft: &MessageDraft) -> Message {
    Event::SessionMessage {
        session: session.clone(),
        message_id: draft.message_id.clone(),
        subject: draft.subject.clone(),
        text: draft.text.clone(),
    }
    .render()
}

/// What the recipients will read.
#[derive(Debug, Clone)]
pub struct MessagePreview {
    pub draft: MessageDraft,
    /// The inbox (and mail) title and body.
    pub title: String,
    pub body: String,
    /// The SMS as the gateway sends it (to those who chose SMS for organizer messages).
    pub sms: String,
    pub recipients: i64,
}

/// The rendered message and how many it would reach; `Invalid` for a draft that cannot be
/// sent.
pub async fn preview_message(
    db: &Db,
    user: &User,
    session_id: i64,
    draft: &MessageDraft,
) -> Result<(MessageTarget, MessagePreview)> {
    let target = message_target(db, user, session_id).await?;
    let draft = validate_draft(draft).map_err(NotifyError::Invalid)?;
    let m = message_for(&session_ref(&target.session), &draft);
    let sms = sms_text(m.sms_template, &m.sms_params).unwrap_or_default();
    let recipients = target.audience.count(draft.include_waitlist);
    Ok((
        target,
        MessagePreview {
            draft,
            title: m.title,
            body: m.body,
            sms,
            recipients,
        },
    ))
}

/// The outcome of sending a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentMessage {
    pub recipients: u64,
    /// 0 when the same message (same id) had been sent before.
    pub stored: u64,
}

/// Send `draft` to everyone signed up for the session, through the outbox, in one
/// transaction; then wake the delivery workers.
pub async fn send_message(
    db: &Db,
    now: DateTime<Utc>,
    user: &User,
    session_id: i64,
    draft: &MessageDraft,
) -> Result<SentMessage> {
    organizer_only(user)?;
    let draft = validate_draft(draft).map_err(NotifyError::Invalid)?;
    let (recipients, stored) = db
        .store_session_message(session_id, draft.include_waitlist, now, |s| {
            message_for(s, &draft)
        })
        .await?
        .ok_or(NotifyError::NotFound)?;
    if recipients == 0 {
        return Err(NotifyError::Invalid(FieldErrors::single(
            "include_waitlist",
            "本场暂无报名企业，没有可以通知的对象",
        )));
    }
    if stored > 0 {
        db.wake_outbox();
    }
    tracing::info!(
        session = session_id,
        recipients,
        stored,
        "organizer message to a session"
    );
    Ok(SentMessage { recipients, stored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(subject: &str, text: &str) -> MessageDraft {
        MessageDraft {
            subject: subject.into(),
            text: text.into(),
            ..MessageDraft::new()
        }
    }

    #[test]
    fn a_draft_needs_a_subject_a_text_and_its_id() {
        let ok = validate_draft(&draft("  会议号变更 ", "请使用新的链接。\n谢谢。")).unwrap();
        assert_eq!(ok.subject, "会议号变更");
        assert!(uuid::Uuid::parse_str(&ok.message_id).is_ok());
        let errors = validate_draft(&draft("", " ")).unwrap_err();
        assert!(errors.get("subject").is_some() && errors.get("text").is_some());
        let long = validate_draft(&draft(&"题".repeat(61), &"字".repeat(1001))).unwrap_err();
        assert!(long.get("subject").unwrap().contains("60"));
        assert!(long.get("text").unwrap().contains("1000"));
        let exact = validate_draft(&draft(&"题".repeat(60), &"字".repeat(1000)));
        assert!(exact.is_ok());
        let bad_id = MessageDraft {
            message_id: "x; DROP".into(),
            ..draft("a", "b")
        };
        assert!(validate_draft(&bad_id)
            .unwrap_err()
            .get("message_id")
            .is_some());
        let newline = validate_draft(&draft("a\nb", "c")).unwrap_err();
        assert!(newline.get("subject").is_some());
    }

    #[test]
    fn empty_or_unknown_filters_mean_all() {
        assert_eq!(
            filter_from(Some(""), Some(""), Some("nope"), Some("fax")),
            DeliveryFilter::default()
        );
        assert_eq!(
            filter_from(Some("7"), Some("reminder"), Some("failed"), Some("sms")),
            DeliveryFilter {
                session_id: Some(7),
                kind: Some(Kind::Reminder),
                state: Some(DeliveryState::Failed),
                channel: Some(Channel::Sms),
            }
        );
    }
}
