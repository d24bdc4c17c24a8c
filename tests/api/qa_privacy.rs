//! Who sees a question thread (issue 16): its enterprise, the lawyer it is assigned to *now*,
//! organizers. Another enterprise and any other lawyer get 404 on the page and on every API
//! route (as for check-up reports), also after a reassignment away; staff openings are
//! audited; a deleted account takes its questions with it.

use crate::helpers::{TestApp, ENTERPRISE_PASSWORD};
use crate::qa_questions::{ask_ok, id_of, lawyer, pool, post_json, question, set_profile};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn status_of(c: &Client, url: String) -> StatusCode {
    c.get(url).send().await.unwrap().status()
}

/// Every way of reading or writing thread `id`, with the status `c` gets.
async fn every_route(app: &TestApp, c: &Client, id: i64) -> Vec<(String, StatusCode)> {
    let mut out = Vec::new();
    for path in [
        format!("/questions/{id}"),
        format!("/api/v1/questions/{id}"),
    ] {
        out.push((path.clone(), status_of(c, app.url(&path)).await));
    }
    for (path, body) in [
        (
            format!("/api/v1/questions/{id}/messages"),
            json!({"body": "窥探"}),
        ),
        (format!("/api/v1/questions/{id}/close"), json!({})),
        (format!("/api/v1/questions/{id}/answered-live"), json!({})),
    ] {
        let r = post_json(app, c, &path, body).await;
        out.push((path, r.status()));
    }
    out
}

#[tokio::test]
async fn threads_are_private_to_their_enterprise_the_assigned_lawyer_and_organizers() {
    let app = TestApp::spawn().await;
    let org = app.organizer().await;
    let (l1c, l1) = lawyer(&app, "lawyer-one").await;
    let (l2c, l2) = lawyer(&app, "lawyer-two").await;
    set_profile(&app, &org, l1, &["labour"], &[]).await;
    let (a, _) = app.register_enterprise(1).await;
    let (b, _) = app.register_enterprise(2).await;
    let id = ask_ok(&app, &a, "labour", "A 企业的内部问题").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(question(&app, &a, id).await["assigned_lawyer_id"], l1);

    // enterprise B and the unassigned lawyer: 404 everywhere, and nothing changed
    for stranger in [&b, &l2c] {
        for (path, status) in every_route(&app, stranger, id).await {
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let list: Value = app.get_json(stranger, "/api/v1/questions").await;
        assert_eq!(list["total"], 0);
        assert!(!app
            .get_text(stranger, "/questions")
            .await
            .contains("A 企业的内部问题"));
    }
    let v = question(&app, &a, id).await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(v["status"], "assigned");
    // anonymous: 401 on the API
    let anon = app.anonymous();
    assert_eq!(
        status_of(&anon, app.url(&format!("/api/v1/questions/{id}"))).await,
        StatusCode::UNAUTHORIZED
    );

    // the assigned lawyer and organizers read it; the enterprise may not reassign (403)
    for reader in [&a, &l1c, &org] {
        assert_eq!(
            status_of(reader, app.url(&format!("/questions/{id}"))).await,
            StatusCode::OK
        );
    }
    let r = post_json(
        &app,
        &a,
        &format!("/api/v1/questions/{id}/assignment"),
        json!({"lawyer_id": l2}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_json(
        &app,
        &l1c,
        &format!("/api/v1/questions/{id}/assignment"),
        json!({"lawyer_id": l2}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // reassigned away: the first lawyer loses it everywhere, the second gains it
    let r = post_json(
        &app,
        &org,
        &format!("/api/v1/questions/{id}/assignment"),
        json!({"lawyer_id": l2}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    for (path, status) in every_route(&app, &l1c, id).await {
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let list: Value = app.get_json(&l1c, "/api/v1/questions").await;
    assert_eq!(list["total"], 0);
    assert_eq!(
        status_of(&l2c, app.url(&format!("/api/v1/questions/{id}"))).await,
        StatusCode::OK
    );

    // staff openings are in the audit log, with no question text
    let db = pool(&app).await;
    let opened: Vec<(i64, String)> = sqlx::query_as(
        "SELECT actor_user_id, detail FROM audit_log
         WHERE action = 'question.opened' AND target_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db)
    .await
    .unwrap();
    let actors: Vec<i64> = opened.iter().map(|(a, _)| *a).collect();
    assert!(actors.contains(&l1) && actors.contains(&l2), "{opened:?}");
    assert!(opened.iter().all(|(_, d)| !d.contains("内部问题")));
    let a_id = id_of(&app, &a).await;
    assert!(
        !actors.contains(&a_id),
        "the enterprise's own reading is not audited"
    );
    let reassigned: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'question.reassigned' AND target_id = $1",
    )
    .bind(id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(reassigned, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_account_takes_its_questions_with_it() {
    let app = TestApp::spawn().await;
    let (a, _) = app.register_enterprise(1).await;
    let a_id = id_of(&app, &a).await;
    let id = ask_ok(&app, &a, "labour", "注销前的问题").await["id"]
        .as_i64()
        .unwrap();
    let r = a
        .delete(app.url("/api/v1/me"))
        .json(&json!({"password": ENTERPRISE_PASSWORD, "confirm": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let db = pool(&app).await;
    let left: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM questions WHERE enterprise_id = $1),
                (SELECT COUNT(*) FROM question_messages WHERE question_id = $2)",
    )
    .bind(a_id)
    .bind(id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(left, (0, 0));
    let org = app.organizer().await;
    assert_eq!(
        status_of(&org, app.url(&format!("/api/v1/questions/{id}"))).await,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
