//! The demo (`pufa serve --demo`): organizer `admin` and a demo month of 16 sessions in the
//! next calendar month, placed by the auto-scheduler. Everything it creates says it is demo
//! data (示例); the lecturers are not real people.

use crate::accounts::Role;
use crate::config::Config;
use crate::db::Db;
use crate::schedule::planner::{self, SessionToPlace};
use crate::schedule::{
    validate_program, validate_session, LecturerInput, ProgramInput, SessionInput, SlotSpec,
};
use anyhow::Context;
use chrono::{Datelike, NaiveDate, Utc};

/// Load the demo into the database. Idempotent: an existing `admin` and existing programs are
/// left as they are.
pub async fn load(
    db: &Db,
    config: &Config,
    questionnaires: &crate::app::checkup::Questionnaires,
    storage: &dyn crate::media::storage::Storage,
) -> anyhow::Result<()> {
    if !db.username_exists("admin").await? {
        let (password, generated) = match &config.admin_password {
            Some(p) => {
                // the operator chose it: not refused (the demo must start), but said
                if let Err(why) = crate::accounts::password::check(p, &["admin"]) {
                    tracing::warn!(
                        reason = %why,
                        "PUFA_ADMIN_PASSWORD is easy to guess; change it with \
                         `pufa admin reset-password admin`"
                    );
                }
                (p.clone(), false)
            }
            None => (crate::accounts::random_token()[..16].to_string(), true),
        };
        let hash = crate::app::login::hash_password(password.clone()).await?;
        db.insert_staff(Role::Organizer, "admin", "工商联管理员（示例）", &hash)
            .await?;
        if generated {
            // Printed once, on the terminal only; it is not stored anywhere in clear.
            println!("demo organizer account: admin / {password}  (set PUFA_ADMIN_PASSWORD to choose it)");
        } else {
            println!("demo organizer account: admin (password from PUFA_ADMIN_PASSWORD)");
        }
    } else if config.admin_password.is_some() {
        // the review found the variable silently ignored on a second start
        tracing::warn!(
            "PUFA_ADMIN_PASSWORD not applied: the account admin already exists; \
             to change its password run `pufa admin reset-password admin` (new password on stdin)"
        );
    }
    if db.programs().await?.is_empty() {
        let today = config
            .clock
            .now()
            .with_timezone(&crate::schedule::DEFAULT_TZ)
            .date_naive();
        let program_id = load_month(db, today).await?;
        if config.transcode_workers > 0 {
            if let Err(e) = queue_demo_recording(db, storage, program_id).await {
                tracing::warn!(error = ?e, "demo recording not created");
            }
        }
    }
    if config.demo_questions {
        crate::app::qa::questions::load_demo(db, config.clock.now()).await?;
    }
    // issue 16: public entries, and the advisor group of the demo's lawyers and enterprises
    // (after they are created above)
    crate::app::qa::publication::load_demo(db, config.clock.now()).await?;
    crate::app::qa::advisors::load_demo(db, &config.qa, config.clock.now()).await?;
    // …and the follow-up of the sample enterprise's high-risk check-up, for its advisor
    if config.demo_questions {
        crate::app::qa::followups::load_demo(db, questionnaires, &config.qa, config.clock.now())
            .await?;
    }
    Ok(())
}

/// A short generated test recording (colour bars and a tone, clearly not a real lecture) for
/// the first session, so the demo shows the archive and the player. It is stored and
/// transcoded by the server's worker like any upload.
#[cfg(feature = "demo")]
async fn queue_demo_recording(
    db: &Db,
    storage: &dyn crate::media::storage::Storage,
    program_id: i64,
) -> anyhow::Result<()> {
    use crate::archive::Visibility;
    use crate::media::storage::{self, SourceError};
    use crate::media::testsrc::{generate_clip, ClipSpec};

    let Some(first) = db.program_sessions(program_id).await?.into_iter().next() else {
        return Ok(());
    };
    let scratch = tempfile::tempdir().context("creating a scratch folder for the demo clip")?;
    let clip = scratch.path().join("demo.mp4");
    let target = clip.clone();
    tokio::task::spawn_blocking(move || {
        crate::media::transcode::init();
        generate_clip(
            &ClipSpec::new(1280, 720, 25, 30.0).with_audio(2, 48_000),
            &target,
        )
    })
    .await??;
    let bytes = tokio::fs::read(&clip).await?;
    let chunks = futures_util::stream::iter([Ok::<_, SourceError>(bytes)]);
    let upload = storage::put_stream(storage, "mp4", chunks).await?;
    let (lecture_id, _) = db
        .queue_recording(first.id, &upload.key)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("the demo session already has a recording in transcoding")
        })?;
    db.set_lecture_visibility(lecture_id, Visibility::Public)
        .await?;
    println!("demo recording (test pattern, 示例) queued for transcoding: lecture {lecture_id}");
    Ok(())
}

/// Without the `demo` feature the test-clip generator is not compiled in: the demo month is
/// loaded without a recording.
#[cfg(not(feature = "demo"))]
async fn queue_demo_recording(
    _db: &Db,
    _storage: &dyn crate::media::storage::Storage,
    _program_id: i64,
) -> anyhow::Result<()> {
    tracing::warn!(
        "the demo recording needs a build with the `demo` feature (cargo build --features demo); \
         the demo month is loaded without it"
    );
    Ok(())
}

/// The first and last day of the calendar month after `today`.
pub fn next_month(today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = if today.month() == 12 {
        (today.year() + 1, 1)
    } else {
        (today.year(), today.month() + 1)
    };
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let last = NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()?;
    Some((first, last))
}

/// Fixed-date public holidays (元旦, 劳动节, 国庆节) that fall in the month.
fn holidays(first: NaiveDate, last: NaiveDate) -> Vec<String> {
    let fixed = [
        (1, 1),
        (5, 1),
        (5, 2),
        (5, 3),
        (5, 4),
        (5, 5),
        (10, 1),
        (10, 2),
        (10, 3),
        (10, 4),
        (10, 5),
        (10, 6),
        (10, 7),
    ];
    fixed
        .iter()
        .filter_map(|(m, d)| NaiveDate::from_ymd_opt(first.year(), *m, *d))
        .filter(|d| *d >= first && *d <= last)
        .map(|d| d.to_string())
        .collect()
}

struct DemoLecturer {
    name: &'static str,
    firm: &'static str,
    weekdays: Option<&'static [u8]>,
}

const LECTURERS: [DemoLecturer; 6] = [
    DemoLecturer {
        name: "示例律师甲",
        firm: "示例第一律师事务所",
        weekdays: Some(&[2, 4]),
    },
    DemoLecturer {
        name: "示例律师乙",
        firm: "示例第一律师事务所",
        weekdays: Some(&[3, 5]),
    },
    DemoLecturer {
        name: "示例律师丙",
        firm: "示例第二律师事务所",
        weekdays: None,
    },
    DemoLecturer {
        name: "示例律师丁",
        firm: "示例第二律师事务所",
        weekdays: Some(&[2, 3, 4]),
    },
    DemoLecturer {
        name: "示例律师戊",
        firm: "示例第三律师事务所",
        weekdays: Some(&[4, 5]),
    },
    DemoLecturer {
        name: "示例律师己",
        firm: "示例第三律师事务所",
        weekdays: None,
    },
];

/// (title, category, target industries, lecturer index, summary)
const TOPICS: [(&str, &str, &[&str], usize, &str); 16] = [
    (
        "复工复产中的合同履行与情势变更",
        "合同管理",
        &[],
        0,
        "复工复产阶段常见的合同履行障碍：延期交付、不可抗力与情势变更的适用条件、通知与证据义务。",
    ),
    (
        "合同纠纷预防：签约、履约与证据留存",
        "合同管理",
        &[],
        1,
        "从合同起草到履约管理：格式条款提示说明、印章与授权管理、往来函件与证据留存。",
    ),
    (
        "企问律答·合同纠纷专场",
        "合同管理",
        &[],
        2,
        "企业按行业提问、律师现场解答合同纠纷中的常见问题（企问律答）。",
    ),
    (
        "劳动合同签订与试用期管理",
        "劳动用工",
        &[],
        3,
        "入职一个月内签订书面劳动合同、试用期期限与次数、未签合同的双倍工资风险。",
    ),
    (
        "企问律答·企业用工专场",
        "劳动用工",
        &[],
        4,
        "规章制度的民主程序与公示、加班与工时、解除劳动合同的合法性审查。",
    ),
    (
        "社会保险、工伤与安全生产责任",
        "安全生产与环保",
        &[],
        5,
        "社会保险登记与足额缴纳、工伤认定流程、全员安全生产责任制。",
    ),
    (
        "建设工程施工合同与工程价款优先受偿",
        "建设工程",
        &["E"],
        0,
        "转包与违法分包的认定、工程款结算、建设工程价款优先受偿权的行使期限。",
    ),
    (
        "农民工工资支付保障实务",
        "建设工程",
        &["E"],
        2,
        "农民工工资专用账户、按月足额支付、总包单位先行清偿责任。",
    ),
    (
        "破解执行难：胜诉权益如何兑现",
        "诉讼与执行",
        &[],
        1,
        "财产保全、执行申请期限、财产线索与失信惩戒措施的运用。",
    ),
    (
        "应对恶意缠诉与虚假诉讼",
        "诉讼与执行",
        &[],
        3,
        "识别恶意诉讼与虚假诉讼、证据固定、反诉与损失赔偿。",
    ),
    (
        "商会人民调解：商事纠纷的非诉解决",
        "诉讼与执行",
        &[],
        5,
        "商会人民调解委员会的受理范围、调解协议的司法确认与效力。",
    ),
    (
        "信用修复：行政处罚与经营异常名录的修复路径",
        "信用修复",
        &[],
        4,
        "失信行为纠正后的信用修复申请条件、材料与办理流程。",
    ),
    (
        "新《公司法》下的出资期限与公司治理",
        "公司治理",
        &[],
        2,
        "认缴出资五年内缴足、存量公司的调整、股东会决议与对外担保的程序。",
    ),
    (
        "个人信息保护合规要点",
        "数据与个人信息保护",
        &[],
        5,
        "处理个人信息的合法性基础、内部管理制度、安全事件应急预案。",
    ),
    (
        "商业贿赂红线与廉洁合规体系",
        "廉洁合规",
        &[],
        0,
        "折扣与佣金如实入账、商业贿赂的行政与刑事责任、内部举报渠道。",
    ),
    (
        "企业融资与担保风险防范",
        "融资担保",
        &[],
        3,
        "保证方式的约定、对外担保的决议程序、民间借贷风险。",
    ),
];

/// Create the demo month starting the month after `today` and place it with the
/// auto-scheduler.
pub async fn load_month(db: &Db, today: NaiveDate) -> anyhow::Result<i64> {
    // records are stamped with the start of `today`, the day the month was planned on
    let now = today
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    let (first, last) = next_month(today).context("computing the next month")?;
    let slots = vec![
        SlotSpec {
            weekday: 2,
            start: "14:30".into(),
            minutes: 90,
        },
        SlotSpec {
            weekday: 3,
            start: "19:00".into(),
            minutes: 90,
        },
        SlotSpec {
            weekday: 4,
            start: "14:30".into(),
            minutes: 90,
        },
        SlotSpec {
            weekday: 5,
            start: "10:00".into(),
            minutes: 90,
        },
    ];
    let program = validate_program(&ProgramInput {
        title: format!("{}年{}月线上直播普法月（示例）", first.year(), first.month()),
        summary: "示例数据：市工商联会同司法局、律师协会，组织法律顾问团律师开展16场线上直播普法讲座，聚焦企业复工复产中的法律风险。".into(),
        starts_on: first.to_string(),
        ends_on: last.to_string(),
        timezone: crate::schedule::DEFAULT_TZ.name().into(),
        slots,
        blackout_dates: holidays(first, last),
    })
    .map_err(|e| anyhow::anyhow!("demo program invalid: {e:?}"))?;
    let program_id = db.insert_program(&program, now).await?;
    let tz = program.calendar.timezone;
    let mut to_place = Vec::new();
    for (i, (title, category, industries, lecturer, summary)) in TOPICS.iter().enumerate() {
        let l = &LECTURERS[*lecturer];
        let input = SessionInput {
            title: (*title).into(),
            summary: format!("{summary}（示例课程）"),
            category: (*category).into(),
            target_industries: industries.iter().map(|s| s.to_string()).collect(),
            lecturer: LecturerInput {
                name: l.name.into(),
                firm: l.firm.into(),
                bio: "示例数据：工商联法律顾问团成员（虚构人物，仅用于演示）。".into(),
                available_weekdays: l.weekdays.map(|w| w.to_vec()),
                unavailable_dates: Vec::new(),
                account: None,
            },
            minutes: 90,
            // one small session shows the waitlist at work
            capacity: if i == 2 { 30 } else { 100 },
            max_seats_per_enterprise: Some(5),
            ..Default::default()
        };
        let valid = validate_session(&input, tz)
            .map_err(|e| anyhow::anyhow!("demo session invalid: {e:?}"))?;
        let id = db.insert_session(program_id, &valid, now).await?;
        let lecturer_id = db.lecturer_id(l.name, l.firm).await?.unwrap_or(-1);
        to_place.push(SessionToPlace {
            id,
            category: valid.category.clone(),
            minutes: valid.minutes,
            lecturer_id,
            availability: valid.lecturer.availability.clone(),
        });
    }
    let plan = planner::plan(&program.calendar, &[], &to_place);
    let placements: Vec<_> = plan
        .placed
        .iter()
        .map(|p| (p.session_id, p.starts_at.with_timezone(&Utc)))
        .collect();
    db.apply_placements(&placements, now).await?;
    for u in &plan.unplaced {
        tracing::warn!(session = u.session_id, reason = %u.reason.message_zh(), "demo session not placed");
    }
    Ok(program_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_month_wraps_the_year() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(
            next_month(d(2026, 11, 26)),
            Some((d(2026, 12, 1), d(2026, 12, 31)))
        );
        assert_eq!(
            next_month(d(2026, 12, 5)),
            Some((d(2027, 1, 1), d(2027, 1, 31)))
        );
        assert_eq!(
            next_month(d(2027, 1, 31)),
            Some((d(2027, 2, 1), d(2027, 2, 28)))
        );
        assert_eq!(holidays(d(2027, 1, 1), d(2027, 1, 31)), vec!["2027-01-01"]);
    }
}
