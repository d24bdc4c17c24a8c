//! Public Q&A entries: an answered thread becomes a de-identified entry (the organizer
//! publishes it, or the assigned lawyer proposes it for approval), the public `/qa` list with
//! Chinese full-text search, one entry with its lectures, and the entries a check-up report
//! links per weak dimension. The thread itself stays private.

use super::{QaError, Result};
use crate::accounts::{industry, Role, User};
use crate::app::audit::{self, Action, Target};
use crate::checkup::questionnaire::Questionnaire;
use crate::db::qa_entries::{
    EntryFilter, EntryRow, EntryStatus, NewEntry, SessionChoice, ThreadSource,
};
use crate::db::Db;
use crate::qa::redact::{self, Identity};
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Utc};

/// Entries per page of `/qa`.
pub const PAGE_SIZE: i64 = 20;
/// Longest title and body of an entry, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
pub const MAX_BODY_CHARS: usize = 20_000;
/// Entries a report links per weak dimension.
pub const REPORT_LINKS: i64 = 3;
/// Lectures an entry page lists.
pub const ENTRY_LECTURES: i64 = 6;

/// What the publish form starts from: the thread de-identified, and the lectures to choose.
#[derive(Debug, Clone)]
pub struct Draft {
    pub question_id: i64,
    pub title: String,
    pub body: String,
    pub industry: String,
    pub topic: String,
    /// Every scheduled session; `selected` those of the topic or of the thread.
    pub sessions: Vec<SessionChoice>,
    pub selected: Vec<i64>,
    /// An organizer publishes; the assigned lawyer proposes.
    pub publishes: bool,
}

/// What the organizer (or the lawyer) submits.
#[derive(Debug, Clone, Default)]
pub struct PublicationInput {
    pub title: String,
    pub body: String,
    /// GB/T 4754 section; the question's when left out.
    pub industry: Option<String>,
    /// Dimension id; the question's when left out.
    pub topic: Option<String>,
    /// Lectures to link; those of the topic when left out.
    pub session_ids: Option<Vec<i64>>,
}

/// The name of topic `id`, or the id itself when the questionnaire no longer has it.
pub fn topic_name(q: &Questionnaire, id: &str) -> String {
    q.dimension(id)
        .map(|d| d.name.clone())
        .unwrap_or_else(|| id.to_string())
}

fn identity(t: &ThreadSource) -> Identity {
    Identity {
        enterprise_name: t.enterprise_name.clone(),
        uscc: t.uscc.clone(),
        contact_name: t.contact_name.clone(),
        mobile: t.mobile.clone(),
    }
}

/// The thread as one Markdown text: the questions as 问, the answers as 答 (requests for
/// details and organizer notes are between the parties and left out).
pub fn thread_text(messages: &[(String, String)]) -> String {
    let mut parts = Vec::new();
    for (kind, body) in messages {
        let label = match kind.as_str() {
            "question" => "问",
            "answer" => "答",
            _ => continue,
        };
        parts.push(format!("**{label}：** {}", body.trim()));
    }
    parts.join("\n\n")
}

/// Load the thread and check that `user` may make an entry of it: an organizer, or the lawyer
/// assigned to it; the thread has an answer.
async fn source_for(db: &Db, user: &User, question_id: i64) -> Result<ThreadSource> {
    let source = db
        .thread_source(question_id)
        .await?
        .ok_or(QaError::NotFound)?;
    let allowed = match user.role {
        Role::Organizer => true,
        Role::Lawyer => source.assigned_lawyer_id == Some(user.id),
        Role::Enterprise => false,
    };
    if !allowed {
        return Err(QaError::Forbidden);
    }
    if !source.messages.iter().any(|(k, _)| k == "answer") {
        return Err(QaError::conflict(
            "not_answered",
            "该问题尚未答复，答复后才能整理为公开问答。",
        ));
    }
    Ok(source)
}

/// The publish form of thread `question_id`, pre-filled with a de-identified draft.
pub async fn draft(db: &Db, q: &Questionnaire, user: &User, question_id: i64) -> Result<Draft> {
    let source = source_for(db, user, question_id).await?;
    let id = identity(&source);
    let sessions = db.linkable_sessions().await?;
    let category = topic_name(q, &source.topic);
    let selected = sessions
        .iter()
        .filter(|s| s.category == category || Some(s.id) == source.session_id)
        .map(|s| s.id)
        .collect();
    Ok(Draft {
        question_id,
        title: redact::redact(&source.title, &id),
        body: redact::redact(&thread_text(&source.messages), &id),
        industry: source.industry.clone(),
        topic: source.topic.clone(),
        sessions,
        selected,
        publishes: user.role == Role::Organizer,
    })
}

/// Check the edited entry: lengths, characters, section, topic, and that nothing identifying
/// is left (named in the message).
fn check(
    q: &Questionnaire,
    identity: &Identity,
    title: &str,
    body: &str,
    industry: &str,
    topic: &str,
) -> std::result::Result<(), FieldErrors> {
    let mut errors = FieldErrors::default();
    let title_len = title.chars().count();
    if title_len == 0 {
        errors.add("title", "请填写标题");
    } else if title_len > MAX_TITLE_CHARS {
        errors.add("title", format!("标题不能超过{MAX_TITLE_CHARS}个字"));
    } else {
        errors.check_text("title", "标题", title, Lines::Single);
    }
    let body_len = body.chars().count();
    if body_len == 0 {
        errors.add("body", "请填写正文");
    } else if body_len > MAX_BODY_CHARS {
        errors.add("body", format!("正文不能超过{MAX_BODY_CHARS}个字"));
    } else {
        errors.check_text("body", "正文", body, Lines::Multi);
    }
    if industry::parse_section(industry).is_none() {
        errors.add("industry", "请选择国民经济行业门类（A–T）");
    }
    if q.dimension(topic).is_none() {
        errors.add("topic", "请选择体检维度中的一个主题");
    }
    for (field, label, text) in [("title", "标题", title), ("body", "正文", body)] {
        let found = redact::findings(text, identity);
        if !found.is_empty() {
            let kinds: Vec<&str> = found.iter().map(|f| f.label_zh()).collect();
            errors.add(
                field,
                format!(
                    "{label}仍含可识别企业的信息：{}，请删除或改为“某企业”“***”后再发布",
                    kinds.join("、")
                ),
            );
        }
    }
    errors.into_result()
}

/// Make an entry of thread `question_id`: published at once by an organizer, `proposed` when
/// the assigned lawyer submits it. Refused (422) while the text still identifies the
/// enterprise.
pub async fn publish(
    db: &Db,
    q: &Questionnaire,
    now: DateTime<Utc>,
    user: &User,
    question_id: i64,
    input: &PublicationInput,
) -> Result<EntryRow> {
    let source = source_for(db, user, question_id).await?;
    let title = input.title.trim();
    let body = input.body.trim();
    let industry_in = input
        .industry
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&source.industry);
    let topic = input
        .topic
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&source.topic);
    check(q, &identity(&source), title, body, industry_in, topic).map_err(QaError::Invalid)?;
    let industry = industry::parse_section(industry_in).map(|c| c.to_string());
    let session_ids = match &input.session_ids {
        Some(ids) => ids.clone(),
        None => {
            let category = topic_name(q, topic);
            db.linkable_sessions()
                .await?
                .into_iter()
                .filter(|s| s.category == category)
                .map(|s| s.id)
                .collect()
        }
    };
    let organizer = user.role == Role::Organizer;
    let entry = NewEntry {
        question_id: Some(question_id),
        title,
        body,
        industry: industry.as_deref(),
        topic,
        status: if organizer {
            EntryStatus::Published
        } else {
            EntryStatus::Proposed
        },
        proposed_by: Some(user.id),
        approved_by: organizer.then_some(user.id),
        demo: false,
        session_ids: &session_ids,
    };
    let id = db.insert_qa_entry(&entry, now).await?;
    if organizer {
        audit::record(
            db,
            now,
            Some(user),
            Action::QaEntryPublished,
            Target::QaEntry(id),
            serde_json::json!({"question": question_id, "title": title}),
        )
        .await;
    }
    db.qa_entry(id).await?.ok_or(QaError::NotFound)
}

fn require_organizer(user: &User) -> Result<()> {
    if user.role == Role::Organizer {
        Ok(())
    } else {
        Err(QaError::Forbidden)
    }
}

/// An organizer approves an entry a lawyer proposed; it is published.
pub async fn approve(db: &Db, now: DateTime<Utc>, user: &User, entry_id: i64) -> Result<EntryRow> {
    require_organizer(user)?;
    let entry = db.qa_entry(entry_id).await?.ok_or(QaError::NotFound)?;
    let moved = db
        .set_qa_entry_status(
            entry_id,
            &[EntryStatus::Proposed],
            EntryStatus::Published,
            Some(user.id),
            now,
        )
        .await?;
    if !moved {
        return Err(QaError::conflict(
            "entry_not_proposed",
            format!("该问答当前为“{}”，无需审核。", entry.status.label_zh()),
        ));
    }
    audit::record(
        db,
        now,
        Some(user),
        Action::QaEntryPublished,
        Target::QaEntry(entry_id),
        serde_json::json!({"title": entry.title, "approved": true}),
    )
    .await;
    db.qa_entry(entry_id).await?.ok_or(QaError::NotFound)
}

/// An organizer withdraws a published or proposed entry: it leaves `/qa` and the search.
pub async fn withdraw(db: &Db, now: DateTime<Utc>, user: &User, entry_id: i64) -> Result<EntryRow> {
    require_organizer(user)?;
    let entry = db.qa_entry(entry_id).await?.ok_or(QaError::NotFound)?;
    let moved = db
        .set_qa_entry_status(
            entry_id,
            &[EntryStatus::Proposed, EntryStatus::Published],
            EntryStatus::Withdrawn,
            None,
            now,
        )
        .await?;
    if !moved {
        return Err(QaError::conflict("entry_withdrawn", "该问答已撤回。"));
    }
    audit::record(
        db,
        now,
        Some(user),
        Action::QaEntryWithdrawn,
        Target::QaEntry(entry_id),
        serde_json::json!({"title": entry.title}),
    )
    .await;
    db.qa_entry(entry_id).await?.ok_or(QaError::NotFound)
}

/// Entries waiting for approval and those published (organizers' `/admin/qa`).
pub async fn review_lists(db: &Db, user: &User) -> Result<(Vec<EntryRow>, Vec<EntryRow>)> {
    require_organizer(user)?;
    Ok((
        db.qa_entries_in(EntryStatus::Proposed).await?,
        db.qa_entries_in(EntryStatus::Published).await?,
    ))
}

/// Filters of `/qa`, as given (unknown values are ignored, not errors: a public page).
#[derive(Debug, Clone, Default)]
pub struct PublicQuery {
    pub industry: Option<String>,
    pub topic: Option<String>,
    pub q: Option<String>,
    /// 1-based.
    pub page: i64,
}

/// One page of published entries.
#[derive(Debug, Clone)]
pub struct EntryPage {
    pub entries: Vec<EntryRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The filters that were applied (normalised).
    pub industry: Option<String>,
    pub topic: Option<String>,
    pub q: Option<String>,
}

/// A page of `/qa`.
pub async fn list(db: &Db, q: &Questionnaire, query: &PublicQuery) -> Result<EntryPage> {
    let industry = query
        .industry
        .as_deref()
        .and_then(industry::parse_section)
        .map(|c| c.to_string());
    let topic = query
        .topic
        .as_deref()
        .filter(|t| q.dimension(t).is_some())
        .map(str::to_string);
    let text = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(50).collect::<String>());
    let page = query.page.clamp(1, 10_000);
    let (entries, total) = db
        .published_qa_entries(&EntryFilter {
            industry: industry.as_deref(),
            topic: topic.as_deref(),
            query: text.as_deref(),
            limit: PAGE_SIZE,
            offset: (page - 1) * PAGE_SIZE,
        })
        .await?;
    Ok(EntryPage {
        entries,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        industry,
        topic,
        q: text,
    })
}

/// A published entry with the lectures it links to. Organizers also open proposed and
/// withdrawn ones (to review them); for everyone else those do not exist.
pub async fn entry(
    db: &Db,
    q: &Questionnaire,
    viewer: Option<&User>,
    id: i64,
) -> Result<(EntryRow, Vec<SessionChoice>)> {
    let entry = db.qa_entry(id).await?.ok_or(QaError::NotFound)?;
    let organizer = viewer.is_some_and(|u| u.role == Role::Organizer);
    if entry.status != EntryStatus::Published && !organizer {
        return Err(QaError::NotFound);
    }
    let lectures = db
        .qa_entry_sessions(id, &topic_name(q, &entry.topic), ENTRY_LECTURES)
        .await?;
    Ok((entry, lectures))
}

/// Per weak dimension (`topics`, in the report's order), up to [`REPORT_LINKS`] published
/// entries of that topic, those of `industry` first. Dimensions without entries are left out.
pub async fn for_report(
    db: &Db,
    topics: &[String],
    industry: &str,
) -> Result<Vec<(String, Vec<EntryRow>)>> {
    let mut out = Vec::new();
    for t in topics {
        let entries = db.qa_entries_for_topic(t, industry, REPORT_LINKS).await?;
        if !entries.is_empty() {
            out.push((t.clone(), entries));
        }
    }
    Ok(out)
}

/// The first characters of an entry's text without Markdown marks, for lists.
pub fn excerpt(body: &str, chars: usize) -> String {
    let plain: String = body
        .chars()
        .filter(|c| !matches!(c, '*' | '#' | '`' | '>' | '_'))
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = plain.chars().take(chars).collect();
    if plain.chars().count() > chars {
        out.push('…');
    }
    out
}

/// The demo's published entries (title, body, industry, topic): different industries and
/// topics, each marked 示例 in its text.
const DEMO_ENTRIES: [(&str, &str, &str, &str); 4] = [
    (
        "试用期员工可以不缴社会保险吗？（示例）",
        "**问：** 我们是一家小型建筑施工企业，新招的工人在三个月试用期内，能否等转正后再缴社会保险？（示例）\n\n\
         **答：** 不能。试用期包含在劳动合同期限内，用人单位应当自用工之日起三十日内为职工办理社会保险登记并缴费。\
         未依法缴纳的，劳动者可以解除劳动合同并要求经济补偿，企业还可能被责令补缴并加收滞纳金。（示例答复，仅供演示）",
        "E",
        "labour",
    ),
    (
        "对方只盖了公章没签字，合同有效吗？（示例）",
        "**问：** 我司与供货商签订的采购合同，对方只加盖了公章，没有法定代表人签字，合同是否成立？（示例）\n\n\
         **答：** 一般而言，合同自双方签名、盖章或者按指印时成立，只盖公章也可以成立。但应核实印章的真实性和\
         盖章人的授权，重要合同建议同时要求签字，并保留对方授权委托书和营业执照复印件。（示例答复，仅供演示）",
        "F",
        "contracts",
    ),
    (
        "员工私自把客户名单带走，怎么维权？（示例）",
        "**问：** 一名销售员离职后带走了公司客户名单并到竞争对手处工作，我们能做什么？（示例）\n\n\
         **答：** 客户名单如果不为公众所知、具有商业价值并且企业采取了保密措施，可以作为商业秘密保护。\
         请先固定证据（保密协议、权限记录、邮件外发记录），再评估是否依据《反不正当竞争法》起诉或向市场监管部门举报；\
         签有竞业限制协议的，还可以主张违约责任。（示例答复，仅供演示）",
        "I",
        "ip",
    ),
    (
        "餐馆收集顾客手机号做会员，要注意什么？（示例）",
        "**问：** 我们餐馆准备让顾客扫码登记手机号办会员，需要顾客同意吗？（示例）\n\n\
         **答：** 需要。应当以显著方式告知收集目的、方式和保存期限并取得顾客同意，只收集办理会员所必需的信息，\
         不得默认勾选同意；向会员发送营销短信，应当提供便捷的退订方式。（示例答复，仅供演示）",
        "H",
        "data",
    ),
];

/// Load the demo's published entries once (`pufa serve --demo`).
pub async fn load_demo(db: &Db, now: DateTime<Utc>) -> Result<()> {
    if db.has_demo_qa_entries().await? {
        return Ok(());
    }
    for (title, body, industry, topic) in DEMO_ENTRIES {
        db.insert_qa_entry(
            &NewEntry {
                question_id: None,
                title,
                body,
                industry: Some(industry),
                topic,
                status: EntryStatus::Published,
                proposed_by: None,
                approved_by: None,
                demo: true,
                session_ids: &[],
            },
            now,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_reads_as_questions_and_answers() {
        let messages = vec![
            ("question".to_string(), "试用期能否不交社保？".to_string()),
            ("request".to_string(), "请说明岗位".to_string()),
            (
                "answer".to_string(),
                "不能。\n\n应自用工之日起三十日内登记。".to_string(),
            ),
        ];
        assert_eq!(
            thread_text(&messages),
            "**问：** 试用期能否不交社保？\n\n**答：** 不能。\n\n应自用工之日起三十日内登记。"
        );
    }

    #[test]
    fn demo_entries_are_marked_and_clean() {
        let q = crate::checkup::questionnaire::Questionnaire::load(
            crate::checkup::questionnaire::BUILTIN,
        )
        .expect("questionnaire");
        for (title, body, industry, topic) in DEMO_ENTRIES {
            assert!(title.contains("示例") && body.contains("示例"), "{title}");
            assert!(
                check(&q, &Identity::default(), title, body, industry, topic).is_ok(),
                "{title}"
            );
        }
    }

    #[test]
    fn excerpts_drop_marks_and_are_cut() {
        assert_eq!(excerpt("**问：** 一二\n\n三四五", 5), "问： 一二…");
        assert_eq!(excerpt("短", 5), "短");
    }
}
