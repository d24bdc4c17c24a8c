//! Question threads, from "an enterprise asks" to "the thread is closed": asking (routed to a
//! lawyer in the same transaction, see `crate::qa::routing`), reading threads and lists with
//! the privacy rule, answers, requests for details and follow-ups, closing, the organizer's
//! reassignment, 在直播中已解答 during a live lecture, and the overdue flag.
//!
//! Who sees a thread ([`may_read`]): its enterprise, the lawyer it is assigned to *now*, and
//! organizers. Anyone else gets `NotFound` (as for check-up reports: the id's existence is
//! not told); an account that may read a thread but not do something to it gets `Forbidden`.

use super::{QaError, Result};
use crate::accounts::{Role, User};
use crate::app::audit::{self, Action, Target};
use crate::app::checkup::Questionnaires;
use crate::db::questions::{
    Asked, Guard, MessageRow, NewMessage, NewQuestion, QuestionFilter, QuestionRow,
};
use crate::db::Db;
use crate::qa::{workdays, MessageKind, QuestionStatus};
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Duration, Utc};

/// Longest title, in characters.
pub const TITLE_MAX: usize = 60;
/// Longest message, in characters.
pub const BODY_MAX: usize = 4000;
/// At most this many questions per enterprise per [`THROTTLE_WINDOW_MIN`] minutes.
pub const THROTTLE_LIMIT: i64 = 10;
pub const THROTTLE_WINDOW_MIN: i64 = 60;
/// Questions per list page.
pub const PAGE_SIZE: i64 = 20;
/// The answer message the lecturer's 在直播中已解答 writes.
pub const ANSWERED_LIVE_ZH: &str =
    "已在直播中解答。可观看本场直播或回放了解详情；如仍有疑问，欢迎继续追问。";

/// What an enterprise asks.
#[derive(Debug, Clone, Default)]
pub struct AskRequest {
    pub title: String,
    pub body: String,
    pub topic: String,
    pub session_id: Option<i64>,
    pub checkup_id: Option<i64>,
    pub finding: Option<String>,
}

/// A stored question.
#[derive(Debug, Clone, Copy)]
pub struct AskOutcome {
    pub id: i64,
    pub status: QuestionStatus,
}

/// A thread as its reader may see it.
#[derive(Debug, Clone)]
pub struct Thread {
    pub question: QuestionRow,
    pub messages: Vec<MessageRow>,
}

/// The list filters an organizer may use (others see their own questions only).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub status: Option<QuestionStatus>,
    pub topic: Option<String>,
    pub lawyer_id: Option<i64>,
    pub only_overdue: bool,
    /// 1-based.
    pub page: i64,
}

/// The check-up dimensions a question may be about: (id, name), in questionnaire order.
pub fn topics(questionnaires: &Questionnaires) -> Vec<(String, String)> {
    questionnaires
        .current()
        .dimensions
        .iter()
        .map(|d| (d.id.clone(), d.name.clone()))
        .collect()
}

/// The name of topic `id` (the id itself for a dimension a later questionnaire dropped).
pub fn topic_name(questionnaires: &Questionnaires, id: &str) -> String {
    questionnaires
        .current()
        .dimension(id)
        .map(|d| d.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// Who may read thread `q`: its enterprise, the lawyer assigned now, organizers.
pub fn may_read(viewer: &User, q: &QuestionRow) -> bool {
    match viewer.role {
        Role::Organizer => true,
        Role::Enterprise => q.enterprise_id == viewer.id,
        Role::Lawyer => q.assigned_lawyer_id == Some(viewer.id),
    }
}

/// Who may write in thread `q` now (the page shows the reply form to them).
pub fn may_write(viewer: &User, q: &QuestionRow) -> bool {
    q.status != QuestionStatus::Closed && may_read(viewer, q)
}

fn closed_conflict() -> QaError {
    QaError::conflict(
        "question_closed",
        "该问题已关闭，不能再回复。如有新的问题，请重新提问。",
    )
}

fn changed_conflict() -> QaError {
    QaError::conflict(
        "question_changed",
        "该问题刚刚被他人更新，请刷新页面后重试。",
    )
}

fn check_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize, name: &str) {
    let lines = if field == "title" {
        Lines::Single
    } else {
        Lines::Multi
    };
    if !errors.check_text(field, name, value, lines) {
        return;
    }
    let n = value.trim().chars().count();
    if n == 0 {
        errors.add(field, format!("请填写{name}"));
    } else if n > max {
        errors.add(field, format!("{name}不能超过 {max} 个字（现有 {n} 个）"));
    }
}

/// An enterprise asks. The question is routed in the same transaction; at most
/// [`THROTTLE_LIMIT`] questions an hour per enterprise.
pub async fn ask(
    db: &Db,
    questionnaires: &Questionnaires,
    now: DateTime<Utc>,
    user: &User,
    req: AskRequest,
) -> Result<AskOutcome> {
    if !user.is_enterprise() {
        return Err(QaError::Forbidden);
    }
    let mut errors = FieldErrors::default();
    check_text(&mut errors, "title", &req.title, TITLE_MAX, "标题");
    check_text(&mut errors, "body", &req.body, BODY_MAX, "问题描述");
    if questionnaires.current().dimension(&req.topic).is_none() {
        errors.add("topic", format!("未知的问题类别：{}", excerpt(&req.topic)));
    }
    if let Some(session_id) = req.session_id {
        if !db.session_open_for_questions(session_id).await? {
            errors.add("session_id", format!("课程 {session_id} 不存在或已取消"));
        }
    }
    let mut checkup_id = req.checkup_id;
    let mut finding = req
        .finding
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty());
    if let Some(id) = checkup_id {
        let own = db
            .checkup(id)
            .await?
            .is_some_and(|c| c.enterprise_id == user.id);
        if !own {
            errors.add("checkup_id", format!("体检报告 {id} 不存在"));
        }
    }
    if let Some(f) = &finding {
        if f.chars().count() > 64 {
            errors.add("finding", "体检问题编号过长");
        }
        if checkup_id.is_none() {
            // a finding names an item of a report; without the report it means nothing
            finding = None;
        }
    }
    if !errors.is_empty() {
        return Err(QaError::Invalid(errors));
    }
    if finding.is_none() && checkup_id.is_none() {
        checkup_id = None;
    }
    let enterprise = db.enterprise(user.id).await?.ok_or(QaError::Forbidden)?;
    let asked = db
        .ask_question(
            &NewQuestion {
                enterprise_id: user.id,
                title: req.title.trim().to_string(),
                body: req.body.trim().to_string(),
                topic: req.topic,
                industry: enterprise.industry,
                session_id: req.session_id,
                checkup_id,
                finding,
            },
            now,
            Duration::minutes(THROTTLE_WINDOW_MIN),
            THROTTLE_LIMIT,
        )
        .await?;
    match asked {
        Asked::Stored { id, status, route } => {
            tracing::info!(
                question = id,
                routed_by = route.map(|r| r.by.as_str()).unwrap_or("none"),
                "question asked"
            );
            Ok(AskOutcome { id, status })
        }
        Asked::Throttled { retry_after_s } => Err(QaError::Throttled { retry_after_s }),
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Thread `id` for `viewer`, with its messages. A lawyer's or organizer's opening is audited.
pub async fn thread(db: &Db, now: DateTime<Utc>, viewer: &User, id: i64) -> Result<Thread> {
    let question = readable(db, viewer, id).await?;
    if viewer.id != question.enterprise_id {
        audit::record(
            db,
            now,
            Some(viewer),
            Action::QuestionThreadOpened,
            Target::Question(id),
            serde_json::json!({"enterprise_id": question.enterprise_id}),
        )
        .await;
    }
    let messages = db.question_messages(id).await?;
    Ok(Thread { question, messages })
}

async fn readable(db: &Db, viewer: &User, id: i64) -> Result<QuestionRow> {
    let q = db.question(id).await?.ok_or(QaError::NotFound)?;
    if !may_read(viewer, &q) {
        return Err(QaError::NotFound);
    }
    Ok(q)
}

/// The questions `viewer` may see: an enterprise its own, a lawyer those assigned to it now,
/// an organizer all (with the filters). Overdue ones first, then newest first.
pub async fn list(db: &Db, viewer: &User, req: &ListRequest) -> Result<(Vec<QuestionRow>, i64)> {
    let page = req.page.max(1);
    let mut filter = QuestionFilter {
        status: req.status,
        topic: req.topic.clone().filter(|t| !t.is_empty()),
        only_overdue: req.only_overdue,
        limit: PAGE_SIZE,
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        ..QuestionFilter::default()
    };
    match viewer.role {
        Role::Enterprise => filter.enterprise_id = Some(viewer.id),
        Role::Lawyer => filter.lawyer_id = Some(viewer.id),
        Role::Organizer => filter.lawyer_id = req.lawyer_id,
    }
    Ok(db.questions(&filter).await?)
}

/// Write in thread `id`. The enterprise writes a follow-up (an answered thread becomes
/// 已追问); the assigned lawyer an answer (default) or a request for details (both make it
/// 已答复 and tell the enterprise); an organizer a note. A closed thread refuses (409).
pub async fn write(
    db: &Db,
    now: DateTime<Utc>,
    viewer: &User,
    id: i64,
    body: &str,
    kind: Option<MessageKind>,
) -> Result<i64> {
    let q = readable(db, viewer, id).await?;
    if q.status == QuestionStatus::Closed {
        return Err(closed_conflict());
    }
    let mut errors = FieldErrors::default();
    check_text(&mut errors, "body", body, BODY_MAX, "内容");
    let (kind, new_status, notify) = match viewer.role {
        Role::Enterprise => {
            let kind = kind.unwrap_or(MessageKind::Question);
            if kind != MessageKind::Question {
                errors.add("kind", "企业只能追问（kind 为 question）");
            }
            let status = if q.status == QuestionStatus::Answered {
                QuestionStatus::Followup
            } else {
                q.status
            };
            (kind, status, false)
        }
        Role::Lawyer => {
            let kind = kind.unwrap_or(MessageKind::Answer);
            if !matches!(kind, MessageKind::Answer | MessageKind::Request) {
                errors.add("kind", "律师可以答复（answer）或请企业补充（request）");
            }
            (kind, QuestionStatus::Answered, true)
        }
        Role::Organizer => {
            let kind = kind.unwrap_or(MessageKind::Note);
            if kind != MessageKind::Note {
                errors.add("kind", "组织者只能添加备注（kind 为 note）");
            }
            (kind, q.status, false)
        }
    };
    if !errors.is_empty() {
        return Err(QaError::Invalid(errors));
    }
    let written = db
        .write_question_message(
            id,
            Guard {
                expect_status: q.status,
                expect_lawyer: q.assigned_lawyer_id,
            },
            &NewMessage {
                author_id: viewer.id,
                author_role: viewer.role,
                kind,
                body: body.trim(),
                new_status,
                notify_enterprise: notify,
                answered_live: false,
            },
            now,
        )
        .await?;
    written.ok_or_else(changed_conflict)
}

/// Close thread `id`: the assigned lawyer, an organizer, or the enterprise its own.
pub async fn close(db: &Db, now: DateTime<Utc>, viewer: &User, id: i64) -> Result<()> {
    let q = readable(db, viewer, id).await?;
    if q.status == QuestionStatus::Closed {
        return Err(QaError::conflict("question_closed", "该问题已经关闭。"));
    }
    let guard = Guard {
        expect_status: q.status,
        expect_lawyer: q.assigned_lawyer_id,
    };
    if db.close_question(id, guard, now).await? {
        Ok(())
    } else {
        Err(changed_conflict())
    }
}

/// An organizer gives thread `id` to active lawyer `lawyer_id` (who is told). A pending
/// thread becomes 已分派; the previous lawyer no longer sees it.
pub async fn assign(
    db: &Db,
    now: DateTime<Utc>,
    viewer: &User,
    id: i64,
    lawyer_id: i64,
) -> Result<()> {
    let q = readable(db, viewer, id).await?;
    if !viewer.is_organizer() {
        return Err(QaError::Forbidden);
    }
    if q.status == QuestionStatus::Closed {
        return Err(QaError::conflict(
            "question_closed",
            "该问题已关闭，不能改派。",
        ));
    }
    if !db.is_active_lawyer(lawyer_id).await? {
        return Err(QaError::Invalid(FieldErrors::single(
            "lawyer_id",
            format!("账号 {lawyer_id} 不是启用中的律师账号"),
        )));
    }
    if q.assigned_lawyer_id == Some(lawyer_id) {
        return Ok(());
    }
    let new_status = if q.status == QuestionStatus::Pending {
        QuestionStatus::Assigned
    } else {
        q.status
    };
    let guard = Guard {
        expect_status: q.status,
        expect_lawyer: q.assigned_lawyer_id,
    };
    if !db
        .assign_question(id, guard, lawyer_id, new_status, now)
        .await?
    {
        return Err(changed_conflict());
    }
    audit::record(
        db,
        now,
        Some(viewer),
        Action::QuestionReassigned,
        Target::Question(id),
        serde_json::json!({"from": q.assigned_lawyer_id, "to": lawyer_id}),
    )
    .await;
    Ok(())
}

/// True when `viewer` runs the live questions panel of session `session_id`: an organizer, or
/// the lawyer account of the session's lecturer.
pub async fn may_moderate_session(db: &Db, viewer: &User, session_id: i64) -> Result<bool> {
    Ok(match viewer.role {
        Role::Organizer => true,
        Role::Lawyer => db.session_lecturer_user(session_id).await? == Some(viewer.id),
        Role::Enterprise => false,
    })
}

/// A question of a live lecture, as the panel shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveQuestion {
    pub id: i64,
    pub title: String,
    /// The question's text (the first message).
    pub body: String,
    pub status: QuestionStatus,
    #[schema(required = true)]
    pub answered_live_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The questions attached to session `session_id`, newest first, for its lecturer and
/// organizers (others: `Forbidden`; an unknown session: `NotFound`).
pub async fn session_questions(
    db: &Db,
    viewer: &User,
    session_id: i64,
) -> Result<Vec<LiveQuestion>> {
    if db.session(session_id).await?.is_none() {
        return Err(QaError::NotFound);
    }
    if !may_moderate_session(db, viewer, session_id).await? {
        return Err(QaError::Forbidden);
    }
    let (rows, _) = db
        .questions(&QuestionFilter {
            session_id: Some(session_id),
            limit: 200,
            ..QuestionFilter::default()
        })
        .await?;
    let ids: Vec<i64> = rows.iter().map(|q| q.id).collect();
    let bodies = db.question_bodies(&ids).await?;
    Ok(rows
        .into_iter()
        .map(|q| LiveQuestion {
            body: bodies
                .iter()
                .find(|(id, _)| *id == q.id)
                .map(|(_, b)| b.clone())
                .unwrap_or_default(),
            id: q.id,
            title: q.title,
            status: q.status,
            answered_live_at: q.answered_live_at,
            created_at: q.created_at,
        })
        .collect())
}

/// The lecturer (or an organizer) marks question `id` 在直播中已解答: an answer message says
/// so, the thread becomes 已答复 and the enterprise is told.
pub async fn mark_answered_live(db: &Db, now: DateTime<Utc>, viewer: &User, id: i64) -> Result<()> {
    let q = db.question(id).await?.ok_or(QaError::NotFound)?;
    let Some(session_id) = q.session_id else {
        return Err(if may_read(viewer, &q) {
            QaError::conflict("not_a_live_question", "该问题没有关联课程。")
        } else {
            QaError::NotFound
        });
    };
    if !may_moderate_session(db, viewer, session_id).await? {
        return Err(if may_read(viewer, &q) {
            QaError::Forbidden
        } else {
            QaError::NotFound
        });
    }
    if q.status == QuestionStatus::Closed {
        return Err(closed_conflict());
    }
    if q.answered_live_at.is_some() {
        return Err(QaError::conflict(
            "already_answered_live",
            "该问题已标记为在直播中解答。",
        ));
    }
    let written = db
        .write_question_message(
            id,
            Guard {
                expect_status: q.status,
                expect_lawyer: q.assigned_lawyer_id,
            },
            &NewMessage {
                author_id: viewer.id,
                author_role: viewer.role,
                kind: MessageKind::Answer,
                body: ANSWERED_LIVE_ZH,
                new_status: QuestionStatus::Answered,
                notify_enterprise: true,
                answered_live: true,
            },
            now,
        )
        .await?;
    written.map(|_| ()).ok_or_else(changed_conflict)
}

/// Flag the questions that have waited more than `working_days` working days (in the
/// chamber's zone) for a lawyer's word, and tell the organizers, once per question. Returns
/// how many were flagged. The periodic task calls it with the clock's now; tests with a
/// manual clock.
pub async fn run_overdue(db: &Db, now: DateTime<Utc>, working_days: u32) -> Result<usize> {
    let tz = crate::schedule::DEFAULT_TZ;
    let local_now = now.with_timezone(&tz).naive_local();
    let due: Vec<i64> = db
        .questions_awaiting_unflagged()
        .await?
        .into_iter()
        .filter(|(_, since)| {
            workdays::is_overdue(
                since.with_timezone(&tz).naive_local(),
                local_now,
                working_days,
            )
        })
        .map(|(id, _)| id)
        .collect();
    let flagged = db.flag_questions_overdue(&due, working_days, now).await?;
    if flagged > 0 {
        tracing::info!(flagged, "questions flagged overdue");
    }
    Ok(flagged)
}

/// Every 5 minutes (and at start), [`run_overdue`] at the clock's now; `serve` aborts it at
/// shutdown.
pub async fn overdue_loop(db: Db, clock: crate::clock::Clock, working_days: u32) {
    let mut tick = tokio::time::interval(OVERDUE_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_overdue(&db, clock.now(), working_days).await {
            tracing::warn!(error = ?e, "flagging overdue questions failed");
        }
    }
}

/// How often [`overdue_loop`] looks.
pub const OVERDUE_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

/// Sample threads for `pufa serve --demo` (示例): two lawyer accounts linked to the demo
/// lecturers 示例律师甲 and 乙 with profiles (their passwords are random and never shown; an
/// organizer sets one under 工作人员账号), one sample enterprise, and questions in several
/// states — answered, closed, assigned and waiting for the organizer. Does nothing when the
/// accounts exist already.
/// The name of the demo's sample enterprise that asks the sample questions (and, in
/// [`super::followups::load_demo`], takes the sample high-risk check-up).
pub const DEMO_ENTERPRISE: &str = "示例制造有限公司（企问律答示例）";

pub async fn load_demo(db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    use crate::accounts::uscc::{Uscc, UsccError};
    use crate::db::lawyers::ProfileUpdate;

    const JIA: &str = "lawyer-demo-jia";
    if db.username_exists(JIA).await? {
        return Ok(());
    }
    let hash = crate::app::login::hash_password(crate::accounts::random_token()).await?;
    let mut lawyers = Vec::new();
    for (username, name, firm, topics, industries, contact) in [
        (
            JIA,
            "示例律师甲",
            "示例第一律师事务所",
            &["contracts", "labour", "construction"][..],
            &[][..],
            "示例电话 0591-00000001",
        ),
        (
            "lawyer-demo-yi",
            "示例律师乙",
            "示例第一律师事务所",
            &["tax", "ip", "data"][..],
            &["C", "I"][..],
            "示例电话 0591-00000002",
        ),
    ] {
        let id = db
            .insert_staff(Role::Lawyer, username, &format!("{name}（示例）"), &hash)
            .await?;
        if let Some(lecturer) = db.lecturer_id(name, firm).await? {
            db.link_lecturer_user(lecturer, Some(id)).await?;
        }
        db.put_lawyer_profile(
            id,
            &ProfileUpdate {
                firm: firm.to_string(),
                contact: contact.to_string(),
                bio: "示例资料，非真实律师。".to_string(),
                accepting: true,
                topics: topics.iter().map(|t| t.to_string()).collect(),
                industries: industries.iter().map(|i| i.to_string()).collect(),
            },
            now,
        )
        .await?;
        lawyers.push(id);
    }
    // a credit code with valid check characters, as the test fixtures make them
    let mut code: Vec<char> = "913501000016000100".chars().collect();
    let uscc = loop {
        match Uscc::parse(&code.iter().collect::<String>()) {
            Ok(uscc) => break uscc.as_str().to_string(),
            Err(UsccError::OrgCodeCheck { expected, .. }) => code[16] = expected,
            Err(UsccError::CheckChar { expected, .. }) => code[17] = expected,
            Err(other) => anyhow::bail!("demo credit code: {other:?}"),
        }
    };
    let enterprise_id = db
        .insert_enterprise(
            &crate::accounts::ValidEnterprise {
                name: DEMO_ENTERPRISE.into(),
                uscc,
                industry: 'C',
                district: Some("示例区".into()),
                contact_name: "示例联系人".into(),
                mobile: "13900160001".into(),
                privacy_notice_version: crate::accounts::privacy::NOTICE_VERSION,
                size: Some(crate::qa::EnterpriseSize::Small),
            },
            &hash,
            &crate::accounts::random_token(),
            now,
        )
        .await?;
    let ask = |title: &str, topic: &str, body: &str| NewQuestion {
        enterprise_id,
        title: title.to_string(),
        body: body.to_string(),
        topic: topic.to_string(),
        industry: "C".into(),
        session_id: None,
        checkup_id: None,
        finding: None,
    };
    let samples = [
        (
            ask("示例：试用期员工可以不签劳动合同吗？", "labour", "示例：我们新招两名员工，约定试用期两个月，想等转正后再签合同。"),
            Some("示例答复：**不可以。**用人单位自用工之日起即与劳动者建立劳动关系，应当在**一个月内**订立书面劳动合同，试用期包含在劳动合同期限内。\n\n- 超过一个月不满一年未订立的，应当向劳动者每月支付二倍工资；\n- 建议入职当天签订，并保留签收记录。"),
            false,
        ),
        (
            ask("示例：对方迟迟不付尾款，合同里没约定违约金怎么办？", "contracts", "示例：设备已交付验收三个月，对方以资金紧张为由拖欠尾款。"),
            Some("示例答复：可先书面催告并保留送达证据；没有约定违约金的，可以主张逾期付款的利息损失。诉讼时效为三年，自知道权利受损之日起计算。"),
            true,
        ),
        (
            ask("示例：收到的发票品名与合同不一致怎么办？", "tax", "示例：供应商开具的发票品名是“办公用品”，合同是原材料。"),
            None,
            false,
        ),
        (
            ask("示例：产品说明书里的免责条款有效吗？", "market", "示例：说明书写明“因使用不当造成的损失概不负责”。"),
            None,
            false,
        ),
    ];
    for (question, answer, close) in samples {
        let asked = db
            .ask_question(
                &question,
                now,
                Duration::minutes(THROTTLE_WINDOW_MIN),
                i64::MAX,
            )
            .await?;
        let Asked::Stored {
            id,
            status,
            route: Some(route),
        } = asked
        else {
            continue;
        };
        let Some(answer) = answer else { continue };
        let guard = Guard {
            expect_status: status,
            expect_lawyer: Some(route.lawyer_id),
        };
        db.write_question_message(
            id,
            guard,
            &NewMessage {
                author_id: route.lawyer_id,
                author_role: Role::Lawyer,
                kind: MessageKind::Answer,
                body: answer,
                new_status: QuestionStatus::Answered,
                notify_enterprise: true,
                answered_live: false,
            },
            now,
        )
        .await?;
        if close {
            let guard = Guard {
                expect_status: QuestionStatus::Answered,
                expect_lawyer: Some(route.lawyer_id),
            };
            db.close_question(id, guard, now).await?;
        }
    }
    tracing::info!(
        lawyers = lawyers.len(),
        "demo 企问律答 threads loaded (示例)"
    );
    Ok(())
}
