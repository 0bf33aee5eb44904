//! `sign`, `send` and `events`: webhooks made and signed the way the platform makes them.

use std::path::Path;
use std::time::Duration;

use millicast_webhook_relay::events;
use millicast_webhook_relay::relay::clock::now_ms;
use millicast_webhooks::samples::{self, JSON_SAMPLES};
use millicast_webhooks::signature::sign;

use crate::input::{decode_secret, read_input};

pub fn run_sign(secret: &str, file: Option<&Path>) -> Result<(), String> {
    let secret = decode_secret(secret)?;
    out!("{}", sign(&secret, &read_input(file)?));
    Ok(())
}

pub fn list_samples() {
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
) -> Result<Webhook, String> {
    if event == "thumbnail" {
        let bytes = match image {
            Some(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
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
        let body = std::fs::read(path).map_err(|e| format!("cannot read {event}: {e}"))?;
        return Ok(Webhook { body, headers });
    }
    Err(format!(
        "unknown event `{event}`: use a built-in sample ({}, thumbnail) or a JSON file",
        JSON_SAMPLES.join(", ")
    ))
}

pub fn run_send(
    url: &str,
    secret: &str,
    event: &str,
    image: Option<&Path>,
    stream_id: &str,
) -> Result<(), String> {
    let secret = decode_secret(secret)?;
    let parsed: reqwest::Url = url.parse().map_err(|e| format!("bad --url {url}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("bad --url {url}: use an http(s) URL"));
    }
    let Webhook { body, headers } = build_webhook(event, image, stream_id, now_ms())?;
    let signature = sign(&secret, &body);
    let (status, answer) = crate::block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("relayctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
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
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        Ok::<_, String>((status, answer))
    })?;
    out!("{} {answer}", status.as_u16());
    if status.is_success() {
        Ok(())
    } else {
        let code = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Err(format!("the relay answered {} {code}", status.as_u16()))
    }
}

pub fn run_events(dir: &Path, check: bool) -> Result<(), String> {
    let files: Vec<(String, String)> = events::event_files()
        .iter()
        .map(|file| (file.file_name.clone(), events::event_file_text(file)))
        .collect();
    write_generated(dir, &files, check, "make events")
}

/// `contract/message.schema.json`, from the typed model.
pub fn run_contract(dir: &Path, check: bool) -> Result<(), String> {
    let schema = millicast_webhook_relay::contract::message_schema();
    let mut text = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
    text.push('\n');
    write_generated(
        dir,
        &[(MESSAGE_SCHEMA_FILE.to_owned(), text)],
        check,
        "make contract",
    )
}

/// The committed schema file's name under `contract/`.
pub const MESSAGE_SCHEMA_FILE: &str = "message.schema.json";

/// Writes generated files into `dir`, or (`check`) fails naming those that differ.
fn write_generated(
    dir: &Path,
    files: &[(String, String)],
    check: bool,
    regenerate: &str,
) -> Result<(), String> {
    let mut stale = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            out!("{}", path.display());
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "out of date (run `{regenerate}`): {}",
            stale.join(", ")
        ))
    }
}
