//! The live pages: the organizer's live page (ingest URLs with the key hidden until asked, key
//! rotation, the ingest figures, viewers over time, refused attempts) and the live widget of
//! the session page. Both render the state at load and `live.js` keeps them current by
//! polling the live API.

use crate::accounts::Role;
use crate::app::live::view::{
    self as uc, keyframe_interval_off, LiveState, LiveView, Manager, KEYFRAME_INTERVAL_S,
};
use crate::archive::Access;
use crate::error::{AppError, AppResult};
use crate::http::auth::CurrentUser;
use crate::http::csrf::CsrfForm;
use crate::http::extract::{Path, Query};
use crate::http::layout::Layout;
use crate::http::views::format::{datetime_zh, rfc3339, timestamp};
use crate::http::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// Bits per second as "2.5 Mbps" / "800 kbps".
pub fn bitrate_text(bps: u64) -> String {
    if bps >= 1_000_000 {
        format!("{:.1} Mbps", bps as f64 / 1_000_000.0)
    } else {
        format!("{} kbps", bps / 1000)
    }
}

/// The `points` of an SVG polyline drawing `samples` in a `width`×`height` box (time on x,
/// viewers on y from 0 to the peak); empty with fewer than two samples.
pub fn chart_points(samples: &[(DateTime<Utc>, i64)], width: f64, height: f64) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return String::new();
    };
    let span = (last.0 - first.0).num_milliseconds() as f64;
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0).max(1) as f64;
    if samples.len() < 2 || span <= 0.0 {
        return String::new();
    }
    samples
        .iter()
        .map(|(at, n)| {
            let x = (at.timestamp_millis() - first.0.timestamp_millis()) as f64 / span * width;
            let y = height - (*n as f64 / peak) * height;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of the refusal log.
pub struct RefusalRow {
    pub at: String,
    pub protocol: String,
    pub reason: String,
    pub remote: String,
}

/// One rung as the page lists it.
pub struct RungRow {
    pub name: String,
    pub size: String,
    pub passthrough: bool,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "live/admin.html")]
pub struct LiveAdminPage {
    pub layout: Layout,
    pub session_id: i64,
    pub title: String,
    pub when: String,
    pub state: LiveState,
    pub is_organizer: bool,
    pub notice: Option<String>,
    pub stream_key: String,
    pub rtmp_server: Option<String>,
    pub rtmp_url: Option<String>,
    pub srt_url: Option<String>,
    pub started_at: String,
    pub bitrate: String,
    pub fps: String,
    pub keyframe: String,
    pub keyframe_warning: bool,
    pub keyframe_target: f64,
    pub lag: String,
    pub rungs: Vec<RungRow>,
    pub dropped: Vec<String>,
    pub viewers: usize,
    pub peak_viewers: usize,
    pub chart: String,
    pub samples: usize,
    pub refusals: Vec<RefusalRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

/// `GET /admin/sessions/{id}/live`: organizers and the session's lawyer.
pub async fn live_admin_page(
    State(state): State<AppState>,
    layout: Layout,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<LiveAdminPage> {
    let view = uc::live_view(&state.db, &state.live, state.clock.now(), id, Some(&user)).await?;
    let (Some(manager), Some(ingest), Some(figures)) = (view.manager, view.ingest, view.figures)
    else {
        return Err(AppError::Forbidden);
    };
    let tz = view.session.tz();
    let status = figures.status;
    let live = view.state == LiveState::Live;
    Ok(LiveAdminPage {
        layout,
        session_id: id,
        title: view.session.title.clone(),
        when: view
            .session
            .starts_at
            .map(|t| datetime_zh(&t, tz))
            .unwrap_or_else(|| "时间待定".into()),
        state: view.state,
        is_organizer: manager == Manager::Organizer,
        notice: (q.notice.as_deref() == Some("rotated"))
            .then(|| "推流码已更换：旧推流码立即失效，请把新的推流码告知主讲人。".to_string()),
        stream_key: ingest.stream_key,
        rtmp_server: ingest.rtmp_server,
        rtmp_url: ingest.rtmp_url,
        srt_url: ingest.srt_url,
        started_at: view
            .started_at
            .map(|t| timestamp(&t, tz))
            .unwrap_or_else(|| "—".into()),
        bitrate: if live {
            bitrate_text(status.incoming_bitrate_bps)
        } else {
            "—".into()
        },
        fps: if live {
            format!("{:.1}", status.incoming_fps)
        } else {
            "—".into()
        },
        keyframe: status
            .keyframe_interval_s
            .map(|s| format!("{s:.1} 秒"))
            .unwrap_or_else(|| "—".into()),
        keyframe_warning: keyframe_interval_off(status.keyframe_interval_s),
        keyframe_target: KEYFRAME_INTERVAL_S,
        lag: if live {
            format!("{:.1} 秒", status.lag_ms as f64 / 1000.0)
        } else {
            "—".into()
        },
        rungs: status
            .renditions
            .iter()
            .map(|r| RungRow {
                name: r.name.clone(),
                size: if r.height > 0 {
                    format!("{}×{}", r.width, r.height)
                } else {
                    "音频".into()
                },
                passthrough: r.passthrough,
                active: r.active,
            })
            .collect(),
        dropped: figures
            .dropped_rungs
            .iter()
            .map(|(n, _)| n.clone())
            .collect(),
        viewers: view.viewers,
        peak_viewers: figures.peak_viewers,
        chart: chart_points(&figures.viewer_samples, 600.0, 120.0),
        samples: figures.viewer_samples.len(),
        refusals: figures
            .refusals
            .into_iter()
            .map(|r| RefusalRow {
                at: timestamp(&r.at, tz),
                protocol: r.protocol.to_uppercase(),
                reason: r.reason_zh,
                remote: r.remote.unwrap_or_else(|| "—".into()),
            })
            .collect(),
    })
}

/// `POST /admin/sessions/{id}/live/key` (更换密钥, organizers): back to the live page.
pub async fn rotate_key_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    let user = user.require(Role::Organizer)?;
    uc::rotate_key(
        &state.db,
        state.live.settings(),
        state.clock.now(),
        user,
        id,
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/sessions/{id}/live?notice=rotated")).into_response())
}

/// The live part of the session page.
pub struct LiveWidget {
    pub session_id: i64,
    /// `idle`, `live` or `ended` (also `data-state` for `live.js`).
    pub state: &'static str,
    /// `live.js` polls the API (the viewer may watch and the session is not cancelled).
    pub poll: bool,
    pub refusal: Option<&'static str>,
    pub login_required: bool,
    /// Whether the viewer is logged in (the player reports watching only then).
    pub logged_in: bool,
    pub manager: bool,
    pub starts_at: String,
    pub ends_at: String,
    pub starts_text: String,
    pub hls_url: String,
    pub viewers: usize,
    pub lecture_id: Option<i64>,
    pub replay_pending: bool,
    /// Before the start: the countdown is shown.
    pub upcoming: bool,
    /// Between the start and the scheduled end, no live yet: waiting for the publisher.
    pub waiting: bool,
}

impl LiveWidget {
    /// The widget for `view` at `now`; `None` for cancelled or unplaced sessions without a
    /// live (nothing to show).
    pub fn new(view: &LiveView, now: DateTime<Utc>, logged_in: bool) -> Option<LiveWidget> {
        let session = &view.session;
        let tz = session.tz();
        if view.state == LiveState::Idle && (session.is_cancelled() || session.starts_at.is_none())
        {
            return None;
        }
        let starts_at = session.starts_at;
        let ends_at = starts_at.map(|s| s + Duration::minutes(session.minutes));
        let idle = view.state == LiveState::Idle;
        Some(LiveWidget {
            session_id: session.id,
            state: match view.state {
                LiveState::Idle => "idle",
                LiveState::Live => "live",
                LiveState::Ended => "ended",
            },
            poll: view.access.is_allowed() && !session.is_cancelled(),
            refusal: view.access.reason_zh(),
            login_required: view.access == Access::LoginRequired,
            logged_in,
            manager: view.manager.is_some(),
            starts_at: starts_at.map(|t| rfc3339(&t, tz)).unwrap_or_default(),
            ends_at: ends_at.map(|t| rfc3339(&t, tz)).unwrap_or_default(),
            starts_text: starts_at
                .map(|t| datetime_zh(&t, tz))
                .unwrap_or_else(|| "时间待定".into()),
            hls_url: view.hls_url.clone().unwrap_or_default(),
            viewers: view.viewers,
            lecture_id: view.lecture_id,
            replay_pending: view.replay_pending,
            upcoming: idle && starts_at.is_some_and(|s| now < s),
            waiting: idle
                && starts_at.is_some_and(|s| now >= s)
                && ends_at.is_some_and(|e| now < e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn bitrates_read_naturally() {
        assert_eq!(bitrate_text(2_500_000), "2.5 Mbps");
        assert_eq!(bitrate_text(800_000), "800 kbps");
    }

    #[test]
    fn the_chart_spans_the_box() {
        let t = |s: i64| {
            Utc.timestamp_opt(1_800_000_000 + s, 0)
                .single()
                .expect("time")
        };
        assert_eq!(chart_points(&[(t(0), 3)], 100.0, 50.0), "");
        let points = chart_points(&[(t(0), 0), (t(10), 4), (t(20), 2)], 100.0, 50.0);
        assert_eq!(points, "0.0,50.0 50.0,0.0 100.0,25.0");
    }
}
