//! `relayctl wall` as a user runs it: started on a free loopback port (`--port 0`), its address
//! read from the line it prints, asked over HTTP, killed by its PID when dropped. Also the
//! thumbnails it shows, sent through the relay itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use millicast_webhooks::samples::{self, SAMPLE_JPEG};

use super::{MotoRelay, status_and_body, thumbnail_request};

/// A running `relayctl wall`.
pub struct WallProcess {
    child: Child,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    stderr: Arc<Mutex<String>>,
}

impl WallProcess {
    /// Starts `relayctl wall --port 0 <args>` with `env` and waits for the address it prints.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
        command
            .arg("wall")
            .args(["--port", "0"])
            .args(args)
            .env_remove("RELAY_STACK")
            .env_remove("THUMBNAIL_BUCKET")
            .env_remove("THUMBNAIL_PREFIX")
            .env_remove("BROWSER")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start relayctl wall");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = BufReader::new(child.stderr.take().expect("piped stderr"));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first)
            .expect("relayctl wall prints its address");
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "relayctl wall printed no address: {first:?}\n{}",
                    stderr.lock().unwrap()
                )
            })
            .to_owned();
        Self { child, url, stderr }
    }

    /// What it wrote on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until standard error holds `text` (the first look is reported once made).
    pub async fn wait_for_stderr(&self, text: &str) -> String {
        for _ in 0..200 {
            let stderr = self.stderr();
            if stderr.contains(text) {
                return stderr;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("relayctl wall never said {text:?}: {}", self.stderr())
    }

    /// GET `path`: status, headers and body.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{}", self.url, path.trim_start_matches('/')))
            .await
            .expect("relayctl wall answers")
    }

    /// The snapshot the page reads.
    pub async fn streams(&self) -> serde_json::Value {
        let answer = self.get("/api/streams").await;
        assert_eq!(answer.status(), 200);
        let body = answer.text().await.expect("a body");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

impl Drop for WallProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SAMPLE_JPEG made unique by a JPEG comment segment (after JFIF's APP0, which stays first),
/// as the local platform makes its thumbnails: another image to S3 (another ETag), the same
/// picture.
pub fn unique_jpeg(label: &str) -> Vec<u8> {
    let app0_end = 4 + usize::from(u16::from_be_bytes([SAMPLE_JPEG[4], SAMPLE_JPEG[5]]));
    let text = format!("relayctl wall test {label}");
    let length = u16::try_from(text.len() + 2).unwrap();
    let mut image = SAMPLE_JPEG[..app0_end].to_vec();
    image.extend_from_slice(&[0xFF, 0xFE]);
    image.extend_from_slice(&length.to_be_bytes());
    image.extend_from_slice(text.as_bytes());
    image.extend_from_slice(&SAMPLE_JPEG[app0_end..]);
    image
}

/// A thumbnail of `stream_id` captured at `captured_ms`, signed with `secret` and sent through
/// the relay: "stored".
pub async fn send_thumbnail(
    relay: &MotoRelay,
    stream_id: &str,
    captured_ms: i64,
    image: &[u8],
    secret: &str,
) {
    let headers = samples::thumbnail_headers(stream_id, captured_ms);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = status_and_body(&relay.handle(thumbnail_request(image, &refs, secret)).await);
    assert_eq!(
        answer,
        (200, serde_json::json!({"status": "stored"})),
        "{stream_id}"
    );
}
