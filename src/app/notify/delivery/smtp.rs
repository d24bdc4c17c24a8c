//! Notification mail over SMTP (`lettre`, rustls with `ring`).
//!
//! `PUFA_SMTP_URL` is `smtp://host:port` (plain, for a relay on the same machine),
//! `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465` (TLS).
//! Every notification mail is multipart (plain text and HTML, both Chinese), carries absolute
//! links built from the public URL, a `Message-ID` derived from the notification's id (so a
//! copy sent again after a crash threads with the first one), and the one-click unsubscribe
//! headers of RFC 2369/8058 with the signed `/unsubscribe/{token}` link.

use super::escape_html;
use crate::config::PublicUrl;
use crate::db::deliveries::{ClaimedDelivery, Outcome};
use anyhow::Context;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP conversation may take (well inside a delivery lease).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The configured SMTP server and sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: PublicUrl,
}

/// `List-Unsubscribe: <https://…/unsubscribe/{token}>`
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the link is a POST target.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies to a notification.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

impl Mailer {
    /// A mailer for `url` sending as `from` (`精准普法 <noreply@example.cn>`).
    pub fn new(url: &str, from: &str, public_url: &PublicUrl) -> anyhow::Result<Mailer> {
        // the URL may carry a password: never in the error
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                anyhow::anyhow!(
                    "PUFA_SMTP_URL is not smtp://host:port, smtp://…?tls=required or smtps://…"
                )
            })?
            .timeout(Some(TIMEOUT))
            .build();
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("PUFA_MAIL_FROM “{from}” is not a mail address"))?;
        Ok(Mailer {
            transport,
            from,
            public_url: public_url.clone(),
        })
    }

    /// The stable `Message-ID` of notification `id` on this site.
    pub fn message_id(&self, notification_id: i64) -> String {
        format!(
            "<pufa.notification.{notification_id}@{}>",
            self.public_url.host()
        )
    }

    /// The mail of a claimed notification delivery.
    pub fn notification_mail(
        &self,
        d: &ClaimedDelivery,
        signing_secret: &str,
    ) -> anyhow::Result<Message> {
        let to: Mailbox = d
            .address
            .parse()
            .map_err(|_| anyhow::anyhow!("邮箱地址无法解析"))?;
        let token = crate::notify::unsubscribe_token(signing_secret, d.user_id);
        let unsubscribe = self.public_url.join(&format!("/unsubscribe/{token}"));
        let link = d.link.as_deref().map(|l| self.public_url.join(l));
        let mut plain = format!("{}\n\n{}\n", d.title, d.body);
        if let Some(link) = &link {
            plain.push_str(&format!("\n查看详情：{link}\n"));
        }
        plain.push_str(&format!(
            "\n——\n精准普法（工商联法治宣传月）自动发送，请勿直接回复。\n不想再收到邮件：{unsubscribe}\n"
        ));
        let html = html_body(&d.title, &d.body, link.as_deref(), &unsubscribe);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(d.title.clone())
            .message_id(Some(self.message_id(d.notification_id)))
            .header(ListUnsubscribe(format!("<{unsubscribe}>")))
            .header(ListUnsubscribePost)
            .header(AutoSubmitted)
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .context("building the mail")
    }

    /// Send a notification delivery.
    pub async fn send_notification(&self, d: &ClaimedDelivery, signing_secret: &str) -> Outcome {
        match self.notification_mail(d, signing_secret) {
            Ok(mail) => self.send(mail).await,
            Err(e) => Outcome::Permanent(e.to_string()),
        }
    }

    /// Send a verification code to `address`; `purpose_zh` says what it is for.
    pub async fn send_code(&self, address: &str, code: &str, purpose_zh: &str) -> Outcome {
        let Ok(to) = address.parse::<Mailbox>() else {
            return Outcome::Permanent("邮箱地址无法解析".into());
        };
        let text = format!(
            "您的验证码是：{code}\n\n{purpose_zh}，10 分钟内有效。请勿把验证码告诉他人；如非本人操作，请忽略本邮件。\n\n——\n精准普法（工商联法治宣传月）自动发送，请勿直接回复。\n"
        );
        let mail = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("精准普法验证码")
            .header(AutoSubmitted)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            );
        match mail {
            Ok(mail) => self.send(mail).await,
            Err(_) => Outcome::Permanent("邮件无法生成".into()),
        }
    }

    /// Send a plain-text mail to `address`, for someone without an account (a credit-code
    /// claimant): no unsubscribe link, since there is no subscription.
    pub async fn send_text(&self, address: &str, subject: &str, text: &str) -> Outcome {
        let Ok(to) = address.parse::<Mailbox>() else {
            return Outcome::Permanent("邮箱地址无法解析".into());
        };
        let text = format!("{text}\n\n——\n精准普法（工商联法治宣传月）自动发送，请勿直接回复。\n");
        let mail = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(AutoSubmitted)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            );
        match mail {
            Ok(mail) => self.send(mail).await,
            Err(_) => Outcome::Permanent("邮件无法生成".into()),
        }
    }

    async fn send(&self, mail: Message) -> Outcome {
        match self.transport.send(mail).await {
            Ok(_) => Outcome::Sent,
            // the server's reply text may quote the address: only its code is kept
            Err(e) => match e.status() {
                Some(code) if e.is_permanent() => {
                    Outcome::Permanent(format!("SMTP {code}（永久错误）"))
                }
                Some(code) => Outcome::Retry(format!("SMTP {code}（暂时错误）")),
                None if e.is_timeout() => Outcome::Retry("SMTP 超时".into()),
                None => Outcome::Retry(format!("SMTP 连接失败：{}", short_error(&e))),
            },
        }
    }
}

/// The HTML part: the plain text's lines as paragraphs, every text escaped, inline styles
/// only (mail clients drop style sheets).
fn html_body(title: &str, body: &str, link: Option<&str>, unsubscribe: &str) -> String {
    let paragraphs: String = body
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p style=\"margin:0 0 8px\">{}</p>\n", escape_html(l)))
        .collect();
    let button = link
        .map(|l| {
            format!(
                "<p style=\"margin:16px 0\"><a href=\"{}\" style=\"display:inline-block;padding:10px 18px;background:#b71c1c;color:#fff;text-decoration:none;border-radius:4px\">查看详情</a></p>\n",
                escape_html(l)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body style=\"font-family:sans-serif;font-size:15px;line-height:1.6;color:#222;max-width:560px;margin:0 auto;padding:16px\">\n<h1 style=\"font-size:18px\">{title}</h1>\n{paragraphs}{button}<hr style=\"border:0;border-top:1px solid #ddd\">\n<p style=\"font-size:12px;color:#777\">精准普法（工商联法治宣传月）自动发送，请勿直接回复。<a href=\"{unsub}\" style=\"color:#777\">退订邮件通知</a></p>\n</body></html>\n",
        title = escape_html(title),
        unsub = escape_html(unsubscribe),
    )
}

/// A transport error's first line, at most 120 characters (connection refused, TLS …).
fn short_error(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Kind;
    use std::collections::BTreeMap;

    fn public_url() -> PublicUrl {
        "https://pufa.example.cn".parse().unwrap()
    }

    // the connection pool is a task: the transport is built inside a runtime, as in `serve`
    #[tokio::test]
    async fn the_three_url_forms_are_accepted_and_junk_is_not() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:p%40ss@mail.example.cn:587?tls=required",
            "smtps://user:pass@mail.example.cn",
        ] {
            // the TLS forms build their rustls configuration (ring, system roots) here
            assert!(
                Mailer::new(url, "精准普法 <noreply@example.cn>", &public_url()).is_ok(),
                "{url}"
            );
        }
        let err = Mailer::new(
            "http://user:secret@mail.example.cn",
            "a@example.cn",
            &public_url(),
        )
        .err()
        .unwrap();
        assert!(!err.to_string().contains("secret"), "no password in {err}");
        assert!(Mailer::new("smtp://127.0.0.1:25", "not an address", &public_url()).is_err());
    }

    #[tokio::test]
    async fn a_relay_that_cannot_be_reached_is_a_retry() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mailer = Mailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "a@example.cn",
            &public_url(),
        )
        .unwrap();
        match mailer.send_code("li@example.cn", "123456", "测试").await {
            Outcome::Retry(e) => assert!(e.starts_with("SMTP 连接失败"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_notification_mail_threads_unsubscribes_and_escapes() {
        let mailer = Mailer::new(
            "smtp://127.0.0.1:2525",
            "精准普法 <noreply@example.cn>",
            &public_url(),
        )
        .unwrap();
        let d = ClaimedDelivery {
            id: 1,
            notification_id: 42,
            channel: crate::notify::Channel::Email,
            attempt: 1,
            max_attempts: 8,
            user_id: 7,
            kind: Kind::SessionMessage,
            title: "通知：<b>改期</b>".into(),
            body: "第一行 & <script>alert(1)</script>\n第二行".into(),
            link: Some("/sessions/3".into()),
            sms_template: "PUFA_MESSAGE".into(),
            sms_params: BTreeMap::new(),
            address: "fawu@example.cn".into(),
        };
        let mail = mailer.notification_mail(&d, "secret").unwrap();
        let raw = String::from_utf8(mail.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <pufa.notification.42@pufa.example.cn>"));
        let token = crate::notify::unsubscribe_token("secret", 7);
        assert!(raw.contains(&format!(
            "List-Unsubscribe: <https://pufa.example.cn/unsubscribe/{token}>"
        )));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("multipart/alternative"));
        let html = html_body(&d.title, &d.body, d.link.as_deref(), "https://x/u?a=1&b=2");
        assert!(html.contains("<h1 style=\"font-size:18px\">通知：&lt;b&gt;改期&lt;/b&gt;</h1>"));
        assert!(html.contains("第一行 &amp; &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("href=\"https://x/u?a=1&amp;b=2\""));
        // the same notification always gets the same Message-ID
        let again = mailer.notification_mail(&d, "secret").unwrap();
        assert_eq!(
            again.headers().get_raw("Message-ID"),
            mail.headers().get_raw("Message-ID")
        );
    }
}
