//! SMS through the gateway webhook: a JSON POST `{to, template, params}` to
//! `PUFA_SMS_WEBHOOK_URL`, signed in `X-Pufa-Signature: sha256=<hex HMAC-SHA256 of the body>`
//! with `PUFA_SMS_WEBHOOK_SECRET` — the shape the big Chinese gateways' template APIs take,
//! behind a small adapter of the chamber's.
//!
//! Any answer but 2xx is a failed attempt, recorded with its status only: neither the number
//! nor the gateway's body (which may quote it) reaches the database or the log.

use crate::db::deliveries::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;

/// How long the gateway has to answer.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The configured webhook.
pub struct SmsGateway {
    url: reqwest::Url,
    secret: String,
    client: reqwest::Client,
}

/// The webhook's body.
#[derive(Debug, Serialize)]
pub struct SmsRequest<'a> {
    pub to: &'a str,
    pub template: &'a str,
    pub params: &'a BTreeMap<String, String>,
}

impl SmsGateway {
    pub fn new(url: &str, secret: &str) -> anyhow::Result<SmsGateway> {
        let url = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| anyhow::anyhow!("PUFA_SMS_WEBHOOK_URL is not an http(s) URL"))?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(SmsGateway {
            url,
            secret: secret.to_string(),
            client,
        })
    }

    /// Send template `template` with `params` to the mobile `to`.
    pub async fn send(
        &self,
        to: &str,
        template: &str,
        params: &BTreeMap<String, String>,
    ) -> Outcome {
        let body = match serde_json::to_vec(&SmsRequest {
            to,
            template,
            params,
        }) {
            Ok(b) => b,
            Err(_) => return Outcome::Permanent("短信内容无法编码".into()),
        };
        let signature = crate::notify::webhook_signature(&self.secret, &body);
        let answer = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Pufa-Signature", signature)
            .body(body)
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => Outcome::Sent,
            Ok(r) => Outcome::Retry(format!("短信网关返回 HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Outcome::Retry("短信网关超时".into()),
            Err(e) if e.is_connect() => Outcome::Retry("短信网关无法连接".into()),
            Err(_) => Outcome::Retry("短信网关请求失败".into()),
        }
    }
}
