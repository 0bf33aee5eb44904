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
    child.stdin.take().unwrap().write_all(stdin).unwrap();
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
