//! Command line and environment configuration (`PUFA_*`).

use crate::media::storage::StorageUrl;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// pufa — 精准普法: the legal-education month, sign-ups, lecture archive and legal health check.
#[derive(Debug, Parser)]
#[command(name = "pufa", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server.
    Serve(Box<ServeArgs>),
    /// Run background jobs in a process of its own, beside `pufa serve` on the same data and
    /// media directories: transcoding (recordings and live archives) and notification
    /// delivery. Takes the options of `serve` (`--listen` is not used); the number of each
    /// kind of worker is `--transcode-workers` and `--delivery-workers`. Start `serve` first:
    /// it applies the database migrations.
    Worker(Box<WorkerArgs>),
    /// Account administration.
    Admin {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Transcode a recording offline into adaptive HLS (OUTDIR/master.m3u8).
    Transcode {
        /// The recording (any format FFmpeg reads).
        input: PathBuf,
        /// Output folder; replaced only when the transcode is complete.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Rung heights, e.g. 1080,720,480,360 (never above the source).
        #[arg(long)]
        ladder: Option<String>,
    },
    /// Write one archive (tar) with a consistent copy of the database and the media to FILE
    /// (safe while the server runs).
    Backup {
        #[command(flatten)]
        storage: StorageArgs,
        /// Media root (uploads and published lecture versions).
        #[arg(long, env = "PUFA_MEDIA", default_value = "./media")]
        media: PathBuf,
        /// Destination archive; must not exist yet.
        file: PathBuf,
    },
    /// Restore an archive written by `pufa backup` into new or empty directories, checking
    /// every file against the archive's manifest.
    Restore {
        /// The archive.
        file: PathBuf,
        /// Data directory to restore the database into (new or empty).
        #[arg(long)]
        data: PathBuf,
        /// Media root to restore the media into (new or empty).
        #[arg(long)]
        media: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add an organizer or lawyer account; the password is read from standard input.
    AddUser {
        #[arg(long, value_enum)]
        role: StaffRole,
        /// Login name (letters, digits, '.', '_' or '-').
        name: String,
        /// Display name shown in the UI (defaults to the login name).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Give a staff account a new password, read from standard input (strength-checked); all
    /// its login sessions end. For a lost `admin` password: `pufa admin reset-password admin`.
    ResetPassword {
        /// Login name of the account.
        name: String,
    },
    /// List the organizer and lawyer accounts (and how many enterprises there are).
    ListUsers,
    /// Disable a staff account: it cannot log in and its sessions end at once.
    Disable {
        /// Login name of the account.
        name: String,
    },
    /// Re-enable a disabled staff account.
    Enable {
        /// Login name of the account.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StaffRole {
    Organizer,
    Lawyer,
}

#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Data directory (database).
    #[arg(long, env = "PUFA_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Database: `postgres://user@host/db` for PostgreSQL, `sqlite:PATH` for a SQLite file;
    /// without it, `pufa.db` in the data directory.
    #[arg(long, env = "PUFA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where media is kept (see `pufa serve --storage`); `pufa backup` refuses a bucket.
    #[arg(long = "storage", env = "PUFA_STORAGE", default_value = "local")]
    pub media_storage: StorageUrl,
}

/// How authorised media kept in object storage reaches the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeliveryArg {
    /// pufa reads the object and sends it (Range and conditional requests answered).
    Stream,
    /// Segments: a `302` to a presigned URL of the object, valid `--presign-secs`; playlists
    /// are still sent by pufa.
    Presigned,
}

/// [`DeliveryArg`] with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaDelivery {
    Stream,
    Presigned { ttl: std::time::Duration },
}

/// The kinds of background job a `pufa worker` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerKind {
    /// Transcoding uploads and archiving ended lives into replays.
    Transcode,
    /// Sending notification mail and SMS.
    Delivery,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Which jobs this worker runs, comma-separated.
    #[arg(
        long,
        env = "PUFA_WORKER_KINDS",
        value_enum,
        value_delimiter = ',',
        default_value = "transcode,delivery"
    )]
    pub kinds: Vec<WorkerKind>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PUFA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data directory (database).
    #[arg(long, env = "PUFA_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Database: `postgres://user@host/db` for PostgreSQL (several replicas and workers on one
    /// database), `sqlite:PATH` for a SQLite file; without it, `pufa.db` in the data directory.
    #[arg(long, env = "PUFA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Media root (uploads and HLS output); with `--storage s3://…` only the local scratch
    /// folder (transcode staging, downloads of uploads, live working folders).
    #[arg(long, env = "PUFA_MEDIA", default_value = "./media")]
    pub media: PathBuf,
    /// Where uploads and published versions (HLS, posters) are kept: `local` (the media
    /// root) or an S3-compatible bucket, `s3://bucket?endpoint=http://host:9000&region=…`
    /// with credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`. Replicas and workers
    /// on several machines share a bucket.
    #[arg(long, env = "PUFA_STORAGE", default_value = "local")]
    pub storage: StorageUrl,
    /// With `--storage s3://…`: stream authorised media through pufa, or redirect segment
    /// requests to presigned URLs of the bucket (or of a CDN signing the same way).
    #[arg(
        long,
        env = "PUFA_MEDIA_DELIVERY",
        value_enum,
        default_value = "stream"
    )]
    pub media_delivery: DeliveryArg,
    /// Copy every live's playlists and segments into the media storage as they appear, so
    /// that other replicas serve it (plain HLS; LL-HLS stays with the ingesting replica). On
    /// by default with `--storage s3://…`, off with the local media folder (one machine,
    /// one replica); turn it on for several replicas sharing a local folder.
    #[arg(long, env = "PUFA_LIVE_MIRROR", action = clap::ArgAction::Set)]
    pub live_mirror: Option<bool>,
    /// Seconds a presigned media URL stays valid.
    #[arg(long, env = "PUFA_PRESIGN_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(10..=86400))]
    pub presign_secs: u64,
    /// Load the demo month into an empty database and create the organizer `admin`.
    #[arg(long, env = "PUFA_DEMO")]
    pub demo: bool,
    /// Mark cookies `Secure`. On by default when the public URL is `https://`; this forces it
    /// for other set-ups.
    #[arg(long, env = "PUFA_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Login session lifetime in hours.
    #[arg(long, env = "PUFA_SESSION_HOURS", default_value_t = 72,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_hours: u32,
    /// The address users reach pufa at, e.g. `https://pufa.example.cn`: absolute links (calendar
    /// feeds, the personal calendar URL) are built from it, never from the request's `Host`; the
    /// `Origin` of form posts may name it (behind a proxy the `Host` pufa sees differs); an
    /// `https://` URL makes cookies `Secure`. Defaults to `http://` and the listen address.
    #[arg(long, env = "PUFA_PUBLIC_URL")]
    pub public_url: Option<PublicUrl>,
    /// Reverse proxies (addresses or CIDR blocks, comma-separated, e.g. `127.0.0.1,::1`) whose
    /// `X-Forwarded-For` is believed: the client address is its rightmost entry that is not one
    /// of them. Requests from other peers are taken at their TCP address.
    #[arg(long, env = "PUFA_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<crate::proxy::TrustedProxies>,
    /// Shorthand for `--trusted-proxies 127.0.0.0/8,::1` (a proxy on this machine).
    #[arg(long, env = "PUFA_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Largest recording upload in bytes.
    #[arg(long, env = "PUFA_MAX_UPLOAD_BYTES", default_value_t = 8 * 1024 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// Transcode jobs run at the same time (1 suits a small machine).
    #[arg(long, env = "PUFA_TRANSCODE_WORKERS", default_value_t = 1)]
    pub transcode_workers: usize,
    /// Seconds without a heartbeat after which a running job is taken to be orphaned.
    #[arg(long, env = "PUFA_JOB_STALE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(5..))]
    pub job_stale_secs: u64,
    /// Share of a recording an enterprise must watch to count as attended (0..1).
    #[arg(long, env = "PUFA_ATTENDANCE_SHARE", default_value_t = 0.6,
          value_parser = parse_share)]
    pub attendance_share: f64,
    /// Questionnaire TOML to use instead of the built-in one (raise its `version` on change).
    #[arg(long, env = "PUFA_QUESTIONNAIRE")]
    pub questionnaire: Option<PathBuf>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "PUFA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Connections served at the same time; further clients wait until one closes (keep it
    /// below the open-files limit, `ulimit -n`).
    #[arg(long, env = "PUFA_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = parse_positive)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection is kept); then the connection is closed. Bodies are not limited by it.
    #[arg(long, env = "PUFA_HEADER_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// RTMP ingest for live lectures (`rtmp://HOST:PORT/live/{stream key}`); `off` disables it.
    #[arg(long, env = "PUFA_RTMP_LISTEN", default_value = "127.0.0.1:1935")]
    pub rtmp_listen: Listen,
    /// SRT ingest for live lectures (listener mode, `streamid={stream key}`); `off` disables it.
    #[arg(long, env = "PUFA_SRT_LISTEN", default_value = "127.0.0.1:9710")]
    pub srt_listen: Listen,
    /// Seconds a live waits for its publisher to come back before it ends and its replay is
    /// made (a reconnect within it continues the same live).
    #[arg(long, env = "PUFA_LIVE_GRACE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub live_grace_secs: u64,
    /// Low-Latency HLS part length in milliseconds; 0 serves plain HLS only.
    #[arg(long, env = "PUFA_LIVE_PART_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub live_part_ms: u64,
    /// Host name lecturers publish to, in the ingest URLs organizers see (defaults to the
    /// public URL's host).
    #[arg(long, env = "PUFA_INGEST_HOST")]
    pub ingest_host: Option<String>,
    /// Bearer token that opens `/metrics` to clients other than loopback ones (Prometheus
    /// sends it as `Authorization: Bearer …`). Without it only loopback clients, not proxied,
    /// may read the metrics.
    #[arg(long, env = "PUFA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// `/readyz` fails when the media disk has fewer free megabytes than this.
    #[arg(long, env = "PUFA_MIN_FREE_DISK_MB", default_value_t = 512)]
    pub min_free_disk_mb: u64,
    /// Behind nginx: answer authorised media requests with `X-Accel-Redirect: PREFIX<path in
    /// the media folder>` and an empty body, and let nginx send the file from an `internal`
    /// location (deploy/nginx/pufa-accel.conf), e.g. `/_pufa_media/`. Off by default: pufa
    /// sends the files itself.
    #[arg(long, env = "PUFA_MEDIA_ACCEL_REDIRECT", value_parser = parse_accel_prefix)]
    pub media_accel_redirect: Option<String>,
    /// Megabytes of memory for recently served segments (immutable once written), so hot
    /// segments are not read from the disk on every request; 0 turns the cache off.
    #[arg(long, env = "PUFA_MEDIA_CACHE_MB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(0..=65536))]
    pub media_cache_mb: u64,
    /// Send media files with `sendfile(2)`, from the page cache straight to the socket, for
    /// plain `GET`/`HEAD` requests of media (`false`: hyper serves every request).
    #[arg(long, env = "PUFA_MEDIA_SENDFILE", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub media_sendfile: bool,
    /// The CJK TrueType font (file or collection) PDF documents are set in; subset into
    /// every PDF. Debian: `fonts-wqy-zenhei`.
    #[arg(long, env = "PUFA_PDF_FONT", default_value = crate::pdf::DEFAULT_FONT)]
    pub pdf_font: PathBuf,
    /// Seconds for which a login session authorised for a lecture version's segments is sent
    /// further segments of that version without a database check (logout and visibility
    /// changes end this at once); 0 checks every request against the database.
    #[arg(long, env = "PUFA_MEDIA_GRANT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub media_grant_secs: u64,
    /// SMTP server for notification mail: `smtp://host:port` (plain, a local relay),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://…` (TLS). Without it
    /// no mail is sent; the in-app inbox works regardless.
    #[arg(long, env = "PUFA_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of notification mail.
    #[arg(
        long,
        env = "PUFA_MAIL_FROM",
        default_value = "精准普法 <noreply@localhost>"
    )]
    pub mail_from: String,
    /// SMS gateway webhook: receives `{to, template, params}` as JSON, signed in
    /// `X-Pufa-Signature`. Without it no SMS is sent.
    #[arg(long, env = "PUFA_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// Shared secret of the SMS webhook signature (HMAC-SHA256).
    #[arg(long, env = "PUFA_SMS_WEBHOOK_SECRET", hide_env_values = true)]
    pub sms_webhook_secret: Option<String>,
    /// When reminders go out before a session starts, e.g. `24h,1h` or `2d,30m`.
    #[arg(long, env = "PUFA_REMINDER_OFFSETS", default_value = "24h,1h")]
    pub reminder_offsets: ReminderOffsets,
    /// Notification delivery workers in this process; 0 sends nothing from it (another
    /// process on the same database may).
    #[arg(long, env = "PUFA_DELIVERY_WORKERS", default_value_t = 2)]
    pub delivery_workers: usize,
    /// Seconds a delivery worker holds a claimed mail or SMS; a worker that died while sending
    /// loses it after this and the message is sent again (at least once).
    #[arg(long, env = "PUFA_DELIVERY_LEASE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub delivery_lease_secs: u64,
    /// 企问律答: working days (Mon–Fri) a question may wait for a lawyer's answer before it is
    /// flagged to the organizer.
    #[arg(long, env = "PUFA_QA_OVERDUE_DAYS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=60))]
    pub qa_overdue_days: u32,
    /// 回访: days an advisor has to follow up a high-risk check-up.
    #[arg(long, env = "PUFA_FOLLOWUP_DUE_DAYS", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub followup_due_days: u32,
    /// Advisor groups: most small or micro enterprises per group ("5+1").
    #[arg(long, env = "PUFA_ADVISOR_GROUP_ENTERPRISES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=50))]
    pub advisor_group_enterprises: u32,
    /// Advisor groups: most lawyers per group ("5+1" or "5+2").
    #[arg(long, env = "PUFA_ADVISOR_GROUP_LAWYERS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub advisor_group_lawyers: u32,
    /// Name of the site in the header, page titles and calendar names.
    #[arg(long, env = "PUFA_SITE_NAME", default_value = Branding::DEFAULT_SITE_NAME)]
    pub site_name: String,
    /// The chamber that runs the site, e.g. `××市工商业联合会` (header, footer, notices).
    #[arg(long, env = "PUFA_CHAMBER_NAME", default_value = Branding::DEFAULT_CHAMBER_NAME)]
    pub chamber_name: String,
    /// Footer line; by default it names the chamber and says the content is not legal advice.
    #[arg(long, env = "PUFA_FOOTER")]
    pub footer: Option<String>,
}

/// Who runs the site, as pages and calendars show it (a city puts its own name on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    pub site_name: String,
    pub chamber_name: String,
    pub footer: String,
}

impl Branding {
    pub const DEFAULT_SITE_NAME: &'static str = "精准普法";
    pub const DEFAULT_CHAMBER_NAME: &'static str = "市工商联";

    /// Branding from the flags; empty values fall back to the defaults. The demo's chamber
    /// name always says 示例, so screenshots of a demo are not taken for a real city's site.
    pub fn new(site_name: &str, chamber_name: &str, footer: Option<&str>, demo: bool) -> Branding {
        let site_name = Some(site_name.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(Self::DEFAULT_SITE_NAME)
            .to_string();
        let mut chamber_name = Some(chamber_name.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(Self::DEFAULT_CHAMBER_NAME)
            .to_string();
        if demo && !chamber_name.contains("示例") {
            chamber_name = format!("{chamber_name}（示例）");
        }
        let footer = footer
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{site_name} · 由{chamber_name}会同司法局、律师协会提供 · \
                     本站内容仅供普法学习，不构成对具体案件的法律意见"
                )
            });
        Branding {
            site_name,
            chamber_name,
            footer,
        }
    }
}

impl Default for Branding {
    fn default() -> Self {
        Branding::new(
            Self::DEFAULT_SITE_NAME,
            Self::DEFAULT_CHAMBER_NAME,
            None,
            false,
        )
    }
}

/// Reminder offsets before a session's start, largest first, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderOffsets(pub Vec<chrono::Duration>);

impl Default for ReminderOffsets {
    fn default() -> Self {
        ReminderOffsets(vec![
            chrono::Duration::hours(24),
            chrono::Duration::hours(1),
        ])
    }
}

impl std::str::FromStr for ReminderOffsets {
    type Err = String;

    /// `24h,1h`: numbers with `d`, `h` or `m`, separated by commas; empty or `off` for none.
    fn from_str(s: &str) -> Result<ReminderOffsets, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("off") {
            return Ok(ReminderOffsets(Vec::new()));
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let (number, unit) = part.split_at(part.len().saturating_sub(1));
            let n: i64 = number
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("“{part}” is not an offset like 24h, 1h or 30m"))?;
            let offset = match unit {
                "d" => chrono::Duration::days(n),
                "h" => chrono::Duration::hours(n),
                "m" => chrono::Duration::minutes(n),
                _ => return Err(format!("“{part}” is not an offset like 24h, 1h or 30m")),
            };
            if offset > chrono::Duration::days(30) {
                return Err(format!("“{part}” is more than 30 days"));
            }
            out.push(offset);
        }
        out.sort_by(|a, b| b.cmp(a));
        out.dedup();
        Ok(ReminderOffsets(out))
    }
}

/// Where notifications go besides the inbox.
#[derive(Clone, Debug, Default)]
pub struct NotifyConfig {
    /// `PUFA_SMTP_URL`; `None`: no mail.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// `PUFA_SMS_WEBHOOK_URL` and its secret; `None`: no SMS.
    pub sms_webhook_url: Option<String>,
    pub sms_webhook_secret: Option<String>,
    pub reminder_offsets: ReminderOffsets,
    /// Delivery workers in this process.
    pub delivery_workers: usize,
    /// How long a worker holds a claimed delivery (see `--delivery-lease-secs`).
    pub delivery_lease_secs: u64,
}

/// 企问律答, advisor groups and 回访 settings (issue 16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QaConfig {
    /// Working days before an unanswered question is flagged.
    pub overdue_working_days: u32,
    /// Days a 回访 follow-up is due after it opens.
    pub followup_due_days: u32,
    /// Most enterprises in one advisor group.
    pub group_max_enterprises: u32,
    /// Most lawyers in one advisor group.
    pub group_max_lawyers: u32,
}

impl Default for QaConfig {
    fn default() -> Self {
        QaConfig {
            overdue_working_days: 3,
            followup_due_days: 15,
            group_max_enterprises: 5,
            group_max_lawyers: 2,
        }
    }
}

/// A listen address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Listen, String> {
        if s.trim().eq_ignore_ascii_case("off") {
            return Ok(Listen(None));
        }
        s.trim()
            .parse()
            .map(|a| Listen(Some(a)))
            .map_err(|_| format!("“{s}” is neither an address like 127.0.0.1:1935 nor `off`"))
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// An `X-Accel-Redirect` prefix: an absolute URL path ending in `/`, of plain characters (it
/// is glued to media paths and must match an nginx `location`).
fn parse_accel_prefix(s: &str) -> Result<String, String> {
    let s = s.trim();
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if s.len() >= 3 && s.starts_with('/') && s.ends_with('/') && plain && !s.contains("..") {
        Ok(s.to_string())
    } else {
        Err(format!(
            "“{s}” is not a location prefix like /_pufa_media/ (starts and ends with /)"
        ))
    }
}

/// A count of at least 1.
fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("“{s}” is not a whole number of at least 1")),
    }
}

/// A share between 0.05 and 1 (a lower attendance threshold would count a glance as
/// attendance).
fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("“{s}” is not a number between 0.05 and 1"))?;
    if (0.05..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0.05..=1"))
    }
}

/// Runtime configuration of the server, built from [`ServeArgs`] or by tests.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// The database URL (`postgres://…`, `sqlite:…`); `None`: `pufa.db` in `data_dir`.
    pub database_url: Option<String>,
    pub media_dir: PathBuf,
    pub demo: bool,
    /// With `demo`: also load sample 企问律答 threads and two lawyer profiles. On for
    /// `pufa serve --demo`, off in `Config::new`, so tests that load the demo month do not
    /// find sample questions in their routing and overdue counts.
    pub demo_questions: bool,
    pub secure_cookies: bool,
    pub session_hours: u32,
    /// Proxies whose `X-Forwarded-For` names the client (empty: the header is ignored).
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// Where users reach the server; the base of every absolute link it hands out.
    pub public_url: PublicUrl,
    /// Largest request body accepted by ordinary (non-upload) routes.
    pub max_body_bytes: usize,
    /// Password for the demo organizer `admin`; generated and printed when absent.
    pub admin_password: Option<String>,
    /// Questionnaire file replacing the built-in one.
    pub questionnaire_path: Option<PathBuf>,
    /// Largest recording upload in bytes.
    pub max_upload_bytes: u64,
    /// Transcode jobs run at the same time; 0 runs no worker in this process.
    pub transcode_workers: usize,
    /// Seconds without a heartbeat after which a running job is re-queued.
    pub job_stale_secs: u64,
    /// Share of a recording to watch to count as attended.
    pub attendance_share: f64,
    /// Connections served at the same time; the accept loop waits for a free one beyond it.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and to start the next request on a
    /// kept-alive connection; an idle or half-sent connection is closed after it.
    pub header_timeout: std::time::Duration,
    /// RTMP ingest address; `None`: no RTMP.
    pub rtmp_listen: Option<SocketAddr>,
    /// SRT ingest address; `None`: no SRT.
    pub srt_listen: Option<SocketAddr>,
    /// How long a live waits for its publisher to come back.
    pub live_grace: std::time::Duration,
    /// LL-HLS part length; `None`: plain HLS.
    pub live_part: Option<std::time::Duration>,
    /// Host in the ingest URLs (defaults to the public URL's host).
    pub ingest_host: Option<String>,
    /// Bearer token for `/metrics` from non-loopback clients; `None`: loopback only.
    pub metrics_token: Option<String>,
    /// Free space on the media disk below which `/readyz` reports not ready.
    pub min_free_disk_bytes: u64,
    /// `X-Accel-Redirect` prefix for media served by a front nginx; `None`: pufa sends them.
    pub media_accel_redirect: Option<String>,
    /// Bytes of memory for recently served segments; 0: no cache.
    pub media_cache_bytes: u64,
    /// Media fetches answered with `sendfile` (src/server/direct.rs).
    pub media_sendfile: bool,
    /// The font of PDF documents (src/pdf.rs).
    pub pdf_font: PathBuf,
    /// How long a media grant lasts (src/server/grants.rs); `None`: no grants.
    pub media_grant: Option<std::time::Duration>,
    /// Where uploads and published versions live (`media_dir` is then only scratch space).
    pub storage: StorageUrl,
    /// How media in object storage is delivered.
    pub media_delivery: MediaDelivery,
    /// Mirror lives into the media storage for other replicas.
    pub live_mirror: bool,
    /// Mail, SMS and reminders.
    pub notify: NotifyConfig,
    /// 企问律答, advisor groups, 回访.
    pub qa: QaConfig,
    /// Site and chamber names, footer.
    pub branding: std::sync::Arc<Branding>,
    /// The clock every rule reads; tests put a manual clock here.
    pub clock: crate::clock::Clock,
    /// Counts the passwords this server checks (tests read it; see
    /// [`crate::app::login::Verifications`]).
    pub password_verifications: crate::app::login::Verifications,
}

impl Config {
    /// A configuration with defaults rooted in `data_dir` (used by tests and `serve`).
    pub fn new(data_dir: PathBuf, media_dir: PathBuf) -> Self {
        Config {
            data_dir,
            database_url: None,
            media_dir,
            demo: false,
            demo_questions: false,
            secure_cookies: false,
            session_hours: 72,
            trusted_proxies: Default::default(),
            public_url: PublicUrl::for_listen(SocketAddr::from(([127, 0, 0, 1], 8080))),
            max_body_bytes: 1024 * 1024,
            admin_password: None,
            questionnaire_path: None,
            max_upload_bytes: 8 * 1024 * 1024 * 1024,
            transcode_workers: 1,
            job_stale_secs: 60,
            attendance_share: 0.6,
            max_connections: 10_000,
            header_timeout: std::time::Duration::from_secs(30),
            rtmp_listen: None,
            srt_listen: None,
            live_grace: std::time::Duration::from_secs(30),
            live_part: Some(std::time::Duration::from_millis(500)),
            ingest_host: None,
            metrics_token: None,
            min_free_disk_bytes: 512 * 1024 * 1024,
            media_accel_redirect: None,
            media_cache_bytes: 64 * 1024 * 1024,
            media_sendfile: true,
            pdf_font: PathBuf::from(crate::pdf::DEFAULT_FONT),
            media_grant: Some(std::time::Duration::from_secs(30)),
            storage: StorageUrl::Local,
            media_delivery: MediaDelivery::Stream,
            live_mirror: false,
            notify: NotifyConfig {
                mail_from: "精准普法 <noreply@localhost>".into(),
                delivery_workers: 2,
                delivery_lease_secs: 60,
                ..Default::default()
            },
            qa: QaConfig::default(),
            clock: crate::clock::Clock::system(),
            password_verifications: Default::default(),
            branding: Default::default(),
        }
    }

    pub fn from_args(args: &ServeArgs) -> Self {
        let mut config = Config::new(args.data.clone(), args.media.clone());
        config.database_url = args.database_url.clone();
        config.demo = args.demo;
        config.demo_questions = args.demo;
        config.session_hours = args.session_hours;
        config.trusted_proxies = args.trusted_proxies.clone().unwrap_or_default();
        if args.trust_forwarded_for {
            config
                .trusted_proxies
                .extend(&crate::proxy::TrustedProxies::loopback());
        }
        config.public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| PublicUrl::for_listen(args.listen));
        // a browser drops a Secure cookie on plain http, so only an https public URL implies it
        config.secure_cookies = args.secure_cookies || config.public_url.is_https();
        config.questionnaire_path = args.questionnaire.clone();
        config.max_upload_bytes = args.max_upload_bytes;
        config.transcode_workers = args.transcode_workers;
        config.job_stale_secs = args.job_stale_secs;
        config.attendance_share = args.attendance_share;
        config.max_connections = args.max_connections;
        config.header_timeout = std::time::Duration::from_secs(args.header_timeout_secs);
        config.rtmp_listen = args.rtmp_listen.0;
        config.srt_listen = args.srt_listen.0;
        config.live_grace = std::time::Duration::from_secs(args.live_grace_secs);
        config.live_part =
            (args.live_part_ms > 0).then(|| std::time::Duration::from_millis(args.live_part_ms));
        config.ingest_host = args.ingest_host.clone();
        config.metrics_token = args.metrics_token.clone().filter(|t| !t.is_empty());
        config.min_free_disk_bytes = args.min_free_disk_mb.saturating_mul(1024 * 1024);
        config.media_accel_redirect = args.media_accel_redirect.clone();
        config.media_cache_bytes = args.media_cache_mb.saturating_mul(1024 * 1024);
        config.media_sendfile = args.media_sendfile;
        config.pdf_font = args.pdf_font.clone();
        config.media_grant = (args.media_grant_secs > 0)
            .then(|| std::time::Duration::from_secs(args.media_grant_secs));
        config.storage = args.storage.clone();
        config.live_mirror = args
            .live_mirror
            .unwrap_or(matches!(config.storage, StorageUrl::S3(_)));
        config.media_delivery = match args.media_delivery {
            DeliveryArg::Stream => MediaDelivery::Stream,
            DeliveryArg::Presigned => MediaDelivery::Presigned {
                ttl: std::time::Duration::from_secs(args.presign_secs),
            },
        };
        config.notify = NotifyConfig {
            smtp_url: args.smtp_url.clone().filter(|u| !u.is_empty()),
            mail_from: args.mail_from.clone(),
            sms_webhook_url: args.sms_webhook_url.clone().filter(|u| !u.is_empty()),
            sms_webhook_secret: args.sms_webhook_secret.clone().filter(|u| !u.is_empty()),
            reminder_offsets: args.reminder_offsets.clone(),
            delivery_workers: args.delivery_workers,
            delivery_lease_secs: args.delivery_lease_secs,
        };
        config.qa = QaConfig {
            overdue_working_days: args.qa_overdue_days,
            followup_due_days: args.followup_due_days,
            group_max_enterprises: args.advisor_group_enterprises,
            group_max_lawyers: args.advisor_group_lawyers,
        };
        config.branding = std::sync::Arc::new(Branding::new(
            &args.site_name,
            &args.chamber_name,
            args.footer.as_deref(),
            args.demo,
        ));
        config.admin_password = std::env::var("PUFA_ADMIN_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty());
        config
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "(set)"))
            .field("media_dir", &self.media_dir)
            .field("demo", &self.demo)
            .field("secure_cookies", &self.secure_cookies)
            .field("session_hours", &self.session_hours)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url.as_str())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("questionnaire_path", &self.questionnaire_path)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("transcode_workers", &self.transcode_workers)
            .field("job_stale_secs", &self.job_stale_secs)
            .field("attendance_share", &self.attendance_share)
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("min_free_disk_bytes", &self.min_free_disk_bytes)
            .field("media_accel_redirect", &self.media_accel_redirect)
            .field("media_cache_bytes", &self.media_cache_bytes)
            .field("media_sendfile", &self.media_sendfile)
            .field("pdf_font", &self.pdf_font)
            .field("media_grant", &self.media_grant)
            .field("storage", &self.storage)
            .field("media_delivery", &self.media_delivery)
            .field("live_mirror", &self.live_mirror)
            .field(
                "smtp",
                &self.notify.smtp_url.as_ref().map(|_| "<configured>"),
            )
            .field(
                "sms_webhook",
                &self.notify.sms_webhook_url.as_ref().map(|_| "<configured>"),
            )
            .field("reminder_offsets", &self.notify.reminder_offsets)
            .field("delivery_workers", &self.notify.delivery_workers)
            .field("qa", &self.qa)
            .field("branding", &self.branding)
            .finish()
    }
}

/// The address users reach pufa at: `http` or `https`, a host and an optional port, nothing
/// after it (no path, query, fragment or user name). Kept without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// The host name (or address) of the URL, without scheme and port.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        if let Some(v6) = authority.strip_prefix('[') {
            return v6.split(']').next().unwrap_or(v6);
        }
        authority.split(':').next().unwrap_or(authority)
    }

    /// `http://` and `addr` (the default when no public URL is configured).
    pub fn for_listen(addr: SocketAddr) -> PublicUrl {
        PublicUrl(format!("http://{addr}"))
    }

    /// True for an `https://` URL.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The URL, e.g. `https://pufa.example.cn`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute URL of `path` (which starts with `/`) on this site.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<PublicUrl, String> {
        let refuse = |why: &str| {
            format!(
                "public URL {s:?} {why}: give the scheme and host users open pufa at, \
                 e.g. https://pufa.example.cn or http://192.0.2.10:8080"
            )
        };
        let lower = s.to_ascii_lowercase();
        let (scheme, rest) = if let Some(rest) = lower.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = lower.strip_prefix("http://") {
            ("http", rest)
        } else {
            return Err(refuse("must start with http:// or https://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '\\']) {
            return Err(refuse("may not have a path, query or fragment"));
        }
        if authority.contains('@') {
            return Err(refuse("may not hold a user name or password"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (addr, after) = v6
                    .split_once(']')
                    .ok_or_else(|| refuse("has an unclosed [ in its host"))?;
                if addr.parse::<std::net::Ipv6Addr>().is_err() {
                    return Err(refuse("has an invalid IPv6 address"));
                }
                match after {
                    "" => (authority, None),
                    _ => match after.strip_prefix(':') {
                        Some(port) => (&authority[..addr.len() + 2], Some(port)),
                        None => return Err(refuse("has characters after its IPv6 address")),
                    },
                }
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let host_ok = host.starts_with('[')
            || (!host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !host.starts_with(['.', '-'])
                && !host.ends_with('-'));
        if !host_ok {
            return Err(refuse(
                "needs a host of letters, digits, '.' and '-' (an international name in its xn-- form)",
            ));
        }
        if let Some(port) = port {
            if port.parse::<u16>().map_or(true, |p| p == 0) || port.starts_with('+') {
                return Err(refuse("has an invalid port"));
            }
        }
        Ok(PublicUrl(format!("{scheme}://{authority}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn an_https_public_url_makes_cookies_secure() {
        let args = serve_args(&["--public-url", "https://pufa.example.cn"]).unwrap();
        assert!(Config::from_args(&args).secure_cookies);
        let args = serve_args(&["--public-url", "http://192.0.2.10:8080"]).unwrap();
        assert!(!Config::from_args(&args).secure_cookies);
        let args = serve_args(&["--secure-cookies"]).unwrap();
        assert!(
            Config::from_args(&args).secure_cookies,
            "the flag still forces it"
        );
    }

    #[test]
    fn trusted_proxies_come_from_the_list_or_the_old_flag() {
        let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let lan: std::net::IpAddr = "10.0.3.4".parse().unwrap();
        let none = Config::from_args(&serve_args(&[]).unwrap());
        assert!(none.trusted_proxies.is_empty());
        let old = Config::from_args(&serve_args(&["--trust-forwarded-for"]).unwrap());
        assert!(old.trusted_proxies.trusts(loopback) && !old.trusted_proxies.trusts(lan));
        let listed =
            Config::from_args(&serve_args(&["--trusted-proxies", "10.0.0.0/8,::1"]).unwrap());
        assert!(listed.trusted_proxies.trusts(lan) && !listed.trusted_proxies.trusts(loopback));
        assert!(serve_args(&["--trusted-proxies", "10.0.0.0/40"]).is_err());
    }

    fn serve_args(extra: &[&str]) -> Result<ServeArgs, clap::Error> {
        #[derive(Parser)]
        struct Probe {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let mut argv = vec!["pufa"];
        argv.extend_from_slice(extra);
        Probe::try_parse_from(argv).map(|p| p.serve)
    }

    /// The accel prefix must be a plain location prefix: it is glued to media paths in a
    /// header nginx follows.
    #[test]
    fn media_flags_are_checked() {
        let off = Config::from_args(&serve_args(&[]).expect("defaults"));
        assert_eq!(off.media_accel_redirect, None);
        assert_eq!(off.media_cache_bytes, 64 * 1024 * 1024);
        assert!(off.media_sendfile);
        assert_eq!(off.media_grant, Some(std::time::Duration::from_secs(30)));
        let on = Config::from_args(
            &serve_args(&[
                "--media-accel-redirect",
                "/_pufa_media/",
                "--media-cache-mb",
                "0",
                "--media-sendfile",
                "false",
                "--media-grant-secs",
                "0",
            ])
            .expect("ok"),
        );
        assert_eq!(on.media_accel_redirect.as_deref(), Some("/_pufa_media/"));
        assert_eq!(on.media_cache_bytes, 0);
        assert!(!on.media_sendfile);
        assert_eq!(on.media_grant, None);
        for bad in [
            "_pufa_media/",
            "/_pufa_media",
            "/",
            "/a/../b/",
            "/a b/",
            "/x?y/",
        ] {
            assert!(
                serve_args(&["--media-accel-redirect", bad]).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    /// Out-of-range values used to be clamped silently (an attendance share of 5 became 1);
    /// now the server refuses to start and says which flag is wrong.
    #[test]
    fn out_of_range_settings_are_refused_not_clamped() {
        for bad in [
            &["--attendance-share", "5"][..],
            &["--attendance-share", "0"],
            &["--session-hours", "0"],
            &["--job-stale-secs", "1"],
            &["--max-connections", "0"],
            &["--header-timeout-secs", "0"],
            &["--log-format", "xml"],
        ] {
            assert!(serve_args(bad).is_err(), "{bad:?} was accepted");
        }
        let ok = serve_args(&["--attendance-share", "0.8", "--log-format", "json"]).expect("ok");
        assert_eq!(ok.attendance_share, 0.8);
        assert_eq!(ok.log_format, LogFormat::Json);
    }

    /// `restore` names both targets explicitly (no `PUFA_*` defaults that could point at the
    /// live server's folders); `backup` takes the server's own.
    #[test]
    fn restore_needs_both_targets_and_backup_defaults_to_the_servers() {
        assert!(Cli::try_parse_from(["pufa", "restore", "b.tar", "--data", "d"]).is_err());
        let cli = Cli::try_parse_from(["pufa", "restore", "b.tar", "--data", "d", "--media", "m"])
            .expect("restore");
        assert!(matches!(cli.command, Command::Restore { .. }));
        let cli = Cli::try_parse_from(["pufa", "backup", "b.tar"]).expect("backup");
        match cli.command {
            Command::Backup { media, file, .. } => {
                assert_eq!(file, PathBuf::from("b.tar"));
                if std::env::var_os("PUFA_MEDIA").is_none() {
                    assert_eq!(media, PathBuf::from("./media"));
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn public_urls_are_origins() {
        for (given, kept) in [
            ("https://pufa.example.cn", "https://pufa.example.cn"),
            ("https://pufa.example.cn/", "https://pufa.example.cn"),
            ("HTTPS://Pufa.Example.CN", "https://pufa.example.cn"),
            ("http://192.0.2.10:8080", "http://192.0.2.10:8080"),
            ("http://localhost:8080/", "http://localhost:8080"),
            ("http://[2001:db8::1]:8080", "http://[2001:db8::1]:8080"),
            ("http://[::1]", "http://[::1]"),
        ] {
            let url: PublicUrl = given.parse().unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(url.as_str(), kept);
        }
        let url: PublicUrl = "https://pufa.example.cn".parse().expect("valid");
        assert_eq!(
            url.join("/calendar/t.ics"),
            "https://pufa.example.cn/calendar/t.ics"
        );
        assert_eq!(
            PublicUrl::for_listen("127.0.0.1:8080".parse().expect("addr")).as_str(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused_with_the_reason() {
        for (bad, why) in [
            ("pufa.example.cn", "http:// or https://"),
            ("ftp://pufa.example.cn", "http:// or https://"),
            ("https://", "host"),
            ("https://pufa.example.cn/app", "path"),
            ("https://pufa.example.cn/?x=1", "path"),
            ("https://pufa.example.cn#top", "path"),
            ("https://pufa.example.cn\\evil", "path"),
            ("https://user@pufa.example.cn", "user name"),
            ("https://pufa .example.cn", "host"),
            ("https://pufa.example.cn\r\nx", "host"),
            ("https://普法.cn", "host"),
            ("https://-pufa.cn", "host"),
            ("https://pufa.example.cn:", "port"),
            ("https://pufa.example.cn:0", "port"),
            ("https://pufa.example.cn:70000", "port"),
            ("https://pufa.example.cn:80:80", "port"),
            ("http://[::1", "unclosed"),
            ("http://[zz::1]", "IPv6"),
            ("http://[::1]x", "after"),
        ] {
            let e = bad.parse::<PublicUrl>().expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("e.g. https://"), "{bad}: {e}");
        }
    }

    #[test]
    fn branding_comes_from_flags_and_the_demo_says_so() {
        let plain = Config::from_args(&serve_args(&[]).unwrap());
        assert_eq!(*plain.branding, Branding::default());
        assert!(plain.branding.footer.contains("市工商联"));
        let city = Config::from_args(
            &serve_args(&[
                "--site-name",
                "榕城普法",
                "--chamber-name",
                "福州市工商业联合会",
                "--footer",
                "福州市工商联 版权所有",
            ])
            .unwrap(),
        );
        assert_eq!(city.branding.site_name, "榕城普法");
        assert_eq!(city.branding.chamber_name, "福州市工商业联合会");
        assert_eq!(city.branding.footer, "福州市工商联 版权所有");
        let demo = Config::from_args(&serve_args(&["--demo"]).unwrap());
        assert!(demo.branding.chamber_name.contains("示例"));
    }

    #[test]
    fn debug_redacts_admin_password() {
        let mut c = Config::new("d".into(), "m".into());
        c.admin_password = Some("hunter2-secret".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2-secret"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn reminder_offsets_parse_sort_and_refuse_nonsense() {
        let o: ReminderOffsets = "1h, 24h,1h,30m".parse().unwrap();
        assert_eq!(
            o.0,
            [
                chrono::Duration::hours(24),
                chrono::Duration::hours(1),
                chrono::Duration::minutes(30)
            ]
        );
        assert_eq!("off".parse::<ReminderOffsets>().unwrap().0, []);
        assert_eq!(ReminderOffsets::default(), "24h,1h".parse().unwrap());
        for bad in ["1x", "h", "-1h", "0m", "40d", "24h,,1h"] {
            assert!(bad.parse::<ReminderOffsets>().is_err(), "{bad}");
        }
    }
}
