//! The audit log: what organizers (and the admin command line) did, written by the use cases
//! right after an action succeeded, and read by organizers on `/admin/audit`.
//!
//! An entry holds who, when, the action, its target and a small JSON detail *without personal
//! data*: ids, titles and reasons, never mobiles, e-mails, codes, tokens or passwords.

use crate::accounts::{Role, User};
use crate::db::audit::{AuditFilter, AuditRow, NewAuditEntry};
use crate::db::Db;
use chrono::{DateTime, Utc};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    RegistrationRemoved,
    SessionCancelled,
    SessionMoved,
    SessionEdited,
    LectureVisibilityChanged,
    RecordingUploaded,
    /// Captions or chapters of a lecture were uploaded or removed.
    CaptionsChanged,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    PasswordReset,
    RosterOpened,
    RosterExported,
    RosterMobilesChanged,
    CheckupReportOpened,
    /// A staff account changed its own display name (issue 15, /me/profile).
    ProfileEdited,
    /// An enterprise deleted its account (个人信息保护法 第四十七条); the entry names the id only.
    AccountDeleted,
    ClaimLicenceOpened,
    ClaimRejected,
    ClaimHolderFrozen,
    ClaimTransferred,
    /// A Q&A entry was published (directly or by approving a lawyer's proposal).
    QaEntryPublished,
    QaEntryWithdrawn,
    /// An advisor group was created, changed or removed.
    AdvisorGroupChanged,
    /// A lawyer opened the contacts of its advisor groups' enterprises (`/advisors`).
    AdvisorContactsOpened,
    /// A lawyer or organizer opened an enterprise's question thread (issue 16).
    QuestionThreadOpened,
    /// An organizer gave a question to another lawyer (issue 16).
    QuestionReassigned,
    /// Staff opened a 回访 follow-up (it shows the enterprise's contact; issue 16).
    FollowupOpened,
    /// A program's dates, slots, blackout days, zone or title were changed (issue 17).
    ProgramEdited,
    /// A program without sign-ups or recordings was deleted with its sessions.
    ProgramDeleted,
    /// A lecturer of the directory was added or changed.
    LecturerSaved,
}

impl Action {
    /// Every action, in the order the filter menu lists them.
    pub const ALL: [Action; 31] = [
        Action::RegistrationRemoved,
        Action::SessionCancelled,
        Action::SessionMoved,
        Action::SessionEdited,
        Action::LectureVisibilityChanged,
        Action::RecordingUploaded,
        Action::CaptionsChanged,
        Action::AccountCreated,
        Action::AccountDisabled,
        Action::AccountEnabled,
        Action::PasswordReset,
        Action::RosterOpened,
        Action::RosterExported,
        Action::RosterMobilesChanged,
        Action::CheckupReportOpened,
        Action::ProfileEdited,
        Action::AccountDeleted,
        Action::ClaimLicenceOpened,
        Action::ClaimRejected,
        Action::ClaimHolderFrozen,
        Action::ClaimTransferred,
        Action::QaEntryPublished,
        Action::QaEntryWithdrawn,
        Action::AdvisorGroupChanged,
        Action::AdvisorContactsOpened,
        Action::QuestionThreadOpened,
        Action::QuestionReassigned,
        Action::FollowupOpened,
        Action::ProgramEdited,
        Action::ProgramDeleted,
        Action::LecturerSaved,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RegistrationRemoved => "registration.removed",
            Action::SessionCancelled => "session.cancelled",
            Action::SessionMoved => "session.moved",
            Action::SessionEdited => "session.edited",
            Action::LectureVisibilityChanged => "lecture.visibility_changed",
            Action::RecordingUploaded => "recording.uploaded",
            Action::CaptionsChanged => "lecture.captions_changed",
            Action::AccountCreated => "account.created",
            Action::AccountDisabled => "account.disabled",
            Action::AccountEnabled => "account.enabled",
            Action::PasswordReset => "account.password_reset",
            Action::RosterOpened => "roster.opened",
            Action::RosterExported => "roster.exported",
            Action::RosterMobilesChanged => "roster.mobiles_changed",
            Action::CheckupReportOpened => "checkup_report.opened",
            Action::ProfileEdited => "account.profile_edited",
            Action::AccountDeleted => "account.deleted",
            Action::ClaimLicenceOpened => "claim.licence_opened",
            Action::ClaimRejected => "claim.rejected",
            Action::ClaimHolderFrozen => "claim.holder_frozen",
            Action::ClaimTransferred => "claim.transferred",
            Action::QaEntryPublished => "qa_entry.published",
            Action::QaEntryWithdrawn => "qa_entry.withdrawn",
            Action::AdvisorGroupChanged => "advisor_group.changed",
            Action::AdvisorContactsOpened => "advisor_group.contacts_opened",
            Action::QuestionThreadOpened => "question.opened",
            Action::QuestionReassigned => "question.reassigned",
            Action::FollowupOpened => "followup.opened",
            Action::ProgramEdited => "program.edited",
            Action::ProgramDeleted => "program.deleted",
            Action::LecturerSaved => "lecturer.saved",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Chinese label for the page and the CSV.
    pub fn label_zh(self) -> &'static str {
        match self {
            Action::RegistrationRemoved => "移除报名",
            Action::SessionCancelled => "取消课程",
            Action::SessionMoved => "调整课程时间",
            Action::SessionEdited => "修改课程",
            Action::LectureVisibilityChanged => "更改回放公开范围",
            Action::RecordingUploaded => "上传录像",
            Action::CaptionsChanged => "更改字幕或章节",
            Action::AccountCreated => "新建账号",
            Action::AccountDisabled => "停用账号",
            Action::AccountEnabled => "启用账号",
            Action::PasswordReset => "重置密码",
            Action::RosterOpened => "查看报名名单",
            Action::RosterExported => "导出报名名单",
            Action::RosterMobilesChanged => "更改名单手机号显示",
            Action::CheckupReportOpened => "查看体检报告",
            Action::ProfileEdited => "修改资料",
            Action::AccountDeleted => "注销账号",
            Action::ClaimLicenceOpened => "查看申诉营业执照",
            Action::ClaimRejected => "驳回信用代码申诉",
            Action::ClaimHolderFrozen => "冻结占用信用代码的账号",
            Action::ClaimTransferred => "移交信用代码",
            Action::QaEntryPublished => "发布公开问答",
            Action::QaEntryWithdrawn => "撤回公开问答",
            Action::AdvisorGroupChanged => "调整法律顾问组",
            Action::AdvisorContactsOpened => "查看顾问企业联系方式",
            Action::QuestionThreadOpened => "查看企业提问",
            Action::QuestionReassigned => "改派企业提问",
            Action::FollowupOpened => "查看回访",
            Action::ProgramEdited => "修改普法月项目",
            Action::ProgramDeleted => "删除普法月项目",
            Action::LecturerSaved => "保存讲师信息",
        }
    }
}

/// What an action was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Session(i64),
    Lecture(i64),
    Account(i64),
    Checkup(i64),
    Claim(i64),
    QaEntry(i64),
    AdvisorGroup(i64),
    Question(i64),
    Followup(i64),
    Program(i64),
    Lecturer(i64),
}

impl Target {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Target::Session(id) => ("session", id),
            Target::Lecture(id) => ("lecture", id),
            Target::Account(id) => ("account", id),
            Target::Checkup(id) => ("checkup", id),
            Target::Claim(id) => ("claim", id),
            Target::QaEntry(id) => ("qa_entry", id),
            Target::AdvisorGroup(id) => ("advisor_group", id),
            Target::Question(id) => ("question", id),
            Target::Followup(id) => ("followup", id),
            Target::Program(id) => ("program", id),
            Target::Lecturer(id) => ("lecturer", id),
        }
    }
}

/// Write an entry for an action that already succeeded. The action is not undone when the
/// entry cannot be written (the database refused a moment after committing the change); the
/// failure is logged as an error for the operator instead.
pub async fn record(
    db: &Db,
    now: DateTime<Utc>,
    actor: Option<&User>,
    action: Action,
    target: Target,
    detail: serde_json::Value,
) {
    let (target_type, target_id) = target.parts();
    let detail = detail.to_string();
    let entry = NewAuditEntry {
        at: now,
        actor_user_id: actor.map(|u| u.id),
        action: action.as_str(),
        target_type,
        target_id: Some(target_id),
        detail: &detail,
    };
    if let Err(e) = db.insert_audit(&entry).await {
        tracing::error!(error = ?e, action = action.as_str(), target_type, target_id,
            "audit entry not written");
    }
}

/// Why the audit log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Only organizers read it.
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Internal(e.into())
    }
}

/// Entries per page.
pub const PAGE_SIZE: i64 = 50;
/// Most entries one CSV export holds.
pub const EXPORT_LIMIT: i64 = 100_000;

/// A page of the audit log for organizer `viewer`, newest first. `filter.limit` is capped.
pub async fn entries(
    db: &Db,
    viewer: &User,
    mut filter: AuditFilter,
) -> Result<Vec<AuditRow>, AuditError> {
    if viewer.role != Role::Organizer {
        return Err(AuditError::Forbidden);
    }
    filter.limit = filter.limit.clamp(1, EXPORT_LIMIT);
    Ok(db.audit_entries(&filter).await?)
}

/// The accounts that appear in the log, for the actor filter (organizers only).
pub async fn actors(db: &Db, viewer: &User) -> Result<Vec<(i64, String)>, AuditError> {
    if viewer.role != Role::Organizer {
        return Err(AuditError::Forbidden);
    }
    Ok(db.audit_actors().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(Action::parse("nope"), None);
    }

    #[tokio::test]
    async fn entries_are_listed_newest_first_and_filtered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let organizer = User {
            id: 1,
            role: Role::Organizer,
            display_name: "组织者".into(),
            username: Some("admin".into()),
        };
        let now = Utc::now();
        let detail = serde_json::json!({"reason": "重复报名"});
        record(
            &db,
            now,
            Some(&organizer),
            Action::RegistrationRemoved,
            Target::Session(3),
            detail,
        )
        .await;
        record(
            &db,
            now,
            None,
            Action::SessionCancelled,
            Target::Session(4),
            serde_json::json!({}),
        )
        .await;
        let all = entries(
            &db,
            &organizer,
            AuditFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("entries");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].action, "session.cancelled");
        assert_eq!(all[1].detail, r#"{"reason":"重复报名"}"#);
        let removals = entries(
            &db,
            &organizer,
            AuditFilter {
                action: Some("registration.removed".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("entries");
        assert_eq!(removals.len(), 1);
        assert_eq!(removals[0].target_id, Some(3));
        let lawyer = User {
            role: Role::Lawyer,
            ..organizer
        };
        assert!(matches!(
            entries(&db, &lawyer, AuditFilter::default()).await,
            Err(AuditError::Forbidden)
        ));
    }
}
