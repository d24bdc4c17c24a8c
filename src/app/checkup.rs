//! The legal health check: filling in (drafts, page by page), submitting, reading a report
//! next to the previous one, and the organizer's overview of every enterprise's latest report.
//!
//! A report's results are always recomputed from its stored answers with the questionnaire
//! version it answered ([`score`] is the one place that does it), so a scoring fix reaches
//! old reports and no page can disagree with another.
//!
//! The answers are written admissions, so: an enterprise answers only after confirming the
//! notice ([`give_consent`], see [`crate::checkup::notice`]); every opening of a report by
//! another account is logged in [`report`] itself, so no page or API can forget it, and the
//! enterprise reads the log ([`access_log`]); the enterprise deletes a check-up for good
//! ([`delete`]).

use crate::accounts::{Role, User};
use crate::checkup::history::{self, Comparison};
use crate::checkup::may_read_report;
use crate::checkup::notice;
use crate::checkup::questionnaire::{
    check_answers, unanswered, AnswerProblem, Answers, Questionnaire,
};
use crate::checkup::scoring::{self, Offer, Recommendation, Report};
use crate::checkup::CheckupStatus;
use crate::config::QaConfig;
use crate::db::accounts::Enterprise;
use crate::db::checkups::CheckupRow;
use crate::db::Db;
use crate::qa::followup;
use crate::validation::FieldErrors;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many lectures a report recommends.
const RECOMMENDATIONS: usize = 8;

/// Why a check-up request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckupError {
    /// The account may not do this: only enterprises take the check-up, only organizers see
    /// the overview.
    #[error("forbidden")]
    Forbidden,
    /// No such report or draft, or one the viewer may not see (see [`may_read_report`]).
    #[error("not found")]
    NotFound,
    /// Answers to unknown or non-applicable items, unknown options, or missing answers.
    #[error("invalid answers")]
    Invalid(FieldErrors),
    /// The enterprise has not confirmed the notice for the current questionnaire yet.
    #[error("consent required")]
    ConsentRequired,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CheckupError {
    /// The Chinese message of [`CheckupError::ConsentRequired`].
    pub fn consent_required_zh() -> &'static str {
        "开始体检前，请先阅读并确认《体检须知》（谁能看到报告、保存多久、自查不构成法律意见）。"
    }
}

impl From<sqlx::Error> for CheckupError {
    fn from(e: sqlx::Error) -> Self {
        CheckupError::Internal(e.into())
    }
}

fn invalid(problems: &[AnswerProblem]) -> CheckupError {
    let mut errors = FieldErrors::default();
    for p in problems {
        errors.add(&p.field(), p.message_zh());
    }
    CheckupError::Invalid(errors)
}

/// The questionnaire new check-ups answer, and every older version a stored check-up
/// answered, each parsed once. A version's text never changes once used (the server refuses
/// to start otherwise), so a parsed version stays valid for the life of the process.
#[derive(Debug, Clone)]
pub struct Questionnaires {
    current: Arc<Questionnaire>,
    older: Arc<Mutex<HashMap<String, Arc<Questionnaire>>>>,
}

impl Questionnaires {
    pub fn new(current: Questionnaire) -> Questionnaires {
        Questionnaires {
            current: Arc::new(current),
            older: Arc::default(),
        }
    }

    /// The questionnaire new check-ups answer.
    pub fn current(&self) -> &Arc<Questionnaire> {
        &self.current
    }

    /// The questionnaire `version`, parsed from its stored text the first time it is needed.
    pub async fn version(
        &self,
        db: &Db,
        version: &str,
    ) -> Result<Arc<Questionnaire>, CheckupError> {
        if version == self.current.version {
            return Ok(self.current.clone());
        }
        if let Some(q) = self.cached(version) {
            return Ok(q);
        }
        let source = db
            .questionnaire_source(version)
            .await?
            .with_context(|| format!("questionnaire {version} missing"))?;
        let parsed = Arc::new(
            Questionnaire::parse(&source)
                .with_context(|| format!("parsing stored questionnaire {version}"))?,
        );
        let mut older = self.older.lock().unwrap_or_else(|p| p.into_inner());
        Ok(older.entry(version.to_string()).or_insert(parsed).clone())
    }

    fn cached(&self, version: &str) -> Option<Arc<Questionnaire>> {
        let older = self.older.lock().unwrap_or_else(|p| p.into_inner());
        older.get(version).cloned()
    }
}

/// Score a stored check-up with the questionnaire version it answered: the only place a
/// report's results, the overall level among them, come from.
pub async fn score(
    db: &Db,
    questionnaires: &Questionnaires,
    row: &CheckupRow,
) -> Result<Report, CheckupError> {
    let q = questionnaires.version(db, &row.version).await?;
    Ok(scoring::score(&q, &row.industry, &row.answers))
}

/// The enterprise account of `user`; other accounts do not take the check-up.
pub async fn enterprise_of(db: &Db, user: &User) -> Result<Enterprise, CheckupError> {
    if user.role != Role::Enterprise {
        return Err(CheckupError::Forbidden);
    }
    db.enterprise(user.id).await?.ok_or(CheckupError::Forbidden)
}

// ---------- the check-up home page ----------

/// A submitted report in the enterprise's list.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    pub id: i64,
    pub submitted_at: DateTime<Utc>,
    /// Recomputed from the answers (see [`score`]).
    pub overall_level: scoring::Level,
}

/// What the check-up home page shows an enterprise.
#[derive(Debug, Clone)]
pub struct EnterpriseOverview {
    /// Dimensions and items that apply to the enterprise's industry.
    pub dimension_count: usize,
    pub item_count: usize,
    /// Answers in the open draft, if there is one.
    pub draft_answered: Option<usize>,
    /// The open draft's id (to delete it).
    pub draft_id: Option<i64>,
    /// When the enterprise confirmed the notice for the current questionnaire.
    pub consented_at: Option<DateTime<Utc>>,
    /// Submitted reports, newest first.
    pub reports: Vec<ReportSummary>,
}

/// The enterprise's standing: applicable items, open draft and past reports. `None` for
/// accounts that are not enterprises (they see the general page).
pub async fn overview(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
) -> Result<Option<EnterpriseOverview>, CheckupError> {
    if !user.is_enterprise() {
        return Ok(None);
    }
    let enterprise = enterprise_of(db, user).await?;
    let q = questionnaires.current();
    let draft = db.draft(enterprise.id).await?;
    let mut reports = Vec::new();
    for row in db.reports_of(enterprise.id).await? {
        reports.push(ReportSummary {
            id: row.id,
            submitted_at: row.submitted_or_created(),
            overall_level: score(db, questionnaires, &row).await?.overall_level,
        });
    }
    Ok(Some(EnterpriseOverview {
        dimension_count: q.dimensions_for(&enterprise.industry).len(),
        item_count: q.applicable(&enterprise.industry).count(),
        draft_answered: draft.as_ref().map(|d| d.answers.len()),
        draft_id: draft.map(|d| d.id),
        consented_at: db
            .consent(enterprise.id, &q.version, notice::REVISION)
            .await?,
        reports,
    }))
}

// ---------- the notice and the consent to it ----------

/// The enterprise's confirmation of the notice for the current questionnaire.
#[derive(Debug, Clone)]
pub struct Consent {
    /// The questionnaire version the consent is for.
    pub version: String,
    /// The notice revision ([`notice::REVISION`]).
    pub notice: &'static str,
    /// `None` until the enterprise confirms.
    pub consented_at: Option<DateTime<Utc>>,
}

/// Where the enterprise stands with the notice of the current questionnaire.
pub async fn consent(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
) -> Result<Consent, CheckupError> {
    let enterprise = enterprise_of(db, user).await?;
    let version = questionnaires.current().version.clone();
    let consented_at = db
        .consent(enterprise.id, &version, notice::REVISION)
        .await?;
    Ok(Consent {
        version,
        notice: notice::REVISION,
        consented_at,
    })
}

/// Record that the enterprise read and confirmed the notice at `now` (a repeated confirmation
/// keeps the first time).
pub async fn give_consent(
    db: &Db,
    questionnaires: &Questionnaires,
    now: DateTime<Utc>,
    user: &User,
) -> Result<Consent, CheckupError> {
    let enterprise = enterprise_of(db, user).await?;
    let version = questionnaires.current().version.clone();
    let at = db
        .record_consent(enterprise.id, &version, notice::REVISION, now)
        .await?;
    Ok(Consent {
        version,
        notice: notice::REVISION,
        consented_at: Some(at),
    })
}

/// Refuse to store answers to questionnaire `version` before the enterprise confirmed the
/// notice for it.
async fn require_consent(
    db: &Db,
    enterprise: &Enterprise,
    version: &str,
) -> Result<(), CheckupError> {
    match db.consent(enterprise.id, version, notice::REVISION).await? {
        Some(_) => Ok(()),
        None => Err(CheckupError::ConsentRequired),
    }
}

// ---------- drafts and submission ----------

/// An enterprise's saved draft.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: i64,
    pub version: String,
    pub answers: Answers,
    /// Applicable items of the current questionnaire still without an answer.
    pub unanswered: Vec<String>,
}

/// The enterprise's saved draft.
pub async fn draft(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
) -> Result<Draft, CheckupError> {
    let enterprise = enterprise_of(db, user).await?;
    let row = db
        .draft(enterprise.id)
        .await?
        .ok_or(CheckupError::NotFound)?;
    let answers = row.answers.0;
    Ok(Draft {
        id: row.id,
        unanswered: unanswered(questionnaires.current(), &enterprise.industry, &answers),
        version: row.version,
        answers,
    })
}

/// Save `answers` as the enterprise's draft; items may be left open, but every answer must
/// name an applicable item and one of its options.
pub async fn save_draft(
    db: &Db,
    questionnaires: &Questionnaires,
    now: DateTime<Utc>,
    user: &User,
    answers: Answers,
) -> Result<Draft, CheckupError> {
    let enterprise = enterprise_of(db, user).await?;
    let q = questionnaires.current();
    require_consent(db, &enterprise, &q.version).await?;
    let problems = check_answers(q, &enterprise.industry, &answers, false);
    if !problems.is_empty() {
        return Err(invalid(&problems));
    }
    let id = db
        .save_draft(
            enterprise.id,
            &q.version,
            &enterprise.industry,
            &answers,
            now,
        )
        .await?;
    Ok(Draft {
        id,
        version: q.version.clone(),
        unanswered: unanswered(q, &enterprise.industry, &answers),
        answers,
    })
}

/// Submit a complete check-up and return its report; the draft, if any, is consumed.
pub async fn submit(
    db: &Db,
    questionnaires: &Questionnaires,
    qa: &QaConfig,
    now: DateTime<Utc>,
    user: &User,
    answers: &Answers,
) -> Result<CheckupReport, CheckupError> {
    let enterprise = enterprise_of(db, user).await?;
    let q = questionnaires.current();
    require_consent(db, &enterprise, &q.version).await?;
    let problems = check_answers(q, &enterprise.industry, answers, true);
    if !problems.is_empty() {
        return Err(invalid(&problems));
    }
    let id = store_submission(db, q, qa, now, &enterprise, answers).await?;
    report(db, questionnaires, now, user, id).await
}

async fn store_submission(
    db: &Db,
    q: &Questionnaire,
    qa: &QaConfig,
    now: DateTime<Utc>,
    enterprise: &Enterprise,
    answers: &Answers,
) -> Result<i64, CheckupError> {
    let report = scoring::score(q, &enterprise.industry, answers);
    // a high-risk report opens a 回访 follow-up in the same transaction (issue 16)
    let levels = followup::opens_followup(&report).then(|| followup::snapshot(&report));
    let due_on = followup::due_on(now, qa.followup_due_days);
    Ok(db
        .submit_checkup(
            enterprise.id,
            &q.version,
            &enterprise.industry,
            answers,
            report.overall_level,
            levels.as_ref().map(|l| (l, due_on)),
            now,
        )
        .await?)
}

// ---------- filling in page by page ----------

/// The questionnaire as an enterprise is filling it in: its draft answers for the current
/// version (a draft of an older version starts over).
#[derive(Debug, Clone)]
pub struct Sheet {
    pub enterprise: Enterprise,
    pub questionnaire: Arc<Questionnaire>,
    pub answers: Answers,
}

impl Sheet {
    /// Applicable items still without an answer, in questionnaire order.
    pub fn unanswered(&self) -> Vec<String> {
        unanswered(
            &self.questionnaire,
            &self.enterprise.industry,
            &self.answers,
        )
    }
}

/// The enterprise's sheet with its draft answers; [`CheckupError::ConsentRequired`] until
/// the enterprise confirmed the notice.
pub async fn sheet(
    db: &Db,
    questionnaires: &Questionnaires,
    user: &User,
) -> Result<Sheet, CheckupError> {
    let enterprise = enterprise_of(db, user).await?;
    let questionnaire = questionnaires.current().clone();
    require_consent(db, &enterprise, &questionnaire.version).await?;
    let answers = db
        .draft(enterprise.id)
        .await?
        .filter(|d| d.version == questionnaire.version)
        .map(|d| d.answers.0)
        .unwrap_or_default();
    Ok(Sheet {
        enterprise,
        questionnaire,
        answers,
    })
}

/// Add the answers posted from one page to the draft and save it.
pub async fn save_page(
    db: &Db,
    questionnaires: &Questionnaires,
    now: DateTime<Utc>,
    user: &User,
    posted: Answers,
) -> Result<Sheet, CheckupError> {
    let mut sheet = sheet(db, questionnaires, user).await?;
    sheet.answers.extend(posted);
    let industry = &sheet.enterprise.industry;
    let problems = check_answers(&sheet.questionnaire, industry, &sheet.answers, false);
    if !problems.is_empty() {
        return Err(invalid(&problems));
    }
    db.save_draft(
        sheet.enterprise.id,
        &sheet.questionnaire.version,
        industry,
        &sheet.answers,
        now,
    )
    .await?;
    Ok(sheet)
}

/// What became of submitting a sheet.
#[derive(Debug, Clone)]
pub enum SheetSubmission {
    /// Stored as report `id`.
    Submitted(i64),
    /// Not stored: these applicable items are still open.
    Incomplete(Vec<String>),
}

/// Submit a saved sheet when every applicable item is answered.
pub async fn submit_sheet(
    db: &Db,
    qa: &QaConfig,
    now: DateTime<Utc>,
    sheet: &Sheet,
) -> Result<SheetSubmission, CheckupError> {
    let open = sheet.unanswered();
    if !open.is_empty() {
        return Ok(SheetSubmission::Incomplete(open));
    }
    let id = store_submission(
        db,
        &sheet.questionnaire,
        qa,
        now,
        &sheet.enterprise,
        &sheet.answers,
    )
    .await?;
    Ok(SheetSubmission::Submitted(id))
}

// ---------- reports ----------

/// The previous report of the same enterprise.
#[derive(Debug, Clone)]
pub struct PreviousReport {
    pub id: i64,
    pub submitted_at: DateTime<Utc>,
}

/// A submitted report, scored, with lecture recommendations and the comparison with the
/// enterprise's previous report.
#[derive(Debug, Clone)]
pub struct CheckupReport {
    pub id: i64,
    pub version: String,
    /// The industry section the enterprise answered for.
    pub industry: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub enterprise: Enterprise,
    pub report: Report,
    pub recommendations: Vec<Recommendation>,
    pub previous: Option<PreviousReport>,
    pub comparison: Comparison,
}

/// Report `id` as `viewer` may see it: only its enterprise and organizers may open it, anyone
/// else gets [`CheckupError::NotFound`] (see [`may_read_report`]). An opening by anyone but
/// the enterprise is logged before the report is returned: no log, no report.
pub async fn report(
    db: &Db,
    questionnaires: &Questionnaires,
    now: DateTime<Utc>,
    viewer: &User,
    id: i64,
) -> Result<CheckupReport, CheckupError> {
    let row = db.checkup(id).await?.ok_or(CheckupError::NotFound)?;
    if !may_read_report(viewer, row.enterprise_id, row.status) {
        return Err(CheckupError::NotFound);
    }
    if viewer.id != row.enterprise_id {
        db.record_access(row.id, viewer.id, viewer.role, now)
            .await?;
        // the enterprise sees this opening on its report (checkup_access); the audit log
        // gives organizers the same fact beside their other actions
        super::audit::record(
            db,
            now,
            Some(viewer),
            super::audit::Action::CheckupReportOpened,
            super::audit::Target::Checkup(row.id),
            serde_json::json!({"enterprise_id": row.enterprise_id}),
        )
        .await;
        tracing::info!(
            report = row.id,
            viewer = viewer.id,
            role = viewer.role.as_str(),
            "check-up report opened by another account"
        );
    }
    let enterprise = db
        .enterprise(row.enterprise_id)
        .await?
        .ok_or(CheckupError::NotFound)?;
    let report = score(db, questionnaires, &row).await?;
    let recommendations = scoring::recommend(
        &report,
        &row.industry,
        &offers(db, now).await?,
        RECOMMENDATIONS,
    );
    let (previous, previous_report) = match db.previous_report(row.enterprise_id, row.id).await? {
        Some(p) => {
            let scored = score(db, questionnaires, &p).await?;
            let previous = PreviousReport {
                id: p.id,
                submitted_at: p.submitted_or_created(),
            };
            (Some(previous), Some(scored))
        }
        None => (None, None),
    };
    let comparison = history::compare(&report, previous_report.as_ref());
    Ok(CheckupReport {
        id: row.id,
        version: row.version,
        industry: row.industry,
        submitted_at: row.submitted_at,
        created_at: row.created_at,
        enterprise,
        report,
        recommendations,
        previous,
        comparison,
    })
}

/// Upcoming sessions as recommendation candidates.
async fn offers(db: &Db, now: DateTime<Utc>) -> Result<Vec<Offer>, CheckupError> {
    Ok(db
        .upcoming_sessions(now)
        .await?
        .into_iter()
        .map(|s| Offer {
            id: s.id,
            title: s.title.clone(),
            category: s.category.clone(),
            kind: "session".into(),
            industries: s.industries(),
            starts_at: s.starts_at.map(|t| t.with_timezone(&s.tz()).to_rfc3339()),
        })
        .collect())
}

// ---------- access log and deletion ----------

/// One opening of a report by an account other than its enterprise.
#[derive(Debug, Clone)]
pub struct AccessEntry {
    pub viewer_id: i64,
    pub viewer_role: Role,
    /// The account's display name; `None` when the account was removed.
    pub viewer_name: Option<String>,
    pub accessed_at: DateTime<Utc>,
}

/// Who opened report `id` other than its enterprise, newest first. Only the enterprise reads
/// its log: organizers, who may open the report, get [`CheckupError::Forbidden`] (the log is
/// the enterprise's check on them); anyone else is told the report does not exist.
pub async fn access_log(db: &Db, viewer: &User, id: i64) -> Result<Vec<AccessEntry>, CheckupError> {
    let row = db.checkup(id).await?.ok_or(CheckupError::NotFound)?;
    if row.status != CheckupStatus::Submitted {
        return Err(CheckupError::NotFound);
    }
    if viewer.id != row.enterprise_id {
        return Err(if may_read_report(viewer, row.enterprise_id, row.status) {
            CheckupError::Forbidden
        } else {
            CheckupError::NotFound
        });
    }
    Ok(db
        .access_log(id)
        .await?
        .into_iter()
        .map(|a| AccessEntry {
            viewer_id: a.viewer_id,
            viewer_role: a.viewer_role,
            viewer_name: a.viewer_name,
            accessed_at: a.accessed_at,
        })
        .collect())
}

/// Check-up `id` (a report or the draft) if `user` is its enterprise, which alone may delete
/// it. Organizers, who may open a report, get [`CheckupError::Forbidden`]; anyone else, and
/// everyone once it is deleted, [`CheckupError::NotFound`].
pub async fn own_checkup(db: &Db, user: &User, id: i64) -> Result<CheckupRow, CheckupError> {
    let row = db.checkup(id).await?.ok_or(CheckupError::NotFound)?;
    if user.role == Role::Enterprise && user.id == row.enterprise_id {
        return Ok(row);
    }
    Err(if may_read_report(user, row.enterprise_id, row.status) {
        CheckupError::Forbidden
    } else {
        CheckupError::NotFound
    })
}

/// Delete check-up `id` (a report with its access log, or the draft) for good; only its
/// enterprise may. Returns what was deleted. Dashboards and the enterprise's other reports
/// are computed from the stored check-ups, so none counts or compares with it afterwards.
pub async fn delete(db: &Db, user: &User, id: i64) -> Result<CheckupStatus, CheckupError> {
    let row = own_checkup(db, user, id).await?;
    if !db.delete_checkup(row.id, row.enterprise_id).await? {
        // deleted concurrently (another tab): gone either way
        return Err(CheckupError::NotFound);
    }
    tracing::info!(
        checkup = row.id,
        enterprise = row.enterprise_id,
        "check-up deleted"
    );
    // secure_delete zeroes the rows in the pages; resetting the write-ahead log removes the
    // older page images still in it. It may wait for readers, so not in the request.
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(e) = db.truncate_wal().await {
            tracing::warn!(error = %e, "resetting the write-ahead log after a deletion");
        }
    });
    Ok(row.status)
}

// ---------- organizer overview ----------

/// An enterprise's latest report, scored.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    pub row: CheckupRow,
    pub enterprise: Enterprise,
    pub report: Report,
}

/// Every enterprise's latest report, newest first (organizers only).
pub async fn dashboard_rows(
    db: &Db,
    questionnaires: &Questionnaires,
    viewer: &User,
) -> Result<Vec<DashboardRow>, CheckupError> {
    if !viewer.is_organizer() {
        return Err(CheckupError::Forbidden);
    }
    let mut enterprises: HashMap<i64, Enterprise> = db
        .enterprises()
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mut out = Vec::new();
    for row in db.latest_reports().await? {
        // the foreign key keeps a report's enterprise; each enterprise has one latest report
        let enterprise = enterprises
            .remove(&row.enterprise_id)
            .with_context(|| format!("enterprise of check-up {} missing", row.id))?;
        let report = score(db, questionnaires, &row).await?;
        out.push(DashboardRow {
            row,
            enterprise,
            report,
        });
    }
    Ok(out)
}

/// When every submitted check-up (retakes included) was submitted and its overall level,
/// recomputed like every page's (organizers: the dashboard's trend).
pub async fn submission_levels(
    db: &Db,
    questionnaires: &Questionnaires,
    viewer: &User,
) -> Result<Vec<(DateTime<Utc>, scoring::Level)>, CheckupError> {
    if !viewer.is_organizer() {
        return Err(CheckupError::Forbidden);
    }
    let mut out = Vec::new();
    for row in db.submitted_reports().await? {
        let report = score(db, questionnaires, &row).await?;
        out.push((row.submitted_or_created(), report.overall_level));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::EnterpriseSignup;
    use crate::checkup::questionnaire::BUILTIN;
    use crate::checkup::scoring::Level;

    struct Setup {
        _dir: tempfile::TempDir,
        db: Db,
        questionnaires: Questionnaires,
        enterprise: User,
        other: User,
        organizer: User,
    }

    async fn enterprise(db: &Db, uscc: &str, mobile: &str) -> User {
        let input = EnterpriseSignup {
            name: "示例科技有限公司".into(),
            uscc: uscc.into(),
            industry: "E".into(),
            district: None,
            contact_name: "示例联系人".into(),
            mobile: mobile.into(),
            password: "enterprise-pass-1".into(),
            privacy_consent: true,
            privacy_notice_version: None,
            size: None,
        };
        let e = crate::app::accounts::register_enterprise(db, Utc::now(), &input)
            .await
            .expect("registered");
        db.user(e.id).await.expect("user").expect("exists")
    }

    async fn setup() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let q = Questionnaire::parse(BUILTIN).expect("questionnaire");
        db.register_questionnaire(&q.version, BUILTIN)
            .await
            .expect("register");
        let organizer_id = db
            .insert_staff(Role::Organizer, "admin", "管理员", "x")
            .await
            .expect("staff");
        let questionnaires = Questionnaires::new(q);
        let first = enterprise(&db, "91350100M000100Y43", "13800138000").await;
        let other = enterprise(&db, "91430111MA4L41YT1U", "13900139000").await;
        for e in [&first, &other] {
            give_consent(&db, &questionnaires, Utc::now(), e)
                .await
                .expect("consent");
        }
        Setup {
            enterprise: first,
            other,
            organizer: db.user(organizer_id).await.expect("user").expect("exists"),
            questionnaires,
            db,
            _dir: dir,
        }
    }

    /// The riskiest option of every item that applies to section E.
    fn riskiest(q: &Questionnaire) -> Answers {
        q.applicable("E")
            .map(|i| {
                let worst = i
                    .options
                    .iter()
                    .max_by(|a, b| a.risk.total_cmp(&b.risk))
                    .expect("options");
                (i.id.clone(), worst.id.clone())
            })
            .collect()
    }

    #[tokio::test]
    async fn levels_are_recomputed_from_the_answers_never_read_back() {
        let s = setup().await;
        let answers = riskiest(s.questionnaires.current());
        let now = Utc::now();
        let submitted = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.enterprise,
            &answers,
        )
        .await
        .expect("submitted");
        assert_eq!(submitted.report.overall_level, Level::High);
        // a stale stored level (as after a scoring fix) does not reach any page
        sqlx::query("UPDATE checkups SET overall_level = 'low'")
            .execute(&s.db.pool)
            .await
            .expect("update");
        let overview = overview(&s.db, &s.questionnaires, &s.enterprise)
            .await
            .expect("overview")
            .expect("an enterprise");
        assert_eq!(overview.reports.len(), 1);
        assert_eq!(overview.reports[0].overall_level, Level::High);
        let rows = dashboard_rows(&s.db, &s.questionnaires, &s.organizer)
            .await
            .expect("dashboard");
        assert_eq!(rows[0].report.overall_level, Level::High);
    }

    #[tokio::test]
    async fn corrupt_answers_are_an_error_not_an_empty_check_up() {
        let s = setup().await;
        let answers = riskiest(s.questionnaires.current());
        let now = Utc::now();
        let id = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.enterprise,
            &answers,
        )
        .await
        .expect("submitted")
        .id;
        sqlx::query("UPDATE checkups SET answers = 'not json'")
            .execute(&s.db.pool)
            .await
            .expect("update");
        let e = report(&s.db, &s.questionnaires, now, &s.enterprise, id)
            .await
            .expect_err("corrupt row");
        assert!(matches!(e, CheckupError::Internal(_)), "{e:?}");
        let e = overview(&s.db, &s.questionnaires, &s.enterprise)
            .await
            .expect_err("corrupt row");
        assert!(matches!(e, CheckupError::Internal(_)), "{e:?}");
    }

    #[tokio::test]
    async fn reports_open_for_their_enterprise_and_organizers_only() {
        let s = setup().await;
        let answers = riskiest(s.questionnaires.current());
        let now = Utc::now();
        let id = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.enterprise,
            &answers,
        )
        .await
        .expect("submitted")
        .id;
        let e = report(&s.db, &s.questionnaires, now, &s.other, id)
            .await
            .expect_err("not theirs");
        assert!(matches!(e, CheckupError::NotFound), "{e:?}");
        let seen = report(&s.db, &s.questionnaires, now, &s.organizer, id)
            .await
            .expect("organizer reads it");
        assert_eq!(seen.enterprise.id, s.enterprise.id);
        assert!(seen.previous.is_none());
        // organizers do not take the check-up; enterprises do not see the overview
        let e = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.organizer,
            &answers,
        )
        .await
        .expect_err("organizer");
        assert!(matches!(e, CheckupError::Forbidden), "{e:?}");
        let e = dashboard_rows(&s.db, &s.questionnaires, &s.enterprise)
            .await
            .expect_err("enterprise");
        assert!(matches!(e, CheckupError::Forbidden), "{e:?}");
        assert!(overview(&s.db, &s.questionnaires, &s.organizer)
            .await
            .expect("general page")
            .is_none());
    }

    #[tokio::test]
    async fn an_older_questionnaire_version_is_parsed_once() {
        let s = setup().await;
        let older = BUILTIN.replacen("version = \"", "version = \"old-", 1);
        let parsed = Questionnaire::parse(&older).expect("older version");
        s.db.register_questionnaire(&parsed.version, &older)
            .await
            .expect("register");
        let first = s
            .questionnaires
            .version(&s.db, &parsed.version)
            .await
            .expect("loaded");
        let second = s
            .questionnaires
            .version(&s.db, &parsed.version)
            .await
            .expect("cached");
        assert!(Arc::ptr_eq(&first, &second));
        let e = s
            .questionnaires
            .version(&s.db, "no-such-version")
            .await
            .expect_err("missing");
        assert!(matches!(e, CheckupError::Internal(_)), "{e:?}");
    }

    #[tokio::test]
    async fn answers_are_stored_only_after_the_notice_is_confirmed() {
        let s = setup().await;
        let newcomer = enterprise(&s.db, "91110000600037341L", "13700137000").await;
        let answers = riskiest(s.questionnaires.current());
        let now = Utc::now();
        let before = consent(&s.db, &s.questionnaires, &newcomer)
            .await
            .expect("consent state");
        assert!(before.consented_at.is_none());
        for e in [
            submit(
                &s.db,
                &s.questionnaires,
                &QaConfig::default(),
                now,
                &newcomer,
                &answers,
            )
            .await
            .map(|_| ())
            .expect_err("no consent"),
            save_draft(&s.db, &s.questionnaires, now, &newcomer, Answers::new())
                .await
                .map(|_| ())
                .expect_err("no consent"),
            sheet(&s.db, &s.questionnaires, &newcomer)
                .await
                .map(|_| ())
                .expect_err("no consent"),
        ] {
            assert!(matches!(e, CheckupError::ConsentRequired), "{e:?}");
        }
        let given = give_consent(&s.db, &s.questionnaires, now, &newcomer)
            .await
            .expect("consent");
        assert_eq!(given.version, s.questionnaires.current().version);
        assert_eq!(given.notice, notice::REVISION);
        // confirming again keeps the first time
        let later = now + chrono::Duration::hours(1);
        let again = give_consent(&s.db, &s.questionnaires, later, &newcomer)
            .await
            .expect("consent");
        assert_eq!(again.consented_at, given.consented_at);
        submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &newcomer,
            &answers,
        )
        .await
        .expect("submitted after consent");
        let e = give_consent(&s.db, &s.questionnaires, now, &s.organizer)
            .await
            .expect_err("organizers take no check-up");
        assert!(matches!(e, CheckupError::Forbidden), "{e:?}");
    }

    #[tokio::test]
    async fn openings_by_others_are_logged_for_the_enterprise_only() {
        let s = setup().await;
        let answers = riskiest(s.questionnaires.current());
        let now = Utc::now();
        let id = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.enterprise,
            &answers,
        )
        .await
        .expect("submitted")
        .id;
        report(&s.db, &s.questionnaires, now, &s.enterprise, id)
            .await
            .expect("own report");
        assert!(access_log(&s.db, &s.enterprise, id)
            .await
            .expect("log")
            .is_empty());
        report(&s.db, &s.questionnaires, now, &s.organizer, id)
            .await
            .expect("organizer opens it");
        report(&s.db, &s.questionnaires, now, &s.other, id)
            .await
            .expect_err("not theirs, not logged");
        let log = access_log(&s.db, &s.enterprise, id).await.expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].viewer_id, s.organizer.id);
        assert_eq!(log[0].viewer_role, Role::Organizer);
        assert_eq!(log[0].viewer_name.as_deref(), Some("管理员"));
        let e = access_log(&s.db, &s.organizer, id)
            .await
            .expect_err("organizer");
        assert!(matches!(e, CheckupError::Forbidden), "{e:?}");
        let e = access_log(&s.db, &s.other, id).await.expect_err("other");
        assert!(matches!(e, CheckupError::NotFound), "{e:?}");
        // the organizer's opening is in the audit log too, the enterprise's own is not
        let audit =
            s.db.audit_entries(&crate::db::audit::AuditFilter {
                action: Some("checkup_report.opened".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("audit");
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor_user_id, Some(s.organizer.id));
        assert_eq!(audit[0].target_id, Some(id));
    }

    #[tokio::test]
    async fn a_deleted_check_up_is_gone_for_everyone_and_its_id_is_never_reused() {
        let s = setup().await;
        let answers = riskiest(s.questionnaires.current());
        let now = Utc::now();
        let id = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.enterprise,
            &answers,
        )
        .await
        .expect("submitted")
        .id;
        report(&s.db, &s.questionnaires, now, &s.organizer, id)
            .await
            .expect("organizer opens it");
        for (who, expected) in [(&s.organizer, "forbidden"), (&s.other, "not found")] {
            let e = delete(&s.db, who, id).await.expect_err("not theirs");
            let got = match e {
                CheckupError::Forbidden => "forbidden",
                CheckupError::NotFound => "not found",
                _ => "other",
            };
            assert_eq!(got, expected);
        }
        let deleted = delete(&s.db, &s.enterprise, id).await.expect("deleted");
        assert_eq!(deleted, CheckupStatus::Submitted);
        for who in [&s.enterprise, &s.organizer] {
            let e = report(&s.db, &s.questionnaires, now, who, id)
                .await
                .expect_err("gone");
            assert!(matches!(e, CheckupError::NotFound), "{e:?}");
        }
        let e = delete(&s.db, &s.enterprise, id).await.expect_err("gone");
        assert!(matches!(e, CheckupError::NotFound), "{e:?}");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM checkup_access")
            .fetch_one(&s.db.pool)
            .await
            .expect("count");
        assert_eq!(left, 0, "the access log goes with its report");
        assert!(dashboard_rows(&s.db, &s.questionnaires, &s.organizer)
            .await
            .expect("dashboard")
            .is_empty());
        // the next check-up, of anyone, gets a new id
        let next = submit(
            &s.db,
            &s.questionnaires,
            &QaConfig::default(),
            now,
            &s.other,
            &answers,
        )
        .await
        .expect("submitted")
        .id;
        assert!(next > id);
        // a draft is deleted the same way
        let draft = save_draft(&s.db, &s.questionnaires, now, &s.enterprise, Answers::new())
            .await
            .expect("draft");
        assert_eq!(
            delete(&s.db, &s.enterprise, draft.id)
                .await
                .expect("deleted"),
            CheckupStatus::Draft
        );
        let e = super::draft(&s.db, &s.questionnaires, &s.enterprise)
            .await
            .expect_err("no draft");
        assert!(matches!(e, CheckupError::NotFound), "{e:?}");
    }
}
