//! Notifications: the inbox and preferences ([`inbox`]), verified contacts ([`contacts`]),
//! the delivery workers and their channels ([`delivery`]), reminders before sessions
//! ([`reminders`]) and the organizer's side — deliveries and messages to a session's
//! participants ([`organizer`]).
//!
//! What happened and in which words is decided in `crate::notify`; the outbox rows are written
//! by the use cases that make the change, in their transaction (`crate::db::notifications`).

pub mod contacts;
pub mod delivery;
pub mod inbox;
pub mod organizer;
pub mod reminders;

use crate::validation::FieldErrors;

/// What can go wrong with notifications, contacts and deliveries.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The account may not do this (not its notification, not an organizer).
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Too many codes asked for or tried; the message says when to try again.
    #[error("throttled")]
    Throttled { retry_after_s: u64 },
    /// A verification code that is wrong, expired or used up.
    #[error("bad code")]
    BadCode,
    /// The channel a code would go through is not configured on this server.
    #[error("channel unavailable")]
    ChannelUnavailable(crate::notify::Channel),
    /// The mail relay or the SMS gateway did not take a code; nothing was stored.
    #[error("sending failed")]
    SendFailed(crate::notify::Channel),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for NotifyError {
    fn from(e: sqlx::Error) -> Self {
        NotifyError::Internal(e.into())
    }
}

impl NotifyError {
    pub fn throttled_message_zh(retry_after_s: u64) -> String {
        let minutes = retry_after_s.div_ceil(60).max(1);
        format!("操作过于频繁，请 {minutes} 分钟后再试。")
    }

    pub fn bad_code_zh() -> &'static str {
        "验证码不正确或已过期，请重新获取。"
    }

    pub fn send_failed_zh(channel: crate::notify::Channel) -> String {
        format!(
            "验证码发送失败：{}服务暂时不可用，请稍后再试。",
            channel.label_zh()
        )
    }

    pub fn channel_unavailable_zh(channel: crate::notify::Channel) -> String {
        format!(
            "本站尚未开通{}发送，暂时无法验证，请联系组织方。",
            channel.label_zh()
        )
    }
}

pub type Result<T> = std::result::Result<T, NotifyError>;
