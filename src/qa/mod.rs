//! 企问律答 and legal advisors (issue 16): the vocabulary shared by questions, lawyer
//! profiles, public Q&A entries, advisor groups and 回访 follow-ups. Rules that need no
//! database live here as plain functions; the use cases are in `crate::app::qa`.
//!
//! A *topic* is a check-up dimension id (`questionnaire.toml`), so a question, a lawyer's
//! specialty, a report's weak dimension and a published entry all speak of the same thing.

pub mod followup;
pub mod funnel;
pub mod markdown;
pub mod planning;
pub mod redact;
pub mod routing;
pub mod workdays;

use serde::{Deserialize, Serialize};

/// Where a question thread stands, as the enterprise reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    /// 待分派: no lawyer matched; waits for the organizer.
    Pending,
    /// 已分派: a lawyer has it and has not answered yet.
    Assigned,
    /// 已答复: the lawyer answered (or asked for details).
    Answered,
    /// 已追问: the enterprise wrote again after an answer.
    Followup,
    /// 已关闭
    Closed,
}

impl QuestionStatus {
    pub const ALL: [QuestionStatus; 5] = [
        QuestionStatus::Pending,
        QuestionStatus::Assigned,
        QuestionStatus::Answered,
        QuestionStatus::Followup,
        QuestionStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionStatus::Pending => "pending",
            QuestionStatus::Assigned => "assigned",
            QuestionStatus::Answered => "answered",
            QuestionStatus::Followup => "followup",
            QuestionStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<QuestionStatus> {
        QuestionStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            QuestionStatus::Pending => "待分派",
            QuestionStatus::Assigned => "已分派",
            QuestionStatus::Answered => "已答复",
            QuestionStatus::Followup => "已追问",
            QuestionStatus::Closed => "已关闭",
        }
    }

    /// Waiting for a lawyer's word: counts towards the lawyer's load and the overdue flag.
    pub fn awaits_lawyer(self) -> bool {
        matches!(
            self,
            QuestionStatus::Pending | QuestionStatus::Assigned | QuestionStatus::Followup
        )
    }
}

/// What a message in a thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The enterprise's question or follow-up.
    Question,
    /// The lawyer's answer.
    Answer,
    /// The lawyer asks the enterprise for details.
    Request,
    /// An organizer's note in the thread.
    Note,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Question => "question",
            MessageKind::Answer => "answer",
            MessageKind::Request => "request",
            MessageKind::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        [
            MessageKind::Question,
            MessageKind::Answer,
            MessageKind::Request,
            MessageKind::Note,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// How a question got its lawyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignedBy {
    /// One of the enterprise's advisors.
    Advisor,
    /// A lawyer whose topics and industries match, least loaded first.
    Match,
    /// The organizer chose.
    Organizer,
}

impl AssignedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignedBy::Advisor => "advisor",
            AssignedBy::Match => "match",
            AssignedBy::Organizer => "organizer",
        }
    }

    pub fn parse(s: &str) -> Option<AssignedBy> {
        [
            AssignedBy::Advisor,
            AssignedBy::Match,
            AssignedBy::Organizer,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// 企业规模 (中小企业划型). Advisor groups are for small and micro enterprises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseSize {
    Micro,
    Small,
    Medium,
    Large,
}

impl EnterpriseSize {
    pub const ALL: [EnterpriseSize; 4] = [
        EnterpriseSize::Micro,
        EnterpriseSize::Small,
        EnterpriseSize::Medium,
        EnterpriseSize::Large,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EnterpriseSize::Micro => "micro",
            EnterpriseSize::Small => "small",
            EnterpriseSize::Medium => "medium",
            EnterpriseSize::Large => "large",
        }
    }

    pub fn parse(s: &str) -> Option<EnterpriseSize> {
        EnterpriseSize::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            EnterpriseSize::Micro => "微型",
            EnterpriseSize::Small => "小型",
            EnterpriseSize::Medium => "中型",
            EnterpriseSize::Large => "大型",
        }
    }

    /// Small and micro enterprises are the ones 5+1 advisor groups serve.
    pub fn eligible_for_advisors(self) -> bool {
        matches!(self, EnterpriseSize::Micro | EnterpriseSize::Small)
    }
}

/// Where a 回访 follow-up stands: open until the advisor records a contact, then the last
/// outcome recorded, or closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowupStatus {
    Open,
    Contacted,
    Rectifying,
    Rectified,
    NotRectified,
    Closed,
}

impl FollowupStatus {
    pub const ALL: [FollowupStatus; 6] = [
        FollowupStatus::Open,
        FollowupStatus::Contacted,
        FollowupStatus::Rectifying,
        FollowupStatus::Rectified,
        FollowupStatus::NotRectified,
        FollowupStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FollowupStatus::Open => "open",
            FollowupStatus::Contacted => "contacted",
            FollowupStatus::Rectifying => "rectifying",
            FollowupStatus::Rectified => "rectified",
            FollowupStatus::NotRectified => "not_rectified",
            FollowupStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<FollowupStatus> {
        FollowupStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            FollowupStatus::Open => "待回访",
            FollowupStatus::Contacted => "已联系",
            FollowupStatus::Rectifying => "整改中",
            FollowupStatus::Rectified => "已整改",
            FollowupStatus::NotRectified => "未整改",
            FollowupStatus::Closed => "已关闭",
        }
    }
}

/// What the advisor records after a contact (`POST /api/v1/followups/{id}/contacts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowupOutcome {
    /// 已联系
    Contacted,
    /// 整改中
    Rectifying,
    /// 已整改: invites the enterprise to retake the check-up.
    Rectified,
    /// 未整改
    NotRectified,
}

impl FollowupOutcome {
    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    pub fn parse(s: &str) -> Option<FollowupOutcome> {
        [
            FollowupOutcome::Contacted,
            FollowupOutcome::Rectifying,
            FollowupOutcome::Rectified,
            FollowupOutcome::NotRectified,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The follow-up's status after this outcome.
    pub fn status(self) -> FollowupStatus {
        match self {
            FollowupOutcome::Contacted => FollowupStatus::Contacted,
            FollowupOutcome::Rectifying => FollowupStatus::Rectifying,
            FollowupOutcome::Rectified => FollowupStatus::Rectified,
            FollowupOutcome::NotRectified => FollowupStatus::NotRectified,
        }
    }

    pub fn label_zh(self) -> &'static str {
        self.status().label_zh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in QuestionStatus::ALL {
            assert_eq!(QuestionStatus::parse(s.as_str()), Some(s));
        }
        for s in FollowupStatus::ALL {
            assert_eq!(FollowupStatus::parse(s.as_str()), Some(s));
        }
        for s in EnterpriseSize::ALL {
            assert_eq!(EnterpriseSize::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            FollowupOutcome::parse("rectified").map(FollowupOutcome::status),
            Some(FollowupStatus::Rectified)
        );
        assert_eq!(QuestionStatus::parse("open"), None);
    }

    #[test]
    fn only_small_and_micro_get_advisors() {
        assert!(EnterpriseSize::Micro.eligible_for_advisors());
        assert!(EnterpriseSize::Small.eligible_for_advisors());
        assert!(!EnterpriseSize::Medium.eligible_for_advisors());
        assert!(!EnterpriseSize::Large.eligible_for_advisors());
    }
}
