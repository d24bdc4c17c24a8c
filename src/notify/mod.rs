//! Notifications: what people are told, in which words, over which channel.
//!
//! Pure rules only. An [`Event`] is something that happened to one account (its sign-up was
//! confirmed, the session moved, a reminder is due); [`Event::render`] turns it into the
//! [`Message`] the inbox shows, the e-mail carries and the SMS template is filled with. The
//! outbox (`crate::db::notifications`) stores messages in the same transaction as the change
//! that caused them; the delivery worker (`crate::app::notify`) sends them.
//!
//! Texts are Chinese; times are in the program's time zone. SMS texts stay within 70
//! characters (one message on Chinese networks): [`sms_text`] renders a template the way the
//! gateway will, and titles are shortened to fit.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

/// An external channel. The in-app inbox is not a channel: every notification is in it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::Email => "邮件",
            Channel::Sms => "短信",
        }
    }

    /// The contact kind a channel sends to.
    pub fn contact(self) -> ContactKind {
        match self {
            Channel::Email => ContactKind::Email,
            Channel::Sms => ContactKind::Mobile,
        }
    }
}

/// A contact an account can verify.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum ContactKind {
    Email,
    Mobile,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Mobile => "mobile",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ContactKind::Email => "电子邮箱",
            ContactKind::Mobile => "手机号",
        }
    }

    /// The channel that reaches this contact.
    pub fn channel(self) -> Channel {
        match self {
            ContactKind::Email => Channel::Email,
            ContactKind::Mobile => Channel::Sms,
        }
    }
}

/// What a notification is about. Stored as text (`notifications.kind`); preferences are per
/// kind and channel.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 报名成功
    SignupConfirmed,
    /// 已进入候补
    SignupWaitlisted,
    /// 候补转正
    Promoted,
    /// 报名被组织方移除
    Removed,
    /// 时间调整
    SessionMoved,
    /// 课程取消
    SessionCancelled,
    /// 开课提醒
    Reminder,
    /// 回放/录像已上线
    RecordingPublished,
    /// 法治体检报告已生成
    CheckupReady,
    /// 组织方发给本场报名企业的消息
    SessionMessage,
    /// 账号安全：密码已重置等（issue 15）
    AccountSecurity,
    /// 账号因信用代码申诉被冻结
    AccountFrozen,
    /// 信用代码已移交给所属企业
    UsccTransferred,
    /// 新的企业提问分派给律师（issue 16）
    QuestionAssigned,
    /// 您的问题已回复（或律师请您补充情况）
    QuestionAnswered,
    /// 企业提问超时未答复（给组织方）
    QuestionOverdue,
    /// 企业在已分派的问题下追问（给律师）
    QuestionFollowedUp,
    /// 回访待办（给顾问律师或组织方）
    FollowupDue,
    /// 整改后请重新体检
    RetakeInvited,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::SignupConfirmed,
        Kind::SignupWaitlisted,
        Kind::Promoted,
        Kind::Removed,
        Kind::SessionMoved,
        Kind::SessionCancelled,
        Kind::Reminder,
        Kind::RecordingPublished,
        Kind::CheckupReady,
        Kind::SessionMessage,
        Kind::AccountSecurity,
        Kind::AccountFrozen,
        Kind::UsccTransferred,
        Kind::QuestionAssigned,
        Kind::QuestionAnswered,
        Kind::QuestionOverdue,
        Kind::QuestionFollowedUp,
        Kind::FollowupDue,
        Kind::RetakeInvited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignupConfirmed => "signup_confirmed",
            Kind::SignupWaitlisted => "signup_waitlisted",
            Kind::Promoted => "promoted",
            Kind::Removed => "removed",
            Kind::SessionMoved => "session_moved",
            Kind::SessionCancelled => "session_cancelled",
            Kind::Reminder => "reminder",
            Kind::RecordingPublished => "recording_published",
            Kind::CheckupReady => "checkup_ready",
            Kind::SessionMessage => "session_message",
            Kind::AccountSecurity => "account_security",
            Kind::AccountFrozen => "account_frozen",
            Kind::UsccTransferred => "uscc_transferred",
            Kind::QuestionAssigned => "question_assigned",
            Kind::QuestionAnswered => "question_answered",
            Kind::QuestionOverdue => "question_overdue",
            Kind::QuestionFollowedUp => "question_followed_up",
            Kind::FollowupDue => "followup_due",
            Kind::RetakeInvited => "retake_invited",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The name in the preferences page and the organizer's filters.
    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::SignupConfirmed => "报名成功",
            Kind::SignupWaitlisted => "进入候补",
            Kind::Promoted => "候补转正",
            Kind::Removed => "报名被移除",
            Kind::SessionMoved => "时间调整",
            Kind::SessionCancelled => "课程取消",
            Kind::Reminder => "开课提醒",
            Kind::RecordingPublished => "回放上线",
            Kind::CheckupReady => "体检报告生成",
            Kind::SessionMessage => "组织方通知",
            Kind::AccountSecurity => "账号安全",
            Kind::AccountFrozen => "账号冻结",
            Kind::UsccTransferred => "信用代码移交",
            Kind::QuestionAssigned => "新的企业提问",
            Kind::QuestionAnswered => "提问已回复",
            Kind::QuestionOverdue => "提问超时未答",
            Kind::QuestionFollowedUp => "企业追问",
            Kind::FollowupDue => "回访待办",
            Kind::RetakeInvited => "复查体检邀请",
        }
    }

    /// Whether `channel` is on when the account has not chosen. Whatever changes what the
    /// account must do (a seat it got, a time that moved, a reminder) is on for both channels;
    /// confirmations of what it did itself and news are mail only; nothing is off entirely
    /// except SMS for news, which costs the chamber money and the reader attention.
    pub fn default_on(self, channel: Channel) -> bool {
        match channel {
            Channel::Email => true,
            Channel::Sms => matches!(
                self,
                Kind::Promoted
                    | Kind::Removed
                    | Kind::SessionMoved
                    | Kind::SessionCancelled
                    | Kind::Reminder
                    // a password changed by someone else must reach the owner wherever it is
                    | Kind::AccountSecurity
                    | Kind::AccountFrozen
                    | Kind::UsccTransferred
                    // the answer an enterprise waits for, and the work a lawyer must do
                    | Kind::QuestionAnswered
                    | Kind::QuestionAssigned
                    | Kind::QuestionFollowedUp
                    | Kind::FollowupDue
            ),
        }
    }
}

/// The session an event is about, as the texts need it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRef {
    pub id: i64,
    pub title: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub minutes: i64,
    /// The program's zone; every time in a text is in it.
    pub tz: Tz,
}

impl SessionRef {
    fn when(&self) -> String {
        self.starts_at
            .map(|t| crate::schedule::datetime_zh(&t, self.tz))
            .unwrap_or_else(|| "时间待定".into())
    }

    fn link(&self) -> String {
        format!("/sessions/{}", self.id)
    }
}

/// Something that happened to one account.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    SignupConfirmed {
        session: SessionRef,
        registration_id: i64,
    },
    SignupWaitlisted {
        session: SessionRef,
        registration_id: i64,
        position: i64,
    },
    Promoted {
        session: SessionRef,
        registration_id: i64,
    },
    Removed {
        session: SessionRef,
        registration_id: i64,
        reason: String,
    },
    /// The start moved (`before` is the old start). `sequence` is the session's SEQUENCE
    /// after the change, so each move is its own notification.
    SessionMoved {
        session: SessionRef,
        before: Option<DateTime<Utc>>,
        sequence: i64,
    },
    SessionCancelled {
        session: SessionRef,
    },
    /// A reminder `offset` before the start.
    Reminder {
        session: SessionRef,
        offset: Duration,
    },
    /// The recording or the replay of a live is watchable (`version` is the published one).
    RecordingPublished {
        session: SessionRef,
        lecture_id: i64,
        version: String,
    },
    CheckupReady {
        checkup_id: i64,
        /// "低" / "中" / "高"
        level_zh: String,
    },
    /// An organizer's message to everyone signed up for a session; `message_id` is unique
    /// per message (all recipients share it).
    SessionMessage {
        session: SessionRef,
        message_id: String,
        subject: String,
        text: String,
    },
    /// The account's password was reset with a code (issue 15); every login session ended.
    /// `at` makes each reset its own notification.
    PasswordReset {
        at: DateTime<Utc>,
    },
    /// An organizer froze the account because claim `claim_id` says its credit code `uscc`
    /// belongs to another company; its future sign-ups were cancelled.
    AccountFrozen {
        claim_id: i64,
        uscc: String,
    },
    /// Credit code `uscc` was handed over to the company of claim `claim_id`; the account no
    /// longer holds it.
    UsccTransferred {
        claim_id: i64,
        uscc: String,
    },
    /// Question `question_id` was assigned to the recipient (a lawyer).
    QuestionAssigned {
        question_id: i64,
        title: String,
    },
    /// The lawyer wrote message `message_id` in the recipient's thread: an answer, or a
    /// request for details (`needs_details`).
    QuestionAnswered {
        question_id: i64,
        message_id: i64,
        title: String,
        needs_details: bool,
    },
    /// Question `question_id` has waited `working_days` working days for an answer (to
    /// organizers).
    QuestionOverdue {
        question_id: i64,
        title: String,
        working_days: u32,
    },
    /// The enterprise wrote message `message_id` (a follow-up or the details asked for) in a
    /// thread assigned to the recipient (a lawyer).
    QuestionFollowedUp {
        question_id: i64,
        message_id: i64,
        title: String,
    },
    /// A 回访 follow-up of `enterprise_name`'s high-risk report is the recipient's to do by
    /// `due_on`.
    FollowupDue {
        followup_id: i64,
        enterprise_name: String,
        due_on: chrono::NaiveDate,
    },
    /// The advisor recorded 已整改: the enterprise is invited to retake the check-up.
    RetakeInvited {
        followup_id: i64,
    },
}

/// A rendered notification, as stored in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: Kind,
    /// Idempotency key, unique per account: the same event written twice is stored once.
    pub key: String,
    pub title: String,
    /// Plain text; the e-mail's HTML part is derived from it.
    pub body: String,
    /// Site-relative link (`/sessions/7`).
    pub link: Option<String>,
    pub sms_template: &'static str,
    pub sms_params: BTreeMap<String, String>,
    pub session_id: Option<i64>,
    /// After this nothing is sent (a reminder after the start is noise).
    pub expires_at: Option<DateTime<Utc>>,
}

/// SMS templates as they are registered with the gateway: id and text with `${name}`
/// parameters. [`sms_text`] renders them the same way to check the length.
pub const SMS_TEMPLATES: &[(&str, &str)] = &[
    ("PUFA_SIGNUP", "【普法】您已报名《${title}》，${when}开课。"),
    (
        "PUFA_WAITLIST",
        "【普法】《${title}》已满，您在候补第${position}位。",
    ),
    (
        "PUFA_PROMOTED",
        "【普法】候补转正：您已获得《${title}》名额，${when}开课。",
    ),
    (
        "PUFA_REMOVED",
        "【普法】您在《${title}》的报名已被组织方移除，详见站内消息。",
    ),
    ("PUFA_MOVED", "【普法】《${title}》时间调整为${when}。"),
    (
        "PUFA_CANCELLED",
        "【普法】《${title}》已取消，详见站内消息。",
    ),
    (
        "PUFA_REMINDER",
        "【普法】提醒：《${title}》将于${when}开课。",
    ),
    ("PUFA_RECORDING", "【普法】《${title}》回放已上线。"),
    (
        "PUFA_CHECKUP",
        "【普法】您的法治体检报告已生成，风险等级：${level}。",
    ),
    (
        "PUFA_MESSAGE",
        "【普法】《${title}》组织方通知，详见站内消息。",
    ),
    (
        "PUFA_SECURITY",
        "【普法】您的账号密码已重置，各设备已退出登录。如非本人操作，请立即联系组织方。",
    ),
    (
        "PUFA_FROZEN",
        "【普法】因信用代码申诉，您的账号已被冻结，未开始的报名已取消。如有异议请联系工商联。",
    ),
    (
        "PUFA_USCC_MOVED",
        "【普法】信用代码${uscc}已移交给所属企业，详见站内消息。",
    ),
    (
        "PUFA_CLAIM_RECEIVED",
        "【普法】信用代码申诉已受理，编号${id}。请保存提交后页面上的查询链接。",
    ),
    (
        "PUFA_CLAIM_REJECTED",
        "【普法】您的信用代码申诉（编号${id}）未通过，原因请见申诉查询链接。",
    ),
    (
        "PUFA_CLAIM_DONE",
        "【普法】信用代码申诉（编号${id}）已通过，请打开申诉查询链接设置密码后登录。",
    ),
    (
        "PUFA_QA_ASSIGNED",
        "【普法】您有一条新的企业提问待答复：《${title}》，请登录查看。",
    ),
    (
        "PUFA_QA_ANSWERED",
        "【普法】您的提问《${title}》有律师回复，请登录查看。",
    ),
    (
        "PUFA_QA_OVERDUE",
        "【普法】企业提问《${title}》已${days}个工作日未答复，请及时分派。",
    ),
    (
        "PUFA_QA_FOLLOWUP",
        "【普法】企业在提问《${title}》下有新的追问，请登录查看。",
    ),
    (
        "PUFA_FOLLOWUP",
        "【普法】回访待办：${name}体检为高风险，请于${due}前回访。",
    ),
    (
        "PUFA_RETAKE",
        "【普法】您的整改已记录，请重新做一次法治体检，查看风险变化。",
    ),
    (
        "PUFA_CODE",
        "【普法】验证码${code}，10分钟内有效。请勿告诉他人。",
    ),
];

/// Longest SMS text: one message on Chinese networks.
pub const SMS_MAX_CHARS: usize = 70;

/// The text the gateway sends for `template` with `params`; `None` for an unknown template.
pub fn sms_text(template: &str, params: &BTreeMap<String, String>) -> Option<String> {
    let (_, text) = SMS_TEMPLATES.iter().find(|(id, _)| *id == template)?;
    let mut out = (*text).to_string();
    for (name, value) in params {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    Some(out)
}

/// A title shortened to `max` characters with "…".
fn short(title: &str, max: usize) -> String {
    if title.chars().count() <= max {
        title.to_string()
    } else {
        let mut s: String = title.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// "12月1日 14:30": the short form of a time for SMS.
fn when_short(s: &SessionRef) -> String {
    s.starts_at
        .map(|t| {
            t.with_timezone(&s.tz)
                .format("%-m月%-d日 %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "时间待定".into())
}

/// "24小时" / "1小时" / "30分钟".
pub fn offset_zh(offset: Duration) -> String {
    let minutes = offset.num_minutes();
    if minutes % (24 * 60) == 0 && minutes >= 24 * 60 {
        format!("{}天", minutes / (24 * 60))
    } else if minutes % 60 == 0 && minutes >= 60 {
        format!("{}小时", minutes / 60)
    } else {
        format!("{minutes}分钟")
    }
}

fn params(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

impl Event {
    pub fn kind(&self) -> Kind {
        match self {
            Event::SignupConfirmed { .. } => Kind::SignupConfirmed,
            Event::SignupWaitlisted { .. } => Kind::SignupWaitlisted,
            Event::Promoted { .. } => Kind::Promoted,
            Event::Removed { .. } => Kind::Removed,
            Event::SessionMoved { .. } => Kind::SessionMoved,
            Event::SessionCancelled { .. } => Kind::SessionCancelled,
            Event::Reminder { .. } => Kind::Reminder,
            Event::RecordingPublished { .. } => Kind::RecordingPublished,
            Event::CheckupReady { .. } => Kind::CheckupReady,
            Event::SessionMessage { .. } => Kind::SessionMessage,
            Event::PasswordReset { .. } => Kind::AccountSecurity,
            Event::AccountFrozen { .. } => Kind::AccountFrozen,
            Event::UsccTransferred { .. } => Kind::UsccTransferred,
            Event::QuestionAssigned { .. } => Kind::QuestionAssigned,
            Event::QuestionAnswered { .. } => Kind::QuestionAnswered,
            Event::QuestionOverdue { .. } => Kind::QuestionOverdue,
            Event::QuestionFollowedUp { .. } => Kind::QuestionFollowedUp,
            Event::FollowupDue { .. } => Kind::FollowupDue,
            Event::RetakeInvited { .. } => Kind::RetakeInvited,
        }
    }

    /// The idempotency key: the same event (same registration, same move, same reminder of
    /// the same start) always has the same key.
    pub fn key(&self) -> String {
        match self {
            Event::SignupConfirmed {
                registration_id, ..
            } => format!("signup_confirmed:reg:{registration_id}"),
            Event::SignupWaitlisted {
                registration_id, ..
            } => format!("signup_waitlisted:reg:{registration_id}"),
            Event::Promoted {
                registration_id, ..
            } => format!("promoted:reg:{registration_id}"),
            Event::Removed {
                registration_id, ..
            } => format!("removed:reg:{registration_id}"),
            Event::SessionMoved {
                session, sequence, ..
            } => format!("session_moved:{}:{sequence}", session.id),
            Event::SessionCancelled { session } => format!("session_cancelled:{}", session.id),
            Event::Reminder { session, offset } => format!(
                "reminder:{}:{}:{}",
                session.id,
                offset.num_minutes(),
                session.starts_at.map(|t| t.timestamp()).unwrap_or_default()
            ),
            Event::RecordingPublished {
                session, version, ..
            } => format!("recording_published:{}:{version}", session.id),
            Event::CheckupReady { checkup_id, .. } => format!("checkup_ready:{checkup_id}"),
            Event::SessionMessage { message_id, .. } => format!("session_message:{message_id}"),
            Event::PasswordReset { at } => format!("password_reset:{}", at.timestamp_millis()),
            Event::AccountFrozen { claim_id, .. } => format!("account_frozen:claim:{claim_id}"),
            Event::UsccTransferred { claim_id, .. } => {
                format!("uscc_transferred:claim:{claim_id}")
            }
            Event::QuestionAssigned { question_id, .. } => {
                format!("question_assigned:{question_id}")
            }
            Event::QuestionAnswered { message_id, .. } => {
                format!("question_answered:msg:{message_id}")
            }
            Event::QuestionOverdue { question_id, .. } => {
                format!("question_overdue:{question_id}")
            }
            Event::QuestionFollowedUp { message_id, .. } => {
                format!("question_followed_up:msg:{message_id}")
            }
            Event::FollowupDue { followup_id, .. } => format!("followup_due:{followup_id}"),
            Event::RetakeInvited { followup_id } => format!("retake_invited:{followup_id}"),
        }
    }

    /// The message for the inbox, the mail and the SMS.
    pub fn render(&self) -> Message {
        let kind = self.kind();
        let key = self.key();
        let (title, body, link, template, sms, session_id, expires_at) = match self {
            Event::SignupConfirmed { session: s, .. } => (
                format!("报名成功：{}", s.title),
                format!(
                    "您已成功报名《{}》。\n时间：{}（{}分钟）\n开课前我们会再提醒您；届时在课程页面观看直播。",
                    s.title,
                    s.when(),
                    s.minutes
                ),
                Some(s.link()),
                "PUFA_SIGNUP",
                params(&[("title", short(&s.title, 20)), ("when", when_short(s))]),
                Some(s.id),
                None,
            ),
            Event::SignupWaitlisted {
                session: s,
                position,
                ..
            } => (
                format!("已进入候补：{}", s.title),
                format!(
                    "《{}》名额已满，您在候补名单第 {position} 位。\n有名额空出时按顺序自动转正，届时会通知您。\n时间：{}",
                    s.title,
                    s.when()
                ),
                Some(s.link()),
                "PUFA_WAITLIST",
                params(&[
                    ("title", short(&s.title, 20)),
                    ("position", position.to_string()),
                ]),
                Some(s.id),
                None,
            ),
            Event::Promoted { session: s, .. } => (
                format!("候补转正：{}", s.title),
                format!(
                    "有名额空出，您在《{}》的候补已自动转为正式报名。\n时间：{}（{}分钟）\n如不能参加，请在“我的”中取消报名，把名额让给其他企业。",
                    s.title,
                    s.when(),
                    s.minutes
                ),
                Some(s.link()),
                "PUFA_PROMOTED",
                params(&[("title", short(&s.title, 16)), ("when", when_short(s))]),
                Some(s.id),
                None,
            ),
            Event::Removed {
                session: s, reason, ..
            } => (
                format!("报名已被移除：{}", s.title),
                format!(
                    "组织方移除了您在《{}》的报名。\n原因：{reason}\n如有疑问，请联系工商联组织方。",
                    s.title
                ),
                Some(s.link()),
                "PUFA_REMOVED",
                params(&[("title", short(&s.title, 20))]),
                Some(s.id),
                None,
            ),
            Event::SessionMoved {
                session: s, before, ..
            } => (
                format!("时间调整：{}", s.title),
                format!(
                    "《{}》的时间已调整。\n原时间：{}\n新时间：{}\n您的报名保持有效；如新时间不便参加，请在“我的”中取消报名。",
                    s.title,
                    before
                        .map(|t| crate::schedule::datetime_zh(&t, s.tz))
                        .unwrap_or_else(|| "时间待定".into()),
                    s.when()
                ),
                Some(s.link()),
                "PUFA_MOVED",
                params(&[("title", short(&s.title, 20)), ("when", when_short(s))]),
                Some(s.id),
                None,
            ),
            Event::SessionCancelled { session: s } => (
                format!("课程取消：{}", s.title),
                format!(
                    "很抱歉，原定于{}的《{}》已取消。\n您的报名随之结束，无需操作。",
                    s.when(),
                    s.title
                ),
                Some(s.link()),
                "PUFA_CANCELLED",
                params(&[("title", short(&s.title, 20))]),
                Some(s.id),
                None,
            ),
            Event::Reminder { session: s, offset } => (
                format!("开课提醒：{}", s.title),
                format!(
                    "您报名的《{}》将在{}后开课。\n时间：{}（{}分钟）\n观看地址见下方链接，开课前几分钟进入即可。",
                    s.title,
                    offset_zh(*offset),
                    s.when(),
                    s.minutes
                ),
                Some(s.link()),
                "PUFA_REMINDER",
                params(&[("title", short(&s.title, 20)), ("when", when_short(s))]),
                Some(s.id),
                s.starts_at,
            ),
            Event::RecordingPublished { session: s, .. } => (
                format!("回放已上线：{}", s.title),
                format!(
                    "《{}》的回放已可观看。\n观看达到一定时长计为出勤。",
                    s.title
                ),
                Some(s.link()),
                "PUFA_RECORDING",
                params(&[("title", short(&s.title, 24))]),
                Some(s.id),
                None,
            ),
            Event::CheckupReady {
                checkup_id,
                level_zh,
            } => (
                "法治体检报告已生成".to_string(),
                format!(
                    "您的法治体检报告已生成，总体风险等级：{level_zh}。\n报告仅您本企业可见；查看报告了解各项风险和整改建议。"
                ),
                Some(format!("/checkup/reports/{checkup_id}")),
                "PUFA_CHECKUP",
                params(&[("level", level_zh.clone())]),
                None,
                None,
            ),
            Event::SessionMessage {
                session: s,
                subject,
                text,
                ..
            } => (
                format!("{}：{subject}", s.title),
                format!("组织方关于《{}》的通知：\n\n{text}", s.title),
                Some(s.link()),
                "PUFA_MESSAGE",
                params(&[("title", short(&s.title, 24))]),
                Some(s.id),
                None,
            ),
            Event::PasswordReset { .. } => (
                "密码已重置".to_string(),
                "您的精准普法账号密码已通过验证码重置，所有设备上的登录均已退出，请用新密码登录。\n如果这不是您本人的操作，请立即联系组织方。".to_string(),
                Some("/login".to_string()),
                "PUFA_SECURITY",
                BTreeMap::new(),
                None,
                None,
            ),
            Event::AccountFrozen { uscc, .. } => (
                "账号已冻结".to_string(),
                format!(
                    "统一社会信用代码 {uscc} 的所属企业提交了申诉（附营业执照），经工商联组织方核实，本账号已被冻结：不能再登录，尚未开始的课程报名已全部取消，名额已让给候补企业。\n如果这确是贵企业自己的代码，请携营业执照联系工商联组织方提出异议，核实后可以解冻。"
                ),
                None,
                "PUFA_FROZEN",
                BTreeMap::new(),
                None,
                None,
            ),
            Event::UsccTransferred { uscc, .. } => (
                "信用代码已移交".to_string(),
                format!(
                    "统一社会信用代码 {uscc} 已移交给其所属企业，本账号不再使用该代码，也不能再用它登录。\n如有异议，请携营业执照联系工商联组织方。"
                ),
                None,
                "PUFA_USCC_MOVED",
                params(&[("uscc", uscc.clone())]),
                None,
                None,
            ),
            Event::QuestionAssigned { question_id, title } => (
                format!("新的企业提问：{title}"),
                format!(
                    "一家企业的提问《{title}》已分派给您。\n请在 3 个工作日内答复；需要企业补充情况时，可在问题页请其补充。"
                ),
                Some(format!("/questions/{question_id}")),
                "PUFA_QA_ASSIGNED",
                params(&[("title", short(title, 16))]),
                None,
                None,
            ),
            Event::QuestionAnswered {
                question_id,
                title,
                needs_details,
                ..
            } => (
                if *needs_details {
                    format!("律师请您补充情况：{title}")
                } else {
                    format!("您的问题已回复：{title}")
                },
                if *needs_details {
                    format!("律师需要您补充一些情况，才能回答《{title}》。请打开问题页补充。")
                } else {
                    format!("律师已回复您的提问《{title}》。如仍有疑问，可在同一问题下继续追问。")
                },
                Some(format!("/questions/{question_id}")),
                "PUFA_QA_ANSWERED",
                params(&[("title", short(title, 20))]),
                None,
                None,
            ),
            Event::QuestionOverdue {
                question_id,
                title,
                working_days,
            } => (
                format!("提问超时未答：{title}"),
                format!(
                    "企业提问《{title}》已超过 {working_days} 个工作日没有律师答复。请查看分派情况，必要时改派。"
                ),
                Some(format!("/questions/{question_id}")),
                "PUFA_QA_OVERDUE",
                params(&[
                    ("title", short(title, 16)),
                    ("days", working_days.to_string()),
                ]),
                None,
                None,
            ),
            Event::QuestionFollowedUp {
                question_id, title, ..
            } => (
                format!("企业追问：{title}"),
                format!(
                    "企业在您负责的提问《{title}》下写了新的内容（追问或补充的情况），请查看并答复。"
                ),
                Some(format!("/questions/{question_id}")),
                "PUFA_QA_FOLLOWUP",
                params(&[("title", short(title, 20))]),
                None,
                None,
            ),
            Event::FollowupDue {
                followup_id,
                enterprise_name,
                due_on,
            } => (
                format!("回访待办：{enterprise_name}"),
                format!(
                    "{enterprise_name}的法治体检报告为高风险，需要回访。\n请于 {} 前联系企业，记录回访情况和整改结果。",
                    crate::schedule::date_zh(*due_on)
                ),
                Some(format!("/followups/{followup_id}")),
                "PUFA_FOLLOWUP",
                params(&[
                    ("name", short(enterprise_name, 14)),
                    ("due", due_on.format("%-m月%-d日").to_string()),
                ]),
                None,
                None,
            ),
            Event::RetakeInvited { .. } => (
                "请重新做一次法治体检".to_string(),
                "顾问律师已记录贵企业完成整改。请重新做一次法治体检：新报告会与上次对比，显示风险的变化。".to_string(),
                Some("/checkup".to_string()),
                "PUFA_RETAKE",
                BTreeMap::new(),
                None,
                None,
            ),
        };
        Message {
            kind,
            key,
            title,
            body,
            link,
            sms_template: template,
            sms_params: sms,
            session_id,
            expires_at,
        }
    }
}

/// Delay before attempt `attempt + 1` after `attempt` failed (1-based): 30 s doubling per
/// attempt, at most an hour — 30 s, 1, 2, 4, 8, 16, 32 min, 1 h.
pub fn backoff(attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    let secs = 30i64.saturating_mul(1i64 << exp.min(20));
    Duration::seconds(secs.min(3600))
}

type HmacSha256 = Hmac<Sha256>;

/// Hex HMAC-SHA256 of `data` under `key`.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(data);
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Pufa-Signature` header of an SMS webhook body: `sha256=<hex HMAC-SHA256>`.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret.as_bytes(), body))
}

/// The token of a one-click unsubscribe link for `user_id` (`{id}.{mac}`), signed with the
/// server's signing secret.
pub fn unsubscribe_token(secret: &str, user_id: i64) -> String {
    let mac = hmac_hex(
        secret.as_bytes(),
        format!("unsubscribe:{user_id}").as_bytes(),
    );
    format!("{user_id}.{mac}")
}

/// The account an unsubscribe token names, if its signature holds.
pub fn verify_unsubscribe_token(secret: &str, token: &str) -> Option<i64> {
    let (id, mac) = token.split_once('.')?;
    let user_id: i64 = id.parse().ok()?;
    let expected = unsubscribe_token(secret, user_id);
    let expected_mac = expected.split_once('.').map(|(_, m)| m)?;
    // constant-time comparison
    let equal = mac.len() == expected_mac.len()
        && mac
            .bytes()
            .zip(expected_mac.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    equal.then_some(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn session(title: &str) -> SessionRef {
        SessionRef {
            id: 7,
            title: title.into(),
            starts_at: Some(Utc.with_ymd_and_hms(2026, 12, 3, 6, 30, 0).unwrap()),
            minutes: 90,
            tz: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn every_sms_fits_one_message_even_with_a_long_title() {
        let s = session(&"民营企业劳动用工合规与劳动争议预防实务".repeat(3));
        let events = [
            Event::SignupConfirmed {
                session: s.clone(),
                registration_id: 1,
            },
            Event::SignupWaitlisted {
                session: s.clone(),
                registration_id: 1,
                position: 123,
            },
            Event::Promoted {
                session: s.clone(),
                registration_id: 1,
            },
            Event::Removed {
                session: s.clone(),
                registration_id: 1,
                reason: "重复报名".into(),
            },
            Event::SessionMoved {
                session: s.clone(),
                before: None,
                sequence: 2,
            },
            Event::SessionCancelled { session: s.clone() },
            Event::Reminder {
                session: s.clone(),
                offset: Duration::hours(24),
            },
            Event::RecordingPublished {
                session: s.clone(),
                lecture_id: 1,
                version: "v1".into(),
            },
            Event::CheckupReady {
                checkup_id: 1,
                level_zh: "高".into(),
            },
            Event::SessionMessage {
                session: s.clone(),
                message_id: "m".into(),
                subject: "会议号变更".into(),
                text: "请使用新的链接".into(),
            },
            Event::PasswordReset { at: Utc::now() },
            Event::AccountFrozen {
                claim_id: 1,
                uscc: "91350100M000100Y43".into(),
            },
            Event::UsccTransferred {
                claim_id: 1,
                uscc: "91350100M000100Y43".into(),
            },
            Event::QuestionAssigned {
                question_id: 1,
                title: s.title.clone(),
            },
            Event::QuestionAnswered {
                question_id: 1,
                message_id: 2,
                title: s.title.clone(),
                needs_details: false,
            },
            Event::QuestionOverdue {
                question_id: 1,
                title: s.title.clone(),
                working_days: 30,
            },
            Event::FollowupDue {
                followup_id: 1,
                enterprise_name: "示例超长名称科技发展有限责任公司第一分公司".repeat(2),
                due_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).expect("date"),
            },
            Event::QuestionFollowedUp {
                question_id: 1,
                message_id: 3,
                title: s.title.clone(),
            },
            Event::RetakeInvited { followup_id: 1 },
        ];
        for e in events {
            let m = e.render();
            let text = sms_text(m.sms_template, &m.sms_params).expect("template exists");
            assert!(
                text.chars().count() <= SMS_MAX_CHARS,
                "{} has {} chars: {text}",
                m.sms_template,
                text.chars().count()
            );
            assert!(!text.contains("${"), "unfilled parameter in {text}");
        }
    }

    /// The claimant of a credit-code claim has no account: it is sent these templates directly.
    #[test]
    fn claim_texts_fit_one_sms() {
        for template in [
            "PUFA_CLAIM_RECEIVED",
            "PUFA_CLAIM_REJECTED",
            "PUFA_CLAIM_DONE",
        ] {
            let text = sms_text(template, &params(&[("id", "123456".into())])).expect("template");
            assert!(text.chars().count() <= SMS_MAX_CHARS, "{template}: {text}");
            assert!(!text.contains("${"), "{text}");
        }
    }

    #[test]
    fn times_are_in_the_programs_zone() {
        let m = Event::Reminder {
            session: session("合同审查"),
            offset: Duration::hours(1),
        }
        .render();
        assert!(m.body.contains("2026年12月3日 周四 14:30"), "{}", m.body);
        assert!(m.body.contains("1小时后"), "{}", m.body);
        assert_eq!(m.sms_params["when"], "12月3日 14:30");
        assert_eq!(m.expires_at, session("x").starts_at);
    }

    #[test]
    fn a_moved_session_reminds_again_under_a_new_key() {
        let mut s = session("合同审查");
        let before = Event::Reminder {
            session: s.clone(),
            offset: Duration::hours(24),
        }
        .key();
        s.starts_at = s.starts_at.map(|t| t + Duration::days(1));
        let after = Event::Reminder {
            session: s,
            offset: Duration::hours(24),
        }
        .key();
        assert_ne!(before, after);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let secs: Vec<i64> = (1..=9).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }

    #[test]
    fn unsubscribe_tokens_are_bound_to_the_account() {
        let t = unsubscribe_token("secret", 42);
        assert_eq!(verify_unsubscribe_token("secret", &t), Some(42));
        assert_eq!(verify_unsubscribe_token("other", &t), None);
        let forged = t.replacen("42.", "43.", 1);
        assert_eq!(verify_unsubscribe_token("secret", &forged), None);
        assert_eq!(verify_unsubscribe_token("secret", "nonsense"), None);
    }

    #[test]
    fn webhook_signature_matches_a_known_vector() {
        // RFC 4231 test case 2
        assert_eq!(
            webhook_signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn defaults_put_promotions_and_reminders_on_every_channel() {
        for c in Channel::ALL {
            assert!(Kind::Promoted.default_on(c));
            assert!(Kind::Reminder.default_on(c));
        }
        assert!(!Kind::SessionMessage.default_on(Channel::Sms));
        assert!(Kind::AccountSecurity.default_on(Channel::Sms));
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
    }
}
