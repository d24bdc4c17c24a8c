//! pufa — 精准普法. A server for a city chamber of commerce (工商联): the online legal-education
//! month, enterprise sign-ups, the lecture archive and the legal health check (法治体检).

pub mod accounts;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod schedule;
pub mod signup;

use config::Config;
use db::Db;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Open the database, load the demo if asked, and serve HTTP on `listener` until `shutdown`
/// completes; in-flight requests are allowed to finish.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = Db::open(&config.data_dir).await?;
    std::fs::create_dir_all(&config.media_dir)?;
    if config.demo {
        demo::load(&db, &config).await?;
    }
    let state = http::AppState {
        db: db.clone(),
        config: Arc::new(config),
    };
    let janitor = tokio::spawn(purge_sessions_periodically(db));
    let app = http::router(state);
    tracing::info!(addr = %listener.local_addr()?, "pufa listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    janitor.abort();
    tracing::info!("pufa stopped");
    Ok(())
}

async fn purge_sessions_periodically(db: Db) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = db.purge_expired_sessions(chrono::Utc::now()).await {
            tracing::warn!(error = ?e, "purging expired sessions failed");
        }
    }
}
