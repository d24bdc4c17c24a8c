//! Precision planning (issue 16, organizers): next month's topics proposed from the check-up
//! heat map (each enterprise's latest report), the questions of the last 30 days and the
//! lectures of the last 90 (scoring in `crate::qa::planning`), and adopting proposals as a
//! DRAFT program whose sessions are unplaced (`starts_at` NULL) for the auto-scheduler.
//!
//! The program and sessions are made by `crate::app::schedule` (the same validation and
//! lecturer handling as the organizer's forms). A session's lecturer is the first lawyer whose
//! profile lists the topic, as a lecturer record linked to the lawyer's account
//! (`lecturers.user_id`), so the lawyer sees the session among its own; a topic without such a
//! lawyer gets the placeholder lecturer 待定（待定）, to be replaced before publication.

use super::followups::Month;
use super::{QaError, Result};
use crate::accounts::User;
use crate::app::checkup::{self, Questionnaires};
use crate::app::schedule::{self, ScheduleError};
use crate::checkup::dashboard;
use crate::db::Db;
use crate::qa::planning::{self, EnterpriseRisk, Evidence, Proposal};
use crate::schedule::{LecturerInput, ProgramInput, SessionInput, SlotSpec, DEFAULT_TZ};
use crate::validation::FieldErrors;
use chrono::{DateTime, Duration, Utc};

/// Most topics adopted into one program.
pub const MAX_TOPICS: usize = 10;
/// Seats of a drafted session (the organizer adjusts them).
pub const DRAFT_CAPACITY: i64 = 100;
/// Name and firm of the placeholder lecturer of a topic no lawyer lists.
pub const PLACEHOLDER_LECTURER: &str = "待定";

fn organizer(user: &User) -> Result<()> {
    if user.is_organizer() {
        Ok(())
    } else {
        Err(QaError::Forbidden)
    }
}

/// What the proposals are made from, as of `now`.
async fn evidence(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Evidence> {
    let rows = checkup::dashboard_rows(db, questionnaires, user)
        .await
        .map_err(|e| match e {
            crate::app::checkup::CheckupError::Forbidden => QaError::Forbidden,
            other => QaError::Internal(anyhow::anyhow!("check-up heat map: {other}")),
        })?;
    let risks = rows
        .iter()
        .flat_map(|r| {
            dashboard::dimension_risks(&r.report)
                .into_iter()
                .map(|d| EnterpriseRisk {
                    industry: r.row.industry.clone(),
                    dimension: d.dimension,
                    level: d.level,
                })
        })
        .collect();
    Ok(Evidence {
        risks,
        questions: db
            .question_counts_since(now - Duration::days(planning::QUESTION_DAYS))
            .await?,
        held: db
            .sessions_held_by_category(now - Duration::days(planning::HELD_DAYS), now)
            .await?,
        lawyers: db.lawyers_by_topic().await?,
    })
}

/// The top `top` topics for next month, best first (organizers only).
pub async fn proposals(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
    now: DateTime<Utc>,
    top: usize,
) -> Result<Vec<Proposal>> {
    organizer(user)?;
    let e = evidence(db, questionnaires, user, now).await?;
    Ok(planning::propose(questionnaires.current(), &e, top))
}

/// The month after `now`'s in the chamber's zone: what the proposals are for.
pub fn next_month(now: DateTime<Utc>) -> Month {
    Month::of(now).next()
}

/// A draft program made by [`adopt`].
#[derive(Debug, Clone)]
pub struct Draft {
    pub program_id: i64,
    pub session_ids: Vec<i64>,
}

fn schedule_error(e: ScheduleError) -> QaError {
    match e {
        ScheduleError::Invalid(errors) => QaError::Invalid(errors),
        other => QaError::Internal(anyhow::anyhow!("drafting the program: {other}")),
    }
}

/// Turn `topics` (dimension ids) into a draft program for `month` (default next month) with
/// one unplaced session per topic (organizers only). The weekly slots are those of the latest
/// program (else Tuesdays and Thursdays 14:30, 90 minutes).
pub async fn adopt(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
    now: DateTime<Utc>,
    month: Option<&str>,
    topics: &[String],
) -> Result<Draft> {
    organizer(user)?;
    let q = questionnaires.current();
    let mut errors = FieldErrors::default();
    let month = match month.map(str::trim).filter(|m| !m.is_empty()) {
        None => Some(next_month(now)),
        Some(m) => match Month::parse(m) {
            Some(m) if m.first_day() >= Month::of(now).first_day() => Some(m),
            Some(_) => {
                errors.add("month", "只能为本月或以后的月份安排课程");
                None
            }
            None => {
                errors.add("month", "月份应为 YYYY-MM，如 2027-01");
                None
            }
        },
    };
    let mut chosen: Vec<&str> = Vec::new();
    for t in topics {
        let t = t.trim();
        if !q.dimensions.iter().any(|d| d.id == t) {
            errors.add(
                "topics",
                format!("未知的主题：{}", t.chars().take(40).collect::<String>()),
            );
        } else if !chosen.contains(&t) {
            chosen.push(t);
        }
    }
    if chosen.is_empty() && errors.get("topics").is_none() {
        errors.add("topics", "请至少选择一个主题");
    }
    if chosen.len() > MAX_TOPICS {
        errors.add("topics", format!("一次最多采纳 {MAX_TOPICS} 个主题"));
    }
    let Some(month) = month.filter(|_| errors.is_empty()) else {
        return Err(QaError::Invalid(errors));
    };

    let all = proposals(db, questionnaires, user, now, usize::MAX).await?;
    let slots: Vec<SlotSpec> = match db.programs().await?.first() {
        Some((p, _)) if !p.slot_specs().is_empty() => p.slot_specs(),
        _ => vec![
            SlotSpec {
                weekday: 2,
                start: "14:30".into(),
                minutes: 90,
            },
            SlotSpec {
                weekday: 4,
                start: "14:30".into(),
                minutes: 90,
            },
        ],
    };
    // a session no longer than the shortest slot fits every slot
    let minutes = slots.iter().map(|s| s.minutes).min().unwrap_or(90).min(90);
    let names: Vec<String> = chosen
        .iter()
        .filter_map(|t| q.dimensions.iter().find(|d| d.id == *t))
        .map(|d| d.name.clone())
        .collect();
    let program = ProgramInput {
        title: format!("{}精准普法（草案）", month.label_zh()),
        summary: format!(
            "根据法治体检、企业提问和已办讲座生成的选题：{}。",
            names.join("、")
        ),
        starts_on: month.first_day().to_string(),
        ends_on: month.last_day().to_string(),
        timezone: DEFAULT_TZ.name().into(),
        slots,
        blackout_dates: Vec::new(),
    };
    let program_id = schedule::create_program(db, now, &program)
        .await
        .map_err(schedule_error)?;
    let program_row = schedule::program(db, program_id)
        .await
        .map_err(schedule_error)?;
    let mut session_ids = Vec::new();
    for topic in chosen {
        let Some(d) = q.dimensions.iter().find(|d| d.id == topic) else {
            continue;
        };
        let proposal = all.iter().find(|p| p.topic == topic);
        let lecturer = match proposal.and_then(|p| p.lawyers.first()) {
            Some(l) => match db.lawyer_lecturer(l.id).await? {
                Some(found) => LecturerInput {
                    name: found.display_name,
                    firm: if found.firm.trim().is_empty() {
                        PLACEHOLDER_LECTURER.into()
                    } else {
                        found.firm
                    },
                    account: found.username,
                    ..LecturerInput::default()
                },
                None => placeholder(),
            },
            None => placeholder(),
        };
        let input = SessionInput {
            title: format!("{}风险防范专题（精准普法）", d.name),
            summary: proposal
                .map(|p| format!("选题依据：{}。", p.evidence.join("；")))
                .unwrap_or_default(),
            category: proposal
                .map(|p| p.category.clone())
                .unwrap_or_else(|| planning::category_of(q, topic)),
            target_industries: proposal.map(|p| p.industries.clone()).unwrap_or_default(),
            lecturer,
            minutes: i64::from(minutes),
            capacity: DRAFT_CAPACITY,
            ..SessionInput::default()
        };
        let id = schedule::create_session(db, now, &program_row, &input)
            .await
            .map_err(schedule_error)?;
        session_ids.push(id);
    }
    tracing::info!(
        program = program_id,
        sessions = session_ids.len(),
        organizer = user.id,
        "planning proposals adopted as a draft program"
    );
    Ok(Draft {
        program_id,
        session_ids,
    })
}

fn placeholder() -> LecturerInput {
    LecturerInput {
        name: PLACEHOLDER_LECTURER.into(),
        firm: PLACEHOLDER_LECTURER.into(),
        ..LecturerInput::default()
    }
}
