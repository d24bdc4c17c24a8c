//! 5+1 advisor groups: the organizer forms groups of one or two lawyers and up to five small or
//! micro enterprises (the limits are settings), sees which small enterprises have no advisor
//! yet; a lawyer sees its groups' enterprises (audited: names and mobiles); an enterprise sees
//! its advisors on 我的. Q&A routing reads the groups; this module alone writes them.

use super::{QaError, Result};
use crate::accounts::{Role, User};
use crate::app::audit::{self, Action, Target};
use crate::config::QaConfig;
use crate::db::advisors::{GroupEnterprise, GroupLawyer, GroupRow, MemberFacts};
use crate::db::Db;
use crate::qa::EnterpriseSize;
use crate::validation::{FieldErrors, Lines};
use chrono::{DateTime, Utc};

/// Enterprises per page of the "without an advisor" list.
pub const PAGE_SIZE: i64 = 20;
/// Longest group name.
pub const MAX_NAME_CHARS: usize = 40;

/// A group with its members.
#[derive(Debug, Clone)]
pub struct Group {
    pub row: GroupRow,
    pub lawyers: Vec<GroupLawyer>,
    pub enterprises: Vec<GroupEnterprise>,
}

/// The membership rules, on facts loaded for the proposed members: 1..=`max_lawyers` lawyer
/// accounts, 1..=`max_enterprises` enterprises that are small or micro and in no other group
/// than `group_id`. Every refusal names the member in Chinese.
pub fn check_members(
    limits: &QaConfig,
    group_id: Option<i64>,
    lawyers: &[MemberFacts],
    enterprises: &[MemberFacts],
) -> std::result::Result<(), FieldErrors> {
    let mut errors = FieldErrors::default();
    let max_l = limits.group_max_lawyers as usize;
    let max_e = limits.group_max_enterprises as usize;
    if lawyers.is_empty() || lawyers.len() > max_l {
        errors.add(
            "lawyer_ids",
            format!(
                "每个法律顾问组需要1至{max_l}名律师（现为{}名）",
                lawyers.len()
            ),
        );
    }
    for l in lawyers {
        if l.role.as_deref() != Some(Role::Lawyer.as_str()) {
            errors.add("lawyer_ids", format!("账号 #{} 不是律师账号", l.id));
        }
    }
    if enterprises.is_empty() || enterprises.len() > max_e {
        errors.add(
            "enterprise_ids",
            format!(
                "每个法律顾问组服务1至{max_e}家小微企业（现为{}家）",
                enterprises.len()
            ),
        );
    }
    for e in enterprises {
        if e.role.as_deref() != Some(Role::Enterprise.as_str()) {
            errors.add("enterprise_ids", format!("账号 #{} 不是企业账号", e.id));
            continue;
        }
        match e.size.as_deref().and_then(EnterpriseSize::parse) {
            None => errors.add(
                "enterprise_ids",
                format!("{}尚未填写企业规模，确认为小型或微型企业后才能加入", e.name),
            ),
            Some(s) if !s.eligible_for_advisors() => errors.add(
                "enterprise_ids",
                format!(
                    "{}为{}企业，法律顾问组只服务小型和微型企业",
                    e.name,
                    s.label_zh()
                ),
            ),
            Some(_) => {}
        }
        if let Some(g) = e.group_id {
            if Some(g) != group_id {
                errors.add(
                    "enterprise_ids",
                    format!("{}已在另一个法律顾问组（#{g}）", e.name),
                );
            }
        }
    }
    errors.into_result()
}

fn require_organizer(user: &User) -> Result<()> {
    if user.role == Role::Organizer {
        Ok(())
    } else {
        Err(QaError::Forbidden)
    }
}

fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(ids.len());
    for &id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The groups (all, or those of `lawyer`) with their members.
async fn groups(db: &Db, lawyer: Option<i64>) -> Result<Vec<Group>> {
    let rows = db.advisor_groups(lawyer).await?;
    let lawyers = db.advisor_group_lawyers().await?;
    let enterprises = db.advisor_group_enterprises().await?;
    Ok(rows
        .into_iter()
        .map(|row| Group {
            lawyers: lawyers
                .iter()
                .filter(|l| l.group_id == row.id)
                .cloned()
                .collect(),
            enterprises: enterprises
                .iter()
                .filter(|e| e.group_id == row.id)
                .cloned()
                .collect(),
            row,
        })
        .collect())
}

/// Every group (organizers).
pub async fn list(db: &Db, user: &User) -> Result<Vec<Group>> {
    require_organizer(user)?;
    groups(db, None).await
}

/// One group (organizers).
pub async fn group(db: &Db, user: &User, id: i64) -> Result<Group> {
    require_organizer(user)?;
    groups(db, None)
        .await?
        .into_iter()
        .find(|g| g.row.id == id)
        .ok_or(QaError::NotFound)
}

/// Check a group's name and members; the name defaults to the lawyers' names.
async fn checked(
    db: &Db,
    limits: &QaConfig,
    group_id: Option<i64>,
    name: Option<&str>,
    lawyer_ids: &[i64],
    enterprise_ids: &[i64],
) -> Result<(String, Vec<i64>, Vec<i64>)> {
    let lawyer_ids = dedup(lawyer_ids);
    let enterprise_ids = dedup(enterprise_ids);
    let lawyers = db.member_facts(&lawyer_ids).await?;
    let enterprises = db.member_facts(&enterprise_ids).await?;
    let mut errors = match check_members(limits, group_id, &lawyers, &enterprises) {
        Ok(()) => FieldErrors::default(),
        Err(e) => e,
    };
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let name = match name {
        Some(n) => {
            if n.chars().count() > MAX_NAME_CHARS {
                errors.add("name", format!("组名不能超过{MAX_NAME_CHARS}个字"));
            }
            errors.check_text("name", "组名", n, Lines::Single);
            n.to_string()
        }
        None => {
            let names: Vec<&str> = lawyers.iter().map(|l| l.name.as_str()).collect();
            format!("{}法律顾问组", names.join("、"))
        }
    };
    errors.into_result().map_err(QaError::Invalid)?;
    Ok((name, lawyer_ids, enterprise_ids))
}

fn unique_race(e: sqlx::Error) -> QaError {
    if crate::db::is_unique_violation(&e) {
        QaError::conflict(
            "enterprise_has_advisor",
            "所选企业刚被加入其他法律顾问组，请刷新后重新选择。",
        )
    } else {
        e.into()
    }
}

/// Form a group (organizers).
pub async fn create(
    db: &Db,
    limits: &QaConfig,
    now: DateTime<Utc>,
    user: &User,
    name: Option<&str>,
    lawyer_ids: &[i64],
    enterprise_ids: &[i64],
) -> Result<Group> {
    require_organizer(user)?;
    let (name, lawyers, enterprises) =
        checked(db, limits, None, name, lawyer_ids, enterprise_ids).await?;
    let id = db
        .create_advisor_group(&name, &lawyers, &enterprises, now)
        .await
        .map_err(unique_race)?;
    audit::record(
        db,
        now,
        Some(user),
        Action::AdvisorGroupChanged,
        Target::AdvisorGroup(id),
        serde_json::json!({"created": true, "lawyers": lawyers, "enterprises": enterprises}),
    )
    .await;
    group(db, user, id).await
}

/// Replace a group's members (and name, when given) (organizers).
#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &Db,
    limits: &QaConfig,
    now: DateTime<Utc>,
    user: &User,
    id: i64,
    name: Option<&str>,
    lawyer_ids: &[i64],
    enterprise_ids: &[i64],
) -> Result<Group> {
    require_organizer(user)?;
    let current = group(db, user, id).await?;
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&current.row.name)
        .to_string();
    let (name, lawyers, enterprises) = checked(
        db,
        limits,
        Some(id),
        Some(&name),
        lawyer_ids,
        enterprise_ids,
    )
    .await?;
    if !db
        .set_advisor_group(id, &name, &lawyers, &enterprises)
        .await
        .map_err(unique_race)?
    {
        return Err(QaError::NotFound);
    }
    audit::record(
        db,
        now,
        Some(user),
        Action::AdvisorGroupChanged,
        Target::AdvisorGroup(id),
        serde_json::json!({"lawyers": lawyers, "enterprises": enterprises}),
    )
    .await;
    group(db, user, id).await
}

/// Which member a page adds or removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Lawyer(i64),
    Enterprise(i64),
}

/// Add (`add`) or remove one member, under the same rules as [`update`].
pub async fn change_member(
    db: &Db,
    limits: &QaConfig,
    now: DateTime<Utc>,
    user: &User,
    id: i64,
    member: Member,
    add: bool,
) -> Result<Group> {
    require_organizer(user)?;
    let current = group(db, user, id).await?;
    let mut lawyers: Vec<i64> = current.lawyers.iter().map(|l| l.id).collect();
    let mut enterprises: Vec<i64> = current.enterprises.iter().map(|e| e.id).collect();
    let (list, who) = match member {
        Member::Lawyer(m) => (&mut lawyers, m),
        Member::Enterprise(m) => (&mut enterprises, m),
    };
    if add {
        list.push(who);
    } else {
        list.retain(|&x| x != who);
    }
    update(db, limits, now, user, id, None, &lawyers, &enterprises).await
}

/// Dissolve a group (organizers): its enterprises have no advisor afterwards.
pub async fn delete(db: &Db, now: DateTime<Utc>, user: &User, id: i64) -> Result<()> {
    require_organizer(user)?;
    if !db.delete_advisor_group(id).await? {
        return Err(QaError::NotFound);
    }
    audit::record(
        db,
        now,
        Some(user),
        Action::AdvisorGroupChanged,
        Target::AdvisorGroup(id),
        serde_json::json!({"deleted": true}),
    )
    .await;
    Ok(())
}

/// Small and micro enterprises without an advisor (a page, searched by name) and those whose
/// size is unknown (organizers).
pub struct Unassigned {
    pub enterprises: Vec<GroupEnterprise>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub unknown_size: Vec<GroupEnterprise>,
    pub unknown_total: i64,
}

pub async fn unassigned(
    db: &Db,
    user: &User,
    query: Option<&str>,
    page: i64,
) -> Result<Unassigned> {
    require_organizer(user)?;
    let query = query
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(50).collect::<String>());
    let page = page.clamp(1, 10_000);
    let (enterprises, total) = db
        .enterprises_without_advisor(query.as_deref(), PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let (unknown_size, unknown_total) = db.enterprises_unknown_size(50).await?;
    Ok(Unassigned {
        enterprises,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        unknown_size,
        unknown_total,
    })
}

/// Lawyer accounts for the group form (organizers).
pub async fn lawyer_choices(db: &Db, user: &User) -> Result<Vec<(i64, String, String)>> {
    require_organizer(user)?;
    Ok(db.lawyer_choices().await?)
}

/// A lawyer's groups with their enterprises' contacts (`/advisors`). Each opening is audited,
/// per group, since it shows names and mobiles.
pub async fn of_lawyer(db: &Db, now: DateTime<Utc>, user: &User) -> Result<Vec<Group>> {
    if user.role != Role::Lawyer {
        return Err(QaError::Forbidden);
    }
    let mine = groups(db, Some(user.id)).await?;
    for g in &mine {
        let ids: Vec<i64> = g.enterprises.iter().map(|e| e.id).collect();
        audit::record(
            db,
            now,
            Some(user),
            Action::AdvisorContactsOpened,
            Target::AdvisorGroup(g.row.id),
            serde_json::json!({"enterprises": ids}),
        )
        .await;
    }
    Ok(mine)
}

/// An enterprise's advisors (name, firm, contact), for 我的. Empty for other roles.
pub async fn advisors_of(db: &Db, user: &User) -> Result<Vec<GroupLawyer>> {
    if user.role != Role::Enterprise {
        return Ok(Vec::new());
    }
    Ok(db.advisors_of(user.id).await?)
}

/// The demo's advisor group (`pufa serve --demo`), once: the first demo lawyer (login name
/// `lawyer-demo-…`) with the demo enterprises (names ending in "示例）"), which get a size
/// (small, then micro) when they have none. Nothing when the demo has no such accounts yet
/// or a group exists; run it after the demo's lawyers and enterprises are created.
pub async fn load_demo(db: &Db, limits: &QaConfig, now: DateTime<Utc>) -> anyhow::Result<()> {
    if !db.advisor_groups(None).await?.is_empty() {
        return Ok(());
    }
    let Some(lawyer) = db.staff(Role::Lawyer).await?.into_iter().find(|u| {
        u.username
            .as_deref()
            .is_some_and(|n| n.starts_with("lawyer-demo-"))
    }) else {
        return Ok(());
    };
    let mut members = Vec::new();
    let mut enterprises = db.enterprises().await?;
    enterprises.sort_by_key(|e| e.id);
    for (i, e) in enterprises
        .iter()
        .filter(|e| e.name.ends_with("示例）"))
        .take(limits.group_max_enterprises as usize)
        .enumerate()
    {
        match e.size.as_deref().and_then(EnterpriseSize::parse) {
            Some(s) if !s.eligible_for_advisors() => continue,
            Some(_) => {}
            None => {
                let size = if i % 2 == 0 {
                    EnterpriseSize::Small
                } else {
                    EnterpriseSize::Micro
                };
                db.set_enterprise_size(e.id, Some(size)).await?;
            }
        }
        members.push(e.id);
    }
    if members.is_empty() {
        return Ok(());
    }
    db.create_advisor_group("示例法律顾问组（5+1）", &[lawyer.id], &members, now)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lawyer(id: i64) -> MemberFacts {
        MemberFacts {
            id,
            role: Some("lawyer".into()),
            name: format!("律师{id}"),
            size: None,
            group_id: None,
        }
    }

    fn enterprise(id: i64, size: Option<&str>, group: Option<i64>) -> MemberFacts {
        MemberFacts {
            id,
            role: Some("enterprise".into()),
            name: format!("示例企业{id}"),
            size: size.map(str::to_string),
            group_id: group,
        }
    }

    fn messages(r: std::result::Result<(), FieldErrors>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn one_or_two_lawyers_for_up_to_five_small_enterprises() {
        let limits = QaConfig::default();
        let five: Vec<MemberFacts> = (10..15)
            .map(|i| enterprise(i, Some("small"), None))
            .collect();
        assert!(check_members(&limits, None, &[lawyer(1)], &five).is_ok());
        assert!(check_members(&limits, None, &[lawyer(1), lawyer(2)], &five[..1]).is_ok());
        let six: Vec<MemberFacts> = (10..16)
            .map(|i| enterprise(i, Some("micro"), None))
            .collect();
        assert!(messages(check_members(&limits, None, &[lawyer(1)], &six)).contains("1至5家"));
        let three = [lawyer(1), lawyer(2), lawyer(3)];
        assert!(messages(check_members(&limits, None, &three, &five)).contains("1至2名律师"));
        assert!(messages(check_members(&limits, None, &[], &five)).contains("1至2名律师"));
        assert!(messages(check_members(&limits, None, &[lawyer(1)], &[])).contains("1至5家"));
    }

    #[test]
    fn medium_unknown_and_taken_enterprises_are_named() {
        let limits = QaConfig::default();
        let m = messages(check_members(
            &limits,
            None,
            &[lawyer(1)],
            &[
                enterprise(10, Some("medium"), None),
                enterprise(11, None, None),
                enterprise(12, Some("small"), Some(7)),
                enterprise(13, Some("large"), None),
            ],
        ));
        assert!(m.contains("示例企业10为中型企业"), "{m}");
        assert!(m.contains("示例企业11尚未填写企业规模"), "{m}");
        assert!(m.contains("示例企业12已在另一个法律顾问组（#7）"), "{m}");
        assert!(m.contains("示例企业13为大型企业"), "{m}");
        // an enterprise already in this very group stays eligible
        assert!(check_members(
            &limits,
            Some(7),
            &[lawyer(1)],
            &[enterprise(12, Some("small"), Some(7))]
        )
        .is_ok());
    }

    #[tokio::test]
    async fn the_demo_group_takes_the_demo_lawyer_and_enterprises() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).await.expect("open");
        let now = Utc::now();
        let limits = QaConfig::default();
        // nothing to form a group of yet
        load_demo(&db, &limits, now).await.expect("demo");
        assert!(db.advisor_groups(None).await.expect("groups").is_empty());
        let lawyer = db
            .insert_staff(Role::Lawyer, "lawyer-demo-x", "示例律师（示例）", "x")
            .await
            .expect("lawyer");
        let mut ids = Vec::new();
        for (n, name) in [
            "甲制造有限公司（示例）",
            "乙商贸有限公司",
            "丙餐饮有限公司（示例）",
        ]
        .iter()
        .enumerate()
        {
            let e = crate::accounts::ValidEnterprise {
                name: name.to_string(),
                uscc: format!("91350100DEMO00000{n}"),
                industry: 'C',
                district: None,
                contact_name: "示例联系人".into(),
                mobile: format!("1390099000{n}"),
                privacy_notice_version: crate::accounts::privacy::NOTICE_VERSION,
                size: None,
            };
            ids.push(
                db.insert_enterprise(&e, "x", &format!("t{n}"), now)
                    .await
                    .expect("e"),
            );
        }
        load_demo(&db, &limits, now).await.expect("demo");
        load_demo(&db, &limits, now).await.expect("idempotent");
        let groups = db.advisor_groups(None).await.expect("groups");
        assert_eq!(groups.len(), 1);
        let members = db.advisor_group_enterprises().await.expect("members");
        let got: Vec<i64> = members.iter().map(|m| m.id).collect();
        assert_eq!(got, vec![ids[0], ids[2]]);
        assert_eq!(
            db.enterprise_size(ids[0]).await.expect("size"),
            Some(EnterpriseSize::Small)
        );
        assert_eq!(db.enterprise_size(ids[1]).await.expect("size"), None);
        let lawyers = db.advisor_group_lawyers().await.expect("lawyers");
        assert_eq!(lawyers[0].id, lawyer);
    }

    #[test]
    fn roles_are_checked() {
        let limits = QaConfig {
            group_max_enterprises: 1,
            group_max_lawyers: 1,
            ..QaConfig::default()
        };
        let m = messages(check_members(
            &limits,
            None,
            &[enterprise(5, Some("small"), None)],
            &[lawyer(6)],
        ));
        assert!(m.contains("账号 #5 不是律师账号"), "{m}");
        assert!(m.contains("账号 #6 不是企业账号"), "{m}");
    }
}
