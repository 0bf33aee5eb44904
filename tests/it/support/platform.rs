//! The local stand-in of the streaming platform (scripts/local_platform.py) on a free loopback
//! port: its webhooks REST API for relayctl, and its `/_local/` controls for the tests (stream
//! traffic, renew as the dashboard does, read back every delivery it made).

use std::process::Child;
use std::time::Duration;

use serde_json::{Value, json};

use super::start_script;

/// The API secret the tests use.
pub const API_SECRET: &str = "local-api-secret";

/// One platform process (stopped when dropped).
pub struct LocalPlatform {
    process: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for LocalPlatform {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl LocalPlatform {
    pub fn start(extra: &[&str]) -> Self {
        let (process, line) = start_script(
            "local_platform.py",
            ["--port", "0", "--api-secret", API_SECRET]
                .into_iter()
                .chain(extra.iter().copied()),
        );
        let port: u16 = line.trim().parse().expect("platform port");
        Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let answer = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        serde_json::from_str(&answer.text().await.unwrap()).unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let answer = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        serde_json::from_str(&answer.text().await.unwrap()).unwrap()
    }

    /// Every webhook, with its secret and internal state.
    pub async fn webhooks(&self) -> Vec<Value> {
        self.get("/_local/webhooks")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn webhook(&self, id: i64) -> Value {
        self.get(&format!("/_local/webhooks/{id}")).await
    }

    /// The dashboard's Renew button: the platform signs with a new secret at once.
    pub async fn renew(&self, id: i64) -> String {
        let answer = self
            .post(&format!("/_local/webhooks/{id}/renew"), json!({}))
            .await;
        answer["data"]["secret"].as_str().unwrap().to_owned()
    }

    /// Starts streaming `count` realistic events at `rate` per second; the run's id.
    pub async fn start_traffic(&self, count: u64, rate: f64) -> Value {
        self.post("/_local/traffic", json!({"count": count, "rate": rate}))
            .await["id"]
            .clone()
    }

    /// The same, over these streams, with this share of thumbnails.
    pub async fn start_traffic_on(
        &self,
        count: u64,
        rate: f64,
        streams: &[&str],
        thumbnail_share: f64,
    ) -> Value {
        self.post(
            "/_local/traffic",
            json!({"count": count, "rate": rate, "streams": streams, "thumbnailShare": thumbnail_share}),
        )
        .await["id"]
            .clone()
    }

    pub async fn traffic(&self, id: &Value) -> Value {
        let id = id
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| id.to_string());
        self.get(&format!("/_local/traffic/{id}")).await
    }

    /// Waits for a traffic run to finish; its final status.
    pub async fn wait_traffic(&self, id: &Value, limit: Duration) -> Value {
        let started = std::time::Instant::now();
        loop {
            let status = self.traffic(id).await;
            if status["done"] == true {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "traffic not done after {limit:?}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Every delivery the platform made (finished), in the order they finished.
    pub async fn deliveries(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut since = 0;
        loop {
            let page = self
                .get(&format!("/_local/deliveries?since={since}&limit=1000"))
                .await;
            let page = page.as_array().cloned().unwrap_or_default();
            let Some(last) = page.last() else { return all };
            since = last["seq"].as_i64().unwrap();
            all.extend(page);
        }
    }
}
