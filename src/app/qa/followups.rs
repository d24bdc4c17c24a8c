//! 回访 follow-ups (issue 16): the lists and the page of one follow-up as each role may see
//! them, recording contacts and outcomes, the organizer's assignment of an advisor, and the
//! loop dashboard.
//!
//! Who sees what: an enterprise its own follow-ups (state, advisor, outcomes and dates — not
//! the advisor's notes, which are the advisor's working notes for the chamber); a lawyer
//! those it is the advisor of; organizers all. Anything else is "not found", so an id says
//! nothing about another enterprise. Staff opening a follow-up (which shows the enterprise's
//! contact person and mobile) is written to the audit log.
//!
//! A follow-up opens with its report (`crate::db::followups::open_in_tx`, called from the
//! check-up's submit transaction). When a newer report of the same enterprise opens another,
//! the older one closes as superseded: no contact row is written for it (a contact is
//! something an advisor did), and its page points to the follow-up that replaced it.

use super::{QaError, Result};
use crate::accounts::{Role, User};
use crate::app::audit::{self, Action, Target};
use crate::app::checkup::{self, Questionnaires};
use crate::db::followups::{ContactRefused, ContactRow, Filter, FollowupRow};
use crate::db::Db;
use crate::qa::followup::{self, LevelChange, LevelsSnapshot, MAX_NOTE_CHARS};
use crate::qa::funnel::{self, Funnel};
use crate::qa::{FollowupOutcome, FollowupStatus};
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

/// Follow-ups on one page of a list.
pub const PAGE_SIZE: i64 = 20;

/// What a list asks for; [`list`] narrows it to what the caller may see.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Option<FollowupStatus>,
    /// Only overdue ones.
    pub overdue: bool,
    /// Organizers: only this advisor's.
    pub advisor: Option<i64>,
    /// Organizers: only the queue without an advisor.
    pub unassigned: bool,
    /// 1-based.
    pub page: i64,
}

/// A page of follow-ups.
#[derive(Debug, Clone)]
pub struct Listing {
    pub rows: Vec<FollowupRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Follow-ups waiting in the organizers' queue (organizers only, else 0).
    pub queue: i64,
    /// Overdue follow-ups among those the caller may see.
    pub overdue: i64,
}

/// Whether `user` may see follow-up `row`.
pub fn may_see(user: &User, row: &FollowupRow) -> bool {
    match user.role {
        Role::Organizer => true,
        Role::Lawyer => row.advisor_id == Some(user.id),
        Role::Enterprise => row.enterprise_id == user.id,
    }
}

/// Whether `user` may record contacts on `row`: its advisor, or an organizer.
pub fn may_record(user: &User, row: &FollowupRow) -> bool {
    match user.role {
        Role::Organizer => true,
        Role::Lawyer => row.advisor_id == Some(user.id),
        Role::Enterprise => false,
    }
}

fn scope(user: &User, q: &ListQuery) -> Filter {
    let mut f = Filter {
        status: q.status,
        ..Filter::default()
    };
    match user.role {
        Role::Organizer => {
            f.advisor = q.advisor;
            f.unassigned = q.unassigned && q.advisor.is_none();
        }
        Role::Lawyer => f.advisor = Some(user.id),
        Role::Enterprise => f.enterprise = Some(user.id),
    }
    f
}

/// The follow-ups `user` may see, filtered and paged.
pub async fn list(db: &Db, user: &User, now: DateTime<Utc>, q: &ListQuery) -> Result<Listing> {
    let today = followup::local_day(now);
    let mut filter = scope(user, q);
    if q.overdue {
        filter.overdue_on = Some(today);
    }
    let page = q.page.max(1);
    let (rows, total) = db
        .followups(&filter, PAGE_SIZE, (page - 1).saturating_mul(PAGE_SIZE))
        .await?;
    let queue = if user.is_organizer() {
        let f = Filter {
            unassigned: true,
            status: None,
            ..Filter::default()
        };
        db.followups(&f, 0, 0).await?.1
    } else {
        0
    };
    let mut overdue_filter = scope(
        user,
        &ListQuery {
            advisor: q.advisor,
            unassigned: q.unassigned,
            ..ListQuery::default()
        },
    );
    overdue_filter.overdue_on = Some(today);
    let overdue = db.followups(&overdue_filter, 0, 0).await?.1;
    Ok(Listing {
        rows,
        total,
        page,
        pages: (total + PAGE_SIZE - 1) / PAGE_SIZE,
        queue,
        overdue,
    })
}

/// The levels before and after a retake.
#[derive(Debug, Clone)]
pub struct Retake {
    pub checkup_id: i64,
    pub retaken_at: DateTime<Utc>,
    pub overall_before: crate::checkup::scoring::Level,
    pub overall_after: crate::checkup::scoring::Level,
    pub red_lines_after: u32,
    pub changes: Vec<LevelChange>,
}

/// One follow-up as the caller may see it.
#[derive(Debug, Clone)]
pub struct Detail {
    pub row: FollowupRow,
    /// Contacts, oldest first; notes emptied for the enterprise.
    pub contacts: Vec<ContactRow>,
    pub overdue: bool,
    pub retake: Option<Retake>,
    /// Closed because a newer report opened this follow-up.
    pub superseded_by: Option<i64>,
    pub may_record: bool,
    pub may_assign: bool,
}

impl Detail {
    pub fn levels(&self) -> &LevelsSnapshot {
        &self.row.levels
    }
}

async fn visible(db: &Db, user: &User, id: i64) -> Result<FollowupRow> {
    let row = db.followup(id).await?.ok_or(QaError::NotFound)?;
    if !may_see(user, &row) {
        return Err(QaError::NotFound);
    }
    Ok(row)
}

/// Follow-up `id` for `user`; staff openings are audited (the page shows the enterprise's
/// contact person and mobile).
pub async fn detail(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Detail> {
    let row = visible(db, user, id).await?;
    if user.role != Role::Enterprise {
        audit::record(
            db,
            now,
            Some(user),
            Action::FollowupOpened,
            Target::Followup(row.id),
            serde_json::json!({"enterprise_id": row.enterprise_id}),
        )
        .await;
    }
    let mut contacts = db.followup_contacts(row.id).await?;
    if user.role == Role::Enterprise {
        for c in &mut contacts {
            c.note.clear();
        }
    }
    let retake = match (row.retake_checkup_id, row.retaken_at) {
        (Some(cid), Some(at)) => match db.checkup(cid).await? {
            Some(c) => {
                let report = checkup::score(db, questionnaires, &c)
                    .await
                    .map_err(|e| QaError::Internal(anyhow::anyhow!("scoring the retake: {e}")))?;
                let after = followup::snapshot(&report);
                Some(Retake {
                    checkup_id: cid,
                    retaken_at: at,
                    overall_before: row.levels.overall,
                    overall_after: after.overall,
                    red_lines_after: after.red_lines,
                    changes: followup::compare(&row.levels, &after),
                })
            }
            // the enterprise deleted the retaken report: nothing to compare with
            None => None,
        },
        _ => None,
    };
    let superseded_by = if row.status() == FollowupStatus::Closed && row.retaken_at.is_none() {
        db.followup_successor(row.id, row.enterprise_id).await?
    } else {
        None
    };
    Ok(Detail {
        overdue: followup::is_overdue(row.status(), row.due_on, now),
        may_record: may_record(user, &row) && row.status() != FollowupStatus::Closed,
        may_assign: user.is_organizer() && row.status() != FollowupStatus::Closed,
        contacts,
        retake,
        superseded_by,
        row,
    })
}

/// Record a contact with `outcome` and `note` (at most [`MAX_NOTE_CHARS`]) on follow-up `id`;
/// the advisor or an organizer may. Returns the contact's id.
pub async fn record_contact(
    db: &Db,
    user: &User,
    id: i64,
    outcome: Option<FollowupOutcome>,
    note: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let row = visible(db, user, id).await?;
    if !may_record(user, &row) {
        return Err(QaError::Forbidden);
    }
    let mut errors = FieldErrors::default();
    let note = note.trim();
    if outcome.is_none() {
        errors.add("outcome", "请选择回访结果：已联系、整改中、已整改或未整改");
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        errors.add("note", format!("回访记录不能超过 {MAX_NOTE_CHARS} 字"));
    } else {
        errors.check_text("note", "回访记录", note, Lines::Multi);
    }
    let Some(outcome) = outcome.filter(|_| errors.is_empty()) else {
        return Err(QaError::Invalid(errors));
    };
    match db
        .record_followup_contact(row.id, user.id, outcome, note, now)
        .await?
    {
        Ok(contact) => {
            tracing::info!(
                followup = row.id,
                author = user.id,
                outcome = outcome.as_str(),
                "follow-up contact recorded"
            );
            Ok(contact)
        }
        Err(ContactRefused::NotFound) => Err(QaError::NotFound),
        Err(ContactRefused::Closed) => Err(QaError::conflict(
            "followup_closed",
            "该回访已关闭，不能再记录。",
        )),
    }
}

/// Give follow-up `id` to lawyer `lawyer_id` as its advisor (organizers only).
pub async fn assign(
    db: &Db,
    user: &User,
    id: i64,
    lawyer_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    if !user.is_organizer() {
        // a lawyer or enterprise that may see it learns it may not; others that it is not there
        visible(db, user, id).await?;
        return Err(QaError::Forbidden);
    }
    visible(db, user, id).await?;
    if !db.is_active_lawyer(lawyer_id).await? {
        return Err(QaError::Invalid(FieldErrors::single(
            "advisor_id",
            "请选择一位在职的律师",
        )));
    }
    if !db.assign_followup(id, lawyer_id, now).await? {
        return Err(QaError::conflict(
            "followup_closed",
            "该回访已关闭，不能再分派。",
        ));
    }
    tracing::info!(followup = id, advisor = lawyer_id, "follow-up assigned");
    Ok(())
}

/// Active lawyers `(id, name)`, for the assignment form (organizers only).
pub async fn lawyers(db: &Db, user: &User) -> Result<Vec<(i64, String)>> {
    if !user.is_organizer() {
        return Err(QaError::Forbidden);
    }
    Ok(db.active_lawyers().await?)
}

// ---------- the loop dashboard ----------

/// A calendar month in the chamber's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// The month of `now` in the chamber's zone.
    pub fn of(now: DateTime<Utc>) -> Month {
        let d = followup::local_day(now);
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(Month { year, month })
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The last day of the month.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    /// Midnight of the first day in the chamber's zone, as UTC.
    pub fn start(self) -> DateTime<Utc> {
        let midnight = self.first_day().and_hms_opt(0, 0, 0).unwrap_or_default();
        followup::ZONE
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    pub fn label_zh(self) -> String {
        format!("{}年{}月", self.year, self.month)
    }
}

/// The loop of `month` (organizers only).
pub async fn loop_of(db: &Db, user: &User, month: Month, now: DateTime<Utc>) -> Result<Funnel> {
    if !user.is_organizer() {
        return Err(QaError::Forbidden);
    }
    let (from, to) = (month.start(), month.next().start());
    let checkups = db.checkups_submitted_between(from, to).await?;
    let questions = db.question_times_between(from, to).await?;
    let followups = db.followup_times_between(from, to, now).await?;
    Ok(funnel::build(checkups, &questions, &followups))
}

/// The demo's 回访 (issue 16: "the demo contains … one follow-up"): the 企问律答 sample
/// enterprise takes a check-up answering every item with its riskiest option, which opens a
/// follow-up for its advisor through the ordinary submit path, and the advisor records one
/// contact. Nothing happens when the sample enterprise is missing (the demo without sample
/// questions) or has taken a check-up already.
pub async fn load_demo(
    db: &Db,
    questionnaires: &Questionnaires,
    qa: &crate::config::QaConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(enterprise) = db
        .enterprises()
        .await?
        .into_iter()
        .find(|e| e.name == crate::app::qa::questions::DEMO_ENTERPRISE)
    else {
        return Ok(());
    };
    let Some(user) = db.user(enterprise.id).await? else {
        return Ok(());
    };
    if !db.reports_of(enterprise.id).await?.is_empty() {
        return Ok(());
    }
    let q = questionnaires.current();
    let answers: crate::checkup::questionnaire::Answers = q
        .applicable(&enterprise.industry)
        .filter_map(|item| {
            item.options
                .iter()
                .filter(|o| o.kind != crate::checkup::questionnaire::OptionKind::Na)
                .max_by(|a, b| a.risk.total_cmp(&b.risk))
                .map(|o| (item.id.clone(), o.id.clone()))
        })
        .collect();
    checkup::give_consent(db, questionnaires, now, &user)
        .await
        .map_err(|e| anyhow::anyhow!("demo check-up consent: {e}"))?;
    let report = checkup::submit(db, questionnaires, qa, now, &user, &answers)
        .await
        .map_err(|e| anyhow::anyhow!("demo check-up: {e}"))?;
    let Some(opened) = db.followup_of_report(report.id).await? else {
        return Ok(());
    };
    let Some(row) = db.followup(opened.id).await? else {
        return Ok(());
    };
    let Some(advisor) = row.advisor_id else {
        return Ok(());
    };
    let Some(advisor) = db.user(advisor).await? else {
        return Ok(());
    };
    record_contact(
        db,
        &advisor,
        row.id,
        Some(FollowupOutcome::Contacted),
        "（示例）已电话联系企业负责人，约定下周上门讲解劳动用工和合同管理的整改要点。",
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo follow-up contact: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_start_at_midnight_in_shanghai() {
        let m = Month::parse("2026-12").expect("month");
        assert_eq!(m.start().to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(m.next().label(), "2027-01");
        assert_eq!(m.previous().label(), "2026-11");
        assert_eq!(m.last_day().to_string(), "2026-12-31");
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("26-1"), None);
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
        assert_eq!(Month::of(t), m);
    }
}
