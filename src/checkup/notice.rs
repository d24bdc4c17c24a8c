//! The notice an enterprise reads and confirms before it starts a check-up: who can read its
//! report, how long it is kept, and that the check-up is a self-check, not legal advice.
//!
//! The answers are written admissions, so the notice states exactly what the code does: the
//! readers it names are the roles [`super::may_read_report`] lets in (a test ties the two), the
//! retention is "until the enterprise deletes it" (nothing deletes check-ups on a timer), and
//! organizers' openings are logged for the enterprise to see.

use crate::accounts::Role;

/// The revision of the notice text. A consent is recorded with the revision it was given to,
/// so a change of what the notice promises asks every enterprise to confirm again.
pub const REVISION: &str = "2026-12";

/// Roles other than the report's own enterprise that may open a submitted report, as the
/// notice names them.
pub const OTHER_READERS: &[Role] = &[Role::Organizer];

/// One part of the notice: a heading and its points.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub heading: &'static str,
    pub points: &'static [&'static str],
}

/// The notice, in the order it is shown.
pub const SECTIONS: &[Section] = &[
    Section {
        heading: "这是企业自查，不是法律意见",
        points: &[
            "体检报告由系统根据贵企业自己填写的答案自动生成，仅供企业自查和普法参考，不构成对具体事项的法律意见，也不能代替律师的审查。",
            "需要法律意见的事项，请另行咨询律师（可通过商会联系法律顾问团律师）。",
        ],
    },
    Section {
        heading: "谁能看到您的报告",
        points: &[
            "贵企业自己的账号：可以查看完整报告，包括每道题的答案、风险点和整改建议。",
            "商会（工商联）组织者账号：为安排回访和汇总统计，可以打开完整报告。组织者每打开一次都会被记录（账号、角色、时间），记录显示在报告页面的“查阅记录”中，只有贵企业自己能看到。",
            "组织者的体检看板、导出表格和回访名单只显示风险等级和风险维度（例如“财税：高”），不显示贵企业的答案，也不显示风险点的内容。",
            "法律顾问团律师账号和其他企业都不能在系统中查看您的报告。",
        ],
    },
    Section {
        heading: "保存多久、如何删除",
        points: &[
            "草稿和报告一直保存，直到贵企业自己删除；系统不会定期删除，也不会转交他人。",
            "贵企业可以随时在报告页面永久删除一份报告（连同它的查阅记录），或在法治体检首页删除草稿。删除后任何人（包括组织者）都无法再打开，看板、回访名单和导出表格也不再计入，且无法恢复。",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::User;
    use crate::checkup::{may_read_report, CheckupStatus};

    /// The notice names exactly the roles the access rule lets read another's report.
    #[test]
    fn the_notice_names_exactly_who_can_read_a_report() {
        for role in [Role::Organizer, Role::Lawyer, Role::Enterprise] {
            let viewer = User {
                id: 1,
                role,
                display_name: String::new(),
                username: None,
            };
            assert_eq!(
                may_read_report(&viewer, 2, CheckupStatus::Submitted),
                OTHER_READERS.contains(&role),
                "{role:?}"
            );
        }
        let readers = SECTIONS[1].points.join("");
        assert!(readers.contains("组织者") && readers.contains("律师账号和其他企业都不能"));
    }
}
