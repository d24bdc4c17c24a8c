//! pufa — 精准普法. A server for a city chamber of commerce (工商联): the online legal-education
//! month, enterprise sign-ups, the lecture archive and the legal health check (法治体检).

pub mod accounts;
pub mod app;
pub mod archive;
pub mod checkup;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
mod live_ingest;
pub mod media;
pub mod notify;
pub mod pdf;
pub mod proxy;
pub mod qa;
pub mod schedule;
pub mod server;
pub mod signup;
pub mod validation;

use config::Config;
use db::Db;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Open the database, load the demo if asked, and serve HTTP on `listener` until `shutdown`
/// completes; in-flight requests are allowed to finish. Connections are limited as
/// [`server::run`] describes (`max_connections`, `header_timeout` of the configuration).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let questionnaire = load_questionnaire(&config)?;
    let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
    register_questionnaire(&db, &questionnaire, &config).await?;
    std::fs::create_dir_all(&config.media_dir)?;
    let questionnaires = app::checkup::Questionnaires::new(questionnaire);
    let storage = open_storage(&config).await?;
    if config.demo {
        demo::load(&db, &config, &questionnaires, &*storage).await?;
    }
    // uploads cut off by a crash or a kill left their partial files; nothing writes them now
    match storage.remove_partial_uploads() {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            removed = n,
            "removed partial uploads left by an interrupted run"
        ),
        Err(e) => tracing::warn!(error = %e, "removing partial uploads"),
    }
    let clock = config.clock.clone();
    let channels = Arc::new(app::notify::delivery::Channels::from_config(&config)?);
    let wake = Arc::new(tokio::sync::Notify::new());
    // lives this process was running when it stopped are archived from what reached the disk
    app::live::recover_interrupted(&db, clock.now(), &wake).await?;
    let ingest = live_ingest::bind(&config).await?;
    let live = app::live::service::LiveService::new(
        db.clone(),
        clock.clone(),
        storage.clone(),
        ingest.settings(&config),
        wake.clone(),
    );
    let media_files = Arc::new(http::media::serve::MediaFiles::new(&config));
    let state_pdf_font = config.pdf_font.clone();
    let state = http::AppState {
        db: db.clone(),
        config: Arc::new(config),
        questionnaires,
        storage: storage.clone(),
        wake,
        clock: clock.clone(),
        live: live.clone(),
        metrics: Default::default(),
        channels: channels.clone(),
        media: media_files,
        pdf: Arc::new(pdf::Renderer::new(state_pdf_font)),
    };
    let (stop_ingest, ingest_stopped) = tokio::sync::watch::channel(false);
    let lives = ingest.start(
        Arc::new(app::live::DbAdmission::new(db.clone(), clock)),
        live.clone(),
        ingest_stopped,
    );
    let live_heartbeat = tokio::spawn(live.clone().keep_heartbeat());
    let viewer_sampler = tokio::spawn(live.sample_viewers());
    let janitor = tokio::spawn(purge_sessions_periodically(db.clone(), state.clock.clone()));
    let reminders = tokio::spawn(app::notify::reminders::run_periodically(
        db.clone(),
        state.clock.clone(),
        state.config.notify.reminder_offsets.0.clone(),
        app::notify::reminders::PERIOD,
    ));
    // 企问律答: questions waiting too long are flagged to the organizers (issue 16)
    let overdue_questions = tokio::spawn(app::qa::questions::overdue_loop(
        db.clone(),
        state.clock.clone(),
        state.config.qa.overdue_working_days,
    ));
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let workers =
        start_transcode_workers(&db, &storage, &state.config, &state.wake, &workers_stopped);
    // notification mail and SMS (issue 12); stopped with the transcode workers
    let deliveries = app::notify::delivery::start(&db, &state.config, &channels, &workers_stopped);
    let limits = server::Limits {
        max_connections: state.config.max_connections,
        header_timeout: state.config.header_timeout,
        media_sendfile: state.config.media_sendfile,
    };
    let grants = state.media.grants();
    let app = http::router(state);
    tracing::info!(
        addr = %listener.local_addr()?,
        max_connections = limits.max_connections,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        "pufa listening"
    );
    server::run(listener, app, limits, grants, shutdown).await?;
    // publishers are disconnected; their packagers write their last segments and end the
    // periods (a restart archives those lives)
    let _ = stop_ingest.send(true);
    if let Err(e) = lives.await {
        tracing::error!(error = %e, "the live ingest panicked");
    }
    viewer_sampler.abort();
    live_heartbeat.abort();
    // a running transcode is cancelled and its job handed back to the queue (sending fails
    // only when no worker is left to tell)
    let _ = stop_workers.send(true);
    join_workers(workers, deliveries).await;
    janitor.abort();
    // a round cut off here rolls back; the next start-up stores what it had not
    reminders.abort();
    overdue_questions.abort();
    tracing::info!("pufa stopped");
    Ok(())
}

/// The media store `config` names: the media folder, or a bucket (checked to be reachable, so
/// a wrong endpoint or credential stops the start with its reason).
async fn open_storage(config: &Config) -> anyhow::Result<media::storage::SharedStorage> {
    Ok(match &config.storage {
        media::storage::StorageUrl::Local => {
            Arc::new(media::storage::LocalFs::new(config.media_dir.clone()))
        }
        media::storage::StorageUrl::S3(location) => {
            let s3 = media::storage::S3Storage::new(location, config.media_dir.clone())?;
            s3.check().await.map_err(|e| {
                anyhow::anyhow!("media bucket {:?} is not reachable: {e}", s3.bucket())
            })?;
            tracing::info!(bucket = s3.bucket(), "media in object storage");
            Arc::new(s3)
        }
    })
}

/// Start `config.transcode_workers` transcode workers (recordings and live archives); they
/// stop when `stopped` turns true, handing a running job back to the queue.
fn start_transcode_workers(
    db: &Db,
    storage: &media::storage::SharedStorage,
    config: &Config,
    wake: &Arc<tokio::sync::Notify>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    if config.transcode_workers == 0 {
        return Vec::new();
    }
    media::transcode::init();
    (0..config.transcode_workers)
        .map(|_| {
            let worker = media::worker::Worker::new(
                db.clone(),
                storage.clone(),
                std::time::Duration::from_secs(config.job_stale_secs),
                wake.clone(),
            );
            tokio::spawn(worker.run(stopped.clone()))
        })
        .collect()
}

async fn join_workers(
    transcoders: Vec<tokio::task::JoinHandle<()>>,
    deliveries: Vec<tokio::task::JoinHandle<()>>,
) {
    for w in transcoders {
        if let Err(e) = w.await {
            tracing::error!(error = %e, "a transcode worker panicked");
        }
    }
    for d in deliveries {
        if let Err(e) = d.await {
            tracing::error!(error = %e, "a delivery worker panicked");
        }
    }
}

/// `pufa worker`: run the background jobs of `kinds` against the database and media of
/// `config` until `shutdown` completes, in a process of its own (issue 18). Jobs are claimed
/// in the database, so workers in several processes never run the same job; a worker killed
/// mid-job stops writing its heartbeat and another takes the job over after
/// `job_stale_secs`. Such a process does not hear the server's wake-ups: it looks for new
/// jobs every two seconds.
pub async fn work(
    mut config: Config,
    kinds: &[config::WorkerKind],
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
    let storage = open_storage(&config).await?;
    if !kinds.contains(&config::WorkerKind::Transcode) {
        config.transcode_workers = 0;
    }
    if !kinds.contains(&config::WorkerKind::Delivery) {
        config.notify.delivery_workers = 0;
    }
    let channels = Arc::new(app::notify::delivery::Channels::from_config(&config)?);
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let transcoders = start_transcode_workers(&db, &storage, &config, &wake, &stopped);
    let deliveries = app::notify::delivery::start(&db, &config, &channels, &stopped);
    tracing::info!(
        transcode_workers = transcoders.len(),
        delivery_workers = deliveries.len(),
        "pufa worker running"
    );
    ready();
    shutdown.await;
    let _ = stop.send(true);
    join_workers(transcoders, deliveries).await;
    tracing::info!("pufa worker stopped");
    Ok(())
}

/// The questionnaire text: the file named in the configuration, or the built-in one.
fn questionnaire_text(config: &Config) -> anyhow::Result<String> {
    match &config.questionnaire_path {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading questionnaire {}: {e}", path.display())),
        None => Ok(checkup::questionnaire::BUILTIN.to_string()),
    }
}

/// Load and validate the questionnaire; a broken file stops the server with the line at fault.
fn load_questionnaire(config: &Config) -> anyhow::Result<checkup::questionnaire::Questionnaire> {
    let text = questionnaire_text(config)?;
    Ok(checkup::questionnaire::Questionnaire::load(&text)?)
}

/// Keep every questionnaire version's text so that each report can be recomputed exactly; a
/// version may not change its content once used.
async fn register_questionnaire(
    db: &Db,
    q: &checkup::questionnaire::Questionnaire,
    config: &Config,
) -> anyhow::Result<()> {
    let text = questionnaire_text(config)?;
    db.register_questionnaire(&q.version, &text).await?;
    if let Some(stored) = db.questionnaire_source(&q.version).await? {
        if stored != text {
            anyhow::bail!(
                "questionnaire version {} is already in use with different content: raise `version` in the file",
                q.version
            );
        }
    }
    Ok(())
}

async fn purge_sessions_periodically(db: Db, clock: clock::Clock) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = db.purge_expired_sessions(clock.now()).await {
            tracing::warn!(error = ?e, "purging expired sessions failed");
        }
    }
}
