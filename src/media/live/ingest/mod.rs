//! Live ingest: the RTMP and SRT listeners a lecturer publishes to.
//!
//! The walk of one publisher (docs/design/live.md §1–3):
//! 1. [`rtmp::serve`] / [`srt::serve`] accept a connection and read the stream key
//!    (`rtmp://host/live/{key}`, `srt://host:port?streamid={key}`), before any media.
//! 2. They ask the [`Admission`] (`admit(key, protocol, remote)`). A refusal is sent to the
//!    publisher (RTMP: `NetStream.Publish.BadName` with the Chinese message and the English
//!    log text, which ffmpeg prints as `Server error: …`; SRT: reject code `Forbidden`, or
//!    `Conflict` for [`Refusal::AlreadyLive`]) and logged once, with a short hash of the key —
//!    never the key — and the session id if known.
//! 3. On admission, an [`IncomingStream`] goes to the `sink` channel: a blocking `Read` of the
//!    publisher's bytes as an FLV (RTMP, re-serialised) or MPEG-TS (SRT, as received) stream,
//!    with the arrival time of every chunk. The [`Ticket`] (the live claim on the session) is
//!    held by the connection until the publisher disconnects; the reader then returns EOF.
//!
//! Nothing here knows the database: the use case implements [`Admission`]
//! ([`admission::MemoryAdmission`] is the in-memory one the tests use).

pub mod admission;
pub mod flv;
pub mod rtmp;
pub mod srt;
pub mod stream;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono_tz::Tz;

pub use admission::{decide, new_stream_key, Refusal, SessionFacts};
pub use stream::{Arrivals, ChannelReader, IncomingStream, StreamFormat};

/// How the publisher connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Rtmp,
    Srt,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::Srt => "srt",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A publish attempt, as the ingest sees it before any media.
#[derive(Clone)]
pub struct PublishRequest {
    /// The secret stream key presented. Never log it: use [`key_label`].
    pub key: String,
    pub protocol: Protocol,
    pub remote: SocketAddr,
}

impl fmt::Debug for PublishRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishRequest")
            .field("key", &key_label(&self.key))
            .field("protocol", &self.protocol)
            .field("remote", &self.remote)
            .finish()
    }
}

/// An admitted publisher: which session it publishes, and its claim on that session (a
/// second publisher is refused while the claim lives). The ingest holds it until the
/// publisher disconnects.
#[derive(Debug)]
pub struct Ticket {
    pub session_id: i64,
    pub claim: LiveClaim,
}

/// A refused publisher: the reason, the session if the key named one (for the log and the
/// organizer's refusal log), and the zone for the times in the Chinese message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub reason: Refusal,
    pub session_id: Option<i64>,
    pub tz: Tz,
}

impl Refused {
    /// A refusal that names no session (times shown in the default zone).
    pub fn bare(reason: Refusal) -> Self {
        Refused {
            reason,
            session_id: None,
            tz: crate::schedule::DEFAULT_TZ,
        }
    }

    /// What the publisher is sent: the Chinese message, then the English text in brackets.
    pub fn publisher_text(&self) -> String {
        format!(
            "{} ({})",
            self.reason.message_zh(self.tz),
            self.reason.log_text()
        )
    }
}

/// The future [`Admission::admit`] returns (boxed, so the trait is object-safe).
pub type AdmissionFuture<'a> = Pin<Box<dyn Future<Output = Result<Ticket, Refused>> + Send + 'a>>;

/// Decides whether a publish attempt may go live. Called once per attempt, before any media
/// is accepted; the implementation records what it needs (e.g. the organizer's refusal log).
/// An implementation that cannot decide (database down) refuses with [`Refusal::Unavailable`].
pub trait Admission: Send + Sync + 'static {
    fn admit<'a>(&'a self, request: &'a PublishRequest) -> AdmissionFuture<'a>;
}

/// The sessions with a live publisher in this process. [`LiveRegistry::try_claim`] is the
/// atomic "not live yet → live"; dropping the [`LiveClaim`] ends it.
#[derive(Debug, Clone, Default)]
pub struct LiveRegistry(Arc<Mutex<HashSet<i64>>>);

impl LiveRegistry {
    /// Claim `session_id`, or `None` if a publisher is already live on it.
    pub fn try_claim(&self, session_id: i64) -> Option<LiveClaim> {
        self.lock().insert(session_id).then(|| LiveClaim {
            registry: self.clone(),
            session_id,
        })
    }

    pub fn is_live(&self, session_id: i64) -> bool {
        self.lock().contains(&session_id)
    }

    /// The sessions live now, sorted.
    pub fn live_sessions(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.lock().iter().copied().collect();
        v.sort_unstable();
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A live publisher's hold on its session; released on drop.
#[derive(Debug)]
pub struct LiveClaim {
    registry: LiveRegistry,
    session_id: i64,
}

impl LiveClaim {
    pub fn session_id(&self) -> i64 {
        self.session_id
    }
}

impl Drop for LiveClaim {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.session_id);
    }
}

/// Limits both listeners apply.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Connections open at once (publishing or not); more are closed at once.
    pub max_connections: usize,
    /// From TCP accept to the `publish` command (RTMP); slow or silent clients are dropped.
    pub publish_deadline: Duration,
    /// A publishing connection that sends nothing for this long is closed (RTMP; SRT has its
    /// own peer idle timeout).
    pub idle_timeout: Duration,
    /// Chunks buffered between the socket and the reader before the socket stops being read
    /// (backpressure). RTMP chunks are one audio/video message, SRT chunks 1316 bytes.
    pub channel_chunks: usize,
    /// SRT receive latency.
    pub srt_latency: Duration,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_connections: 64,
            publish_deadline: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(30),
            channel_chunks: 1024,
            srt_latency: Duration::from_millis(120),
        }
    }
}

/// A short, stable label for a stream key in logs: the first 8 hex digits of its SHA-256.
/// Enough to tell attempts with the same key apart; useless for guessing the key.
pub fn key_label(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(key.as_bytes());
    format!("key#{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
}

/// Log one refusal (one line, no key).
fn log_refusal(request: &PublishRequest, refused: &Refused) {
    tracing::warn!(
        protocol = %request.protocol,
        remote = %request.remote,
        key = %key_label(&request.key),
        session_id = ?refused.session_id,
        reason = refused.reason.code(),
        "live publish refused: {}",
        refused.reason.log_text()
    );
}
