//! Starting the live ingest of `pufa serve`: the RTMP and SRT listeners configured (either may
//! be off), feeding the [`LiveService`].

use crate::app::live::service::{LiveService, LiveSettings};
use crate::config::Config;
use crate::media::live::hub::HubOptions;
use crate::media::live::ingest::rtmp::RtmpIngest;
use crate::media::live::ingest::srt::SrtIngest;
use crate::media::live::ingest::{Admission, IngestLimits};
use crate::media::live::packager::PackagerOptions;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The listeners, bound (so that the ingest URLs carry the real ports) but not yet serving.
pub struct BoundIngest {
    rtmp: Option<RtmpIngest>,
    srt: Option<SrtIngest>,
}

/// Bind the configured listeners; a port in use stops the server with a clear message.
pub async fn bind(config: &Config) -> anyhow::Result<BoundIngest> {
    let rtmp = match config.rtmp_listen {
        Some(addr) => Some(RtmpIngest::bind(addr).await.with_context(|| {
            format!("RTMP ingest cannot listen on {addr} (--rtmp-listen; `off` disables it)")
        })?),
        None => None,
    };
    let srt = match config.srt_listen {
        Some(addr) => Some(SrtIngest::bind(addr).await.with_context(|| {
            format!("SRT ingest cannot listen on {addr} (--srt-listen; `off` disables it)")
        })?),
        None => None,
    };
    Ok(BoundIngest { rtmp, srt })
}

/// `host:port` for a URL, with IPv6 hosts bracketed.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl BoundIngest {
    fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.rtmp.as_ref().and_then(|r| r.local_addr().ok())
    }

    fn srt_addr(&self) -> Option<SocketAddr> {
        self.srt.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// How lives run, with the ingest URLs lecturers are given (the configured ingest host,
    /// or the public URL's, and the bound ports).
    pub fn settings(&self, config: &Config) -> LiveSettings {
        let host = config
            .ingest_host
            .clone()
            .unwrap_or_else(|| config.public_url.host().to_string());
        let hub = HubOptions {
            part_target: config.live_part,
            ..HubOptions::default()
        };
        LiveSettings {
            grace: config.live_grace,
            rtmp_base: self
                .rtmp_addr()
                .map(|a| format!("rtmp://{}/live/", authority(&host, a.port()))),
            srt_base: self
                .srt_addr()
                .map(|a| format!("srt://{}", authority(&host, a.port()))),
            packager: PackagerOptions {
                part_target: hub.part_target,
                segment_target: hub.segment_target,
                window: Some(hub.window),
                ..PackagerOptions::default()
            },
            hub,
            mirror: config.live_mirror,
        }
    }

    /// Serve publishers until `stop` turns true; the returned task ends when the listeners
    /// are closed and every packager has written its last segment.
    pub fn start(
        self,
        admission: Arc<dyn Admission>,
        live: LiveService,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let (sink, streams) = mpsc::channel(16);
        let limits = IngestLimits::default();
        let stopped = |mut stop: watch::Receiver<bool>| async move {
            // an error means the sender is gone: stop as well
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let mut listeners = Vec::new();
        if let Some(rtmp) = self.rtmp {
            listeners.push(tokio::spawn(rtmp.run(
                admission.clone(),
                sink.clone(),
                limits,
                stopped(stop.clone()),
            )));
        }
        if let Some(srt) = self.srt {
            let (admission, sink, stop) = (admission.clone(), sink.clone(), stop.clone());
            listeners.push(tokio::spawn(async move {
                if let Err(e) = srt.run(admission, sink, limits, stopped(stop)).await {
                    tracing::error!(error = %e, "the SRT ingest stopped");
                }
            }));
        }
        // the service runs until every listener has dropped its sender
        drop(sink);
        tokio::spawn(async move {
            let service = tokio::spawn(live.run(streams));
            for l in listeners {
                if let Err(e) = l.await {
                    tracing::error!(error = %e, "a live ingest listener panicked");
                }
            }
            if let Err(e) = service.await {
                tracing::error!(error = %e, "the live service panicked");
            }
        })
    }
}
