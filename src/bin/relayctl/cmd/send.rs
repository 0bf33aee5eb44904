//! `relayctl send`: a webhook made and signed the way the platform makes it, POSTed to a relay.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::relay::clock::now_ms;
use millicast_webhooks::samples::{self, JSON_SAMPLES};
use millicast_webhooks::signature::sign;

use crate::error::Error;
use crate::input::decode_secret;

#[derive(Args)]
pub struct SendArgs {
    /// The relay's function URL.
    #[arg(long)]
    url: String,
    /// Webhook secret (base64).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// A built-in sample (see --list), `thumbnail`, or a path to a JSON body.
    #[arg(required_unless_present = "list")]
    event: Option<String>,
    /// JPEG to send with `thumbnail` (default: a built-in 160x90 image).
    #[arg(long)]
    image: Option<PathBuf>,
    /// `accountId/streamName` for `thumbnail`.
    #[arg(long, default_value = samples::SAMPLE_STREAM_ID)]
    stream_id: String,
    /// List the built-in samples and exit.
    #[arg(long)]
    list: bool,
}

impl SendArgs {
    pub fn run(self) -> Result<(), Error> {
        if self.list {
            list_samples();
            return Ok(());
        }
        let url = &self.url;
        let secret = decode_secret(&self.secret)?;
        let parsed: reqwest::Url = url
            .parse()
            .map_err(|e| OperatorError::usage(format!("bad --url {url}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(
                OperatorError::usage(format!("bad --url {url}: use an http(s) URL")).into(),
            );
        }
        let event = self.event.as_deref().unwrap_or_default();
        let Webhook { body, headers } =
            build_webhook(event, self.image.as_deref(), &self.stream_id, now_ms())?;
        let signature = sign(&secret, &body);
        let (status, answer) = crate::block_on(async {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .user_agent(concat!("relayctl/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| OperatorError::io("cannot build the HTTP client", e))?;
            let mut request = client
                .post(parsed)
                .header("x-millicast-signature", signature)
                .body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request
                .send()
                .await
                .map_err(|e| OperatorError::io(format!("cannot reach {url}"), e))?;
            let status = response.status();
            let answer = response.text().await.unwrap_or_default();
            Ok::<_, Error>((status, answer))
        })?;
        out!("{} {answer}", status.as_u16());
        if status.is_success() {
            Ok(())
        } else {
            let code = serde_json::from_str::<serde_json::Value>(&answer)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
            Err(Error::failed(format!(
                "the relay answered {} {code}",
                status.as_u16()
            )))
        }
    }
}

fn list_samples() {
    JSON_SAMPLES
        .iter()
        .chain(["thumbnail"].iter())
        .for_each(|name| out!("{name}"));
}

/// The body and headers (signature excluded) of a webhook to send.
struct Webhook {
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn build_webhook(
    event: &str,
    image: Option<&Path>,
    stream_id: &str,
    ts: i64,
) -> Result<Webhook, OperatorError> {
    if event == "thumbnail" {
        let bytes = match image {
            Some(path) => std::fs::read(path)
                .map_err(|e| OperatorError::io(format!("cannot read {}", path.display()), e))?,
            None => samples::SAMPLE_JPEG.to_vec(),
        };
        return Ok(Webhook {
            body: bytes,
            headers: samples::thumbnail_headers(stream_id, ts),
        });
    }
    let headers = vec![("content-type", "application/json".to_owned())];
    if let Some(body) = samples::json_sample(event, ts) {
        return Ok(Webhook {
            body: body.into_bytes(),
            headers,
        });
    }
    let path = Path::new(event);
    if path.is_file() {
        let body = std::fs::read(path)
            .map_err(|e| OperatorError::io(format!("cannot read {event}"), e))?;
        return Ok(Webhook { body, headers });
    }
    Err(OperatorError::usage(format!(
        "unknown event `{event}`: use a built-in sample ({}, thumbnail) or a JSON file",
        JSON_SAMPLES.join(", ")
    )))
}
