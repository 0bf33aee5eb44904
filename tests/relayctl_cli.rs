//! relayctl against a real relay (the end-to-end rig) and against independent vectors.
#![cfg(feature = "cli")]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use millicast_webhook_relay::samples::{JSON_SAMPLES, SAMPLE_JPEG};
use support::emulator::Deployment;
use support::*;

fn relayctl(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relayctl"))
        .args(args)
        .env_remove("WEBHOOK_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe: that is not an error here.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn sign_matches_the_documented_and_independent_vectors() {
    let body = br#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}"#;
    let output = relayctl(&["sign", "--secret", SECRET], body);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9"
    );
    // `printf '' | openssl dgst -sha1 -mac HMAC -macopt hexkey:000000`
    let output = relayctl(&["sign", "--secret", "AAAA", "-"], b"");
    assert_eq!(
        stdout(&output),
        "sha1=fbdb1d1b18aa6c08324b7d64b71fb76370690e1d"
    );
    let output = relayctl(&["sign", "--secret", "not base64!"], b"x");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not valid base64"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_every_sample_and_reports_rejections() {
    let deployment = Deployment::start(false, &[]).await;
    let url = deployment.url();
    for name in JSON_SAMPLES.iter().chain(["thumbnail"].iter()) {
        let output = relayctl(&["send", "--url", &url, "--secret", SECRET, name], b"");
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout(&output).starts_with("200 "),
            "{name}: {}",
            stdout(&output)
        );
    }
    let messages = deployment.fixture.messages().await;
    // Every JSON sample, plus the announcement of the stored thumbnail.
    assert_eq!(messages.len(), JSON_SAMPLES.len() + 1);
    let objects = deployment.fixture.objects().await;
    assert!(
        objects
            .iter()
            .any(|o| o.body == SAMPLE_JPEG && !o.key.ends_with("latest.jpg"))
    );

    let output = relayctl(
        &[
            "send",
            "--url",
            &url,
            "--secret",
            OTHER_SECRET,
            "feeds-started",
        ],
        b"",
    );
    assert!(!output.status.success());
    assert!(stdout(&output).starts_with("401 "));
    assert!(String::from_utf8_lossy(&output.stderr).contains("401 invalid_signature"));

    let output = relayctl(
        &[
            "send",
            "--url",
            "http://127.0.0.1:9/",
            "--secret",
            SECRET,
            "feeds-started",
        ],
        b"",
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));

    let output = relayctl(
        &["send", "--url", &url, "--secret", SECRET, "no-such-sample"],
        b"",
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown event"));
}

/// relayctl with the AWS environment pointing at moto.
fn relayctl_aws(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    command
}

/// `relayctl tail` until the queue is empty, with `extra` flags; its standard output.
fn tail(queue: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "tail",
        "--queue-url",
        queue,
        "--exit-when-empty",
        "--wait-seconds",
        "0",
    ];
    args.extend_from_slice(extra);
    let output = relayctl_aws(&args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_exactly_the_messages_sent() {
    let deployment = Deployment::start(false, &[]).await;
    let url = deployment.url();
    for name in ["feeds-started", "transcoder-active", "thumbnail"] {
        let output = relayctl(&["send", "--url", &url, "--secret", SECRET, name], b"");
        assert!(output.status.success());
    }
    let queue = deployment.fixture.queue_url.as_str();

    // As JSON, deleting them: exactly those three bodies, and the queue is empty after.
    let json = tail(queue, &["--json", "--delete"]);
    let bodies: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut kinds: Vec<String> = bodies
        .iter()
        .map(|b| {
            format!(
                "{}/{}",
                b["type"].as_str().unwrap(),
                b["event"].as_str().unwrap()
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["feeds/started", "thumbnail/stored", "transcoder/ACTIVE"]
    );
    assert!(deployment.fixture.messages().await.is_empty());

    // Human-readable: one line per message.
    for name in ["feeds-started", "transcoder-active"] {
        assert!(
            relayctl(&["send", "--url", &url, "--secret", SECRET, name], b"")
                .status
                .success()
        );
    }
    let text = tail(queue, &[]);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|line| line.split(' ').nth(1).unwrap_or_default().to_owned());
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(
            " feeds/started ZG6NWV/sample_stream feedId=369e4a86-f937-4254-bd9f-99dc484d2bd6"
        ),
        "{text}"
    );
    assert!(
        lines[1].contains(
            " transcoder/ACTIVE - transcoderId=fddcbce0-1a2b-4c3d-9e8f-0a1b2c3d4e5f status=Active"
        ),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("20") && l.as_bytes()[10] == b'T'),
        "{text}"
    );

    // A reader that goes away (`relayctl tail | head`) ends tail quietly, deleting nothing.
    assert!(
        relayctl(
            &["send", "--url", &url, "--secret", SECRET, "media-deleted"],
            b""
        )
        .status
        .success()
    );
    let mut child = relayctl_aws(&[
        "tail",
        "--queue-url",
        queue,
        "--delete",
        "--exit-when-empty",
        "--wait-seconds",
        "0",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_relayctl"))
        .args(["tail", "--queue-url", queue, "--exit-when-empty"])
        .env_clear()
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("AWS_REGION"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn aws_commands_fail_with_one_line_reasons() {
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_relayctl"))
            .args(args)
            .env_clear()
            .envs(envs.iter().copied())
            .env("HOME", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        stderr
    };
    let no_credentials = run(
        &[("AWS_REGION", "us-east-1")],
        &[
            "tail",
            "--queue-url",
            "http://127.0.0.1:9/q",
            "--exit-when-empty",
        ],
    );
    assert!(
        no_credentials.contains("no AWS credentials found"),
        "{no_credentials}"
    );
    let refused = run(
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
        &[
            "redrive",
            "--bucket",
            "bkt",
            "--queue-url",
            "http://127.0.0.1:9/q",
        ],
    );
    assert!(refused.contains("connection refused"), "{refused}");
    let bad_url = run(
        &[],
        &[
            "send",
            "--url",
            "not-a-url",
            "--secret",
            SECRET,
            "feeds-started",
        ],
    );
    assert!(bad_url.contains("bad --url"), "{bad_url}");
}
