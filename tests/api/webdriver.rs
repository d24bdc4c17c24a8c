//! A small W3C WebDriver client over reqwest, driving Debian's chromium through chromedriver.
//! (The protocol is a handful of JSON calls; a dedicated crate would bring a TLS stack for a
//! loopback connection.)

use crate::helpers::{first_line_after, ChildGuard};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running chromedriver with one headless chromium session. Dropping it stops the driver
/// (and with it the browser).
pub struct Browser {
    // Declared first so the driver is stopped before the profile folder is removed.
    _driver: ChildGuard,
    base: String,
    session: String,
    http: reqwest::Client,
    /// Whether the session was ended (by `quit`); otherwise `Drop` ends it.
    ended: bool,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver and a headless chromium window of `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        // Port 0: chromedriver binds a free port itself and names it, so no other process can
        // take the port between choosing and binding it.
        let (driver, stdout) = ChildGuard::spawn_piped(
            Command::new("chromedriver")
                .arg("--port=0")
                .stderr(Stdio::null()),
        )
        .expect("chromedriver (Debian package chromium-driver) must be installed");
        let port = first_line_after(stdout, "ChromeDriver was started successfully on port ")
            .expect("chromedriver exited before it named its port");
        let base = format!("http://127.0.0.1:{}", port.trim_end_matches('.'));
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    "--autoplay-policy=no-user-gesture-required",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Browser {
            _driver: driver,
            base,
            session,
            http,
            ended: false,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("json");
        if r["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// Evaluate `script` until it returns something other than null (30 s at most).
    pub async fn wait_for(&self, script: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.eval(script, vec![]).await;
            if !v.is_null() {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for: {script}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run `script` (a function body; `arguments` available) and return its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Run `script` (a function body whose last argument is a callback) and return the value
    /// it hands the callback, waiting up to `timeout` (for work that ends in a promise).
    pub async fn eval_async(&self, script: &str, args: Vec<Value>, timeout: Duration) -> Value {
        self.call(
            reqwest::Method::POST,
            "/timeouts",
            Some(json!({"script": timeout.as_millis() as u64})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Remove every cookie of the current page's site (a logout without a form).
    pub async fn delete_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Type `text` into the element matching `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        let id = el
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_str())
            .expect("element id")
            .to_string();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Save a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("png");
        std::fs::write(path, bytes).expect("write screenshot");
    }
}

impl Browser {
    /// End the browser session (chromium closes) and stop the driver.
    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let r = self.http.delete(url).send().await.expect("end session");
        assert!(r.status().is_success(), "end session: {}", r.status());
        self.ended = true;
    }
}

impl Drop for Browser {
    /// A test that panics drops the browser without `quit`: end the WebDriver session with a
    /// blocking request (no runtime to await on here), or chromium outlives its killed driver.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let Some(authority) = self.base.strip_prefix("http://") else {
            return;
        };
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session
        );
        let ended = std::net::TcpStream::connect(authority).and_then(|mut stream| {
            use std::io::{Read, Write};
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(request.as_bytes())?;
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply).map(drop)
        });
        if let Err(e) = ended {
            eprintln!("could not end the browser session: {e}");
        }
    }
}
