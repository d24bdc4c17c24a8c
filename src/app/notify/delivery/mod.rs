//! The delivery workers: claim due deliveries, send them by e-mail ([`smtp`]) or SMS
//! ([`sms`]), record every attempt, back off and give up (issue 12).
//!
//! `serve` starts `delivery_workers` of them. Each loops: queue again the rows of workers that
//! died (their lease ran out), claim the oldest due row, send it, record the outcome
//! (`crate::db::deliveries`). When nothing is due it waits for [`Db::outbox_signal`] (a
//! transaction of this process stored notifications) or one second (another process did, or a
//! backoff ran out). "Now" comes from the [`Clock`], so tests drive retries with a manual clock
//! and [`run_due_once`] instead of sleeping.
//!
//! Delivery is at least once: a worker killed after the mail left but before it recorded so
//! sends it again after its lease; the mail's `Message-ID` is the notification's, so the
//! reader's client threads the two copies as one.

pub mod sms;
pub mod smtp;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::deliveries::{Claim, ClaimedDelivery, Outcome};
use crate::db::Db;
use crate::notify::Channel;
use chrono::Duration;
use std::sync::Arc;
use tokio::sync::watch;

/// The external channels this server has: a mailer when `PUFA_SMTP_URL` is set, an SMS
/// gateway when `PUFA_SMS_WEBHOOK_URL` is. Built once at start-up and shared by the workers
/// and the contact verification.
pub struct Channels {
    pub mail: Option<smtp::Mailer>,
    pub sms: Option<sms::SmsGateway>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the URLs: they may carry credentials
        f.debug_struct("Channels")
            .field("mail", &self.mail.is_some())
            .field("sms", &self.sms.is_some())
            .finish()
    }
}

impl Channels {
    /// No external channel: the inbox alone.
    pub fn none() -> Channels {
        Channels {
            mail: None,
            sms: None,
        }
    }

    /// The channels `config` names. A malformed SMTP URL or sender, or a webhook without its
    /// secret, is an error: the server should not start and silently send nothing. Call it
    /// inside a Tokio runtime: the SMTP connection pool runs as a task.
    pub fn from_config(config: &Config) -> anyhow::Result<Channels> {
        let n = &config.notify;
        let mail = match &n.smtp_url {
            Some(url) => Some(smtp::Mailer::new(url, &n.mail_from, &config.public_url)?),
            None => None,
        };
        let sms = match (&n.sms_webhook_url, &n.sms_webhook_secret) {
            (Some(url), Some(secret)) => Some(sms::SmsGateway::new(url, secret)?),
            (Some(_), None) => anyhow::bail!(
                "PUFA_SMS_WEBHOOK_URL needs PUFA_SMS_WEBHOOK_SECRET (the webhook body is signed)"
            ),
            (None, _) => None,
        };
        Ok(Channels { mail, sms })
    }

    /// The channels that can send.
    pub fn configured(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.mail.is_some() {
            out.push(Channel::Email);
        }
        if self.sms.is_some() {
            out.push(Channel::Sms);
        }
        out
    }

    pub fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.mail.is_some(),
            Channel::Sms => self.sms.is_some(),
        }
    }

    /// Send one claimed delivery over its channel.
    pub async fn send(&self, d: &ClaimedDelivery, signing_secret: &str) -> Outcome {
        match d.channel {
            Channel::Email => match &self.mail {
                Some(m) => m.send_notification(d, signing_secret).await,
                None => Outcome::Retry(crate::db::deliveries::SKIP_NO_EMAIL.into()),
            },
            Channel::Sms => match &self.sms {
                Some(s) => s.send(&d.address, &d.sms_template, &d.sms_params).await,
                None => Outcome::Retry(crate::db::deliveries::SKIP_NO_SMS.into()),
            },
        }
    }
}

/// How long a claimed row stays a worker's before another may take it over. Sends time out
/// well before it (SMS 10 s, SMTP 20 s), so only a dead worker loses its lease.
pub fn lease(config: &Config) -> Duration {
    let secs = i64::try_from(config.notify.delivery_lease_secs.max(5)).unwrap_or(60);
    Duration::seconds(secs)
}

/// What one pass over the due queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    /// Failed attempts (queued again or given up).
    pub failed: usize,
    pub skipped: usize,
}

/// One delivery worker.
pub struct DeliveryWorker {
    db: Db,
    clock: Clock,
    channels: Arc<Channels>,
    name: String,
    lease: Duration,
}

impl DeliveryWorker {
    /// Worker number `n` of this process; its name (in `deliveries.worker`) is unique across
    /// processes and restarts.
    pub fn new(db: Db, clock: Clock, channels: Arc<Channels>, lease: Duration, n: usize) -> Self {
        let name = format!(
            "pid{}-{}-{n}",
            std::process::id(),
            &crate::accounts::random_token()[..6]
        );
        DeliveryWorker {
            db,
            clock,
            channels,
            name,
            lease,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Claim one due delivery and send it. `None` when nothing was due.
    pub async fn step(&self, secret: &str, drained: &mut Drained) -> anyhow::Result<bool> {
        let now = self.clock.now();
        let configured = self.channels.configured();
        match self
            .db
            .claim_delivery(&self.name, now, self.lease, &configured)
            .await?
        {
            Claim::Idle => Ok(false),
            Claim::Skipped { id, reason } => {
                tracing::info!(delivery = id, reason = %reason, "delivery skipped");
                drained.skipped += 1;
                Ok(true)
            }
            Claim::Claimed(d) => {
                let outcome = self.channels.send(&d, secret).await;
                match &outcome {
                    Outcome::Sent => drained.sent += 1,
                    Outcome::Retry(e) | Outcome::Permanent(e) => {
                        drained.failed += 1;
                        tracing::warn!(
                            delivery = d.id,
                            channel = d.channel.as_str(),
                            attempt = d.attempt,
                            error = %e,
                            "delivery attempt failed"
                        );
                    }
                }
                let mine = self
                    .db
                    .finish_delivery(&d, &self.name, &outcome, self.clock.now())
                    .await?;
                if !mine {
                    tracing::warn!(
                        delivery = d.id,
                        "delivery was taken over after its lease ran out"
                    );
                }
                Ok(true)
            }
        }
    }

    /// Recover dead workers' rows, then send until nothing is due (as of the clock).
    pub async fn drain(&self) -> anyhow::Result<Drained> {
        let secret = self.db.signing_secret().await?;
        self.db.recover_stale_deliveries(self.clock.now()).await?;
        let mut drained = Drained::default();
        while self.step(&secret, &mut drained).await? {}
        Ok(drained)
    }

    /// Loop until `stop` changes or its sender is dropped. A send under way then gets five
    /// seconds to finish; otherwise its row is left to the lease (and sent again later).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let signal = self.db.outbox_signal();
        let mut secret: Option<String> = None;
        let mut last_recovery: Option<std::time::Instant> = None;
        let mut last_wake: Option<std::time::Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            // registered before the work, so a wake during it is not lost
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let busy = {
                let work = self.pass(&mut secret, &mut last_recovery);
                tokio::pin!(work);
                tokio::select! {
                    r = &mut work => r,
                    // told to stop, or the sender is gone (`serve` returned early)
                    _ = stop.changed() => {
                        let grace = std::time::Duration::from_secs(5);
                        if let Ok(Err(e)) = tokio::time::timeout(grace, &mut work).await {
                            tracing::warn!(worker = %self.name, error = ?e, "delivery worker");
                        }
                        return;
                    }
                }
            };
            let busy = match busy {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(worker = %self.name, error = ?e, "delivery worker");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                // a burst of commits (sign-ups at 2,000/s) wakes the workers thousands of
                // times a second: a worker looks at the queue at most once per
                // WAKE_DEBOUNCE for wakes, so one look serves the burst, while a lone
                // notification is still sent at once
                _ = &mut notified => {
                    if let Some(wait) = last_wake.and_then(|t| WAKE_DEBOUNCE.checked_sub(t.elapsed())) {
                        tokio::time::sleep(wait).await;
                    }
                    last_wake = Some(std::time::Instant::now());
                }
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// One turn of [`DeliveryWorker::run`]: stale leases (at most once a second), then one
    /// delivery. True when a row was handled.
    async fn pass(
        &self,
        secret: &mut Option<String>,
        last_recovery: &mut Option<std::time::Instant>,
    ) -> anyhow::Result<bool> {
        let secret = match secret {
            Some(s) => s.clone(),
            None => {
                let s = self.db.signing_secret().await?;
                *secret = Some(s.clone());
                s
            }
        };
        if last_recovery.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
            *last_recovery = Some(std::time::Instant::now());
            let n = self.db.recover_stale_deliveries(self.clock.now()).await?;
            if n > 0 {
                tracing::warn!(
                    recovered = n,
                    "queued again the deliveries of a worker that stopped while sending"
                );
            }
        }
        let mut drained = Drained::default();
        self.step(&secret, &mut drained).await
    }
}

/// The shortest time between two looks at the queue that wakes cause. Without it every commit
/// that stores a notification costs each worker a query, which took a third more server CPU
/// per sign-up in the sign-up benchmark (BENCHMARKS.md, "Notification delivery").
const WAKE_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(20);

/// Send everything due now (as the clock says) in this task, after recovering dead workers'
/// rows: the deterministic drain tests and benchmarks use instead of the background workers.
pub async fn run_due_once(
    db: &Db,
    clock: &Clock,
    channels: &Arc<Channels>,
) -> anyhow::Result<Drained> {
    DeliveryWorker::new(
        db.clone(),
        clock.clone(),
        channels.clone(),
        Duration::seconds(60),
        0,
    )
    .drain()
    .await
}

/// Start `config.notify.delivery_workers` workers; they stop when `stop` turns true.
pub fn start(
    db: &Db,
    config: &Config,
    channels: &Arc<Channels>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let lease = lease(config);
    // whether mail and SMS are on (never their addresses: the SMTP URL may hold a password)
    tracing::info!(
        mail = channels.mail.is_some(),
        sms = channels.sms.is_some(),
        workers = config.notify.delivery_workers,
        "notification delivery"
    );
    (0..config.notify.delivery_workers)
        .map(|n| {
            let worker =
                DeliveryWorker::new(db.clone(), config.clock.clone(), channels.clone(), lease, n);
            tokio::spawn(worker.run(stop.clone()))
        })
        .collect()
}

/// `text` with the five HTML-special characters escaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
