//! relayctl against a real relay (the end-to-end rig) and against independent vectors.

use std::process::{Command, Output, Stdio};

use crate::support::emulator::Deployment;
use crate::support::*;
use millicast_webhooks::samples::{JSON_SAMPLES, SAMPLE_JPEG};

fn relayctl(args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    command.args(args).env_remove("WEBHOOK_SECRET");
    run_with_input(command, stdin)
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
        // No region anywhere: the SDK's region chain would otherwise ask EC2's instance
        // metadata service (169.254.169.254), which is no address of this machine.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("AWS_REGION"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `relayctl tail` with the default long poll (`--wait-seconds 20`) on an idle queue waits it
/// out and ends quietly (`--exit-when-empty`): relayctl's own SQS timeouts (30 s an attempt,
/// operator::sdk), not the Lambda's (2 s an attempt, 5 s an operation), which ended this with
/// "operation timeout" after 5.0 s. The one test that waits 20 s: it runs beside the others.
#[tokio::test]
async fn tail_waits_out_the_default_long_poll_on_an_idle_queue() {
    let fixture = Fixture::new(false).await;
    let queue = fixture.queue_url.clone();
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        relayctl_aws(&["tail", "--queue-url", &queue, "--exit-when-empty"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let waited = started.elapsed();
    assert!(
        output.status.success(),
        "after {waited:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        waited >= std::time::Duration::from_millis(19_500)
            && waited < std::time::Duration::from_secs(29),
        "the long poll took {waited:?}"
    );
    assert!(output.stdout.is_empty());
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

#[test]
fn verbose_errors_print_every_cause_after_the_error() {
    // An endpoint nothing listens on: the SDK's dispatch failure has a chain of causes.
    let run = |args: &[&str], rust_log: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
        command
            .args(args)
            .env_clear()
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "a")
            .env("AWS_SECRET_ACCESS_KEY", "b")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("HOME", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).trim().to_owned()
    };
    let redrive = [
        "redrive",
        "--bucket",
        "bkt",
        "--queue-url",
        "http://127.0.0.1:9/q",
    ];

    let plain = run(&redrive, None);
    assert_eq!(
        plain,
        "relayctl: cannot list s3://bkt/undelivered/: connection refused (check the URL, or \
         AWS_ENDPOINT_URL)"
    );
    assert_eq!(run(&redrive, Some("info")), plain);

    let verbose = run(&[&["-v"][..], &redrive].concat(), None);
    let lines: Vec<&str> = verbose.lines().collect();
    assert_eq!(
        lines[0], "relayctl: cannot list s3://bkt/undelivered/",
        "{verbose}"
    );
    assert_eq!(lines[1], "caused by: s3 ListObjectsV2", "{verbose}");
    let causes: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("caused by: "))
        .collect();
    assert!(causes.len() >= 3, "{verbose}");
    assert!(
        causes
            .iter()
            .any(|cause| cause.contains("Connection refused")),
        "the innermost cause, the refused connection, is reached: {verbose}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("hint: connection refused (check the URL, or AWS_ENDPOINT_URL)"),
        "{verbose}"
    );
    assert_eq!(lines.len(), causes.len() + 2, "{verbose}");

    // The flag is global (after the command too), and RUST_LOG at debug or trace asks the same.
    assert_eq!(run(&[&redrive[..], &["--verbose"]].concat(), None), verbose);
    assert_eq!(run(&redrive, Some("debug")), verbose);
    assert_eq!(run(&redrive, Some("warn,relayctl=trace")), verbose);
}

/// relayctl against moto with `stdin` as its standard input; (success, stdout, stderr).
fn relayctl_aws_with_input(args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let output = run_with_input(relayctl_aws(args), stdin);
    (
        output.status.success(),
        stdout(&output),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

/// The renewed secret of the dashboard test (base64 of "dashboard-renewed-secret").
const RENEWED: &str = "ZGFzaGJvYXJkLXJlbmV3ZWQtc2VjcmV0";

#[tokio::test]
async fn secret_set_keeps_the_replaced_secret_and_never_echoes() {
    let fixture = Fixture::new(false).await;
    let secret_id = fixture
        .create_secret(&format!(r#"{{"current":"{SECRET}"}}"#))
        .await;
    let stored = || async {
        let client = millicast_webhook_relay::aws::sdk::secrets_client(&fixture.sdk);
        millicast_webhook_relay::aws::secretsmanager::read_secrets(&client, &secret_id)
            .await
            .unwrap()
    };
    let input = format!("{RENEWED}\n");
    let (ok, out, err) = relayctl_aws_with_input(
        &["secret", "set", "--secret-id", &secret_id],
        input.as_bytes(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("kept as previous"), "{out}");
    assert!(!out.contains(RENEWED) && !err.contains(RENEWED));
    let set = stored().await;
    let [webhook] = set.webhooks() else { panic!() };
    assert_eq!(webhook.current.to_base64(), RENEWED);
    assert_eq!(
        webhook.previous.as_ref().map(|p| p.to_base64()),
        Some(SECRET.to_owned())
    );

    // The same secret again changes nothing (the previous one is not lost).
    let (ok, out, _) = relayctl_aws_with_input(
        &["secret", "set", "--secret-id", &secret_id],
        input.as_bytes(),
    );
    assert!(ok);
    assert!(out.starts_with("unchanged"), "{out}");
    assert_eq!(
        stored().await.webhooks()[0]
            .previous
            .as_ref()
            .map(|p| p.to_base64()),
        Some(SECRET.to_owned())
    );

    // After a leak, once the renewal is complete: no previous secret at all.
    let (ok, out, err) = relayctl_aws_with_input(
        &[
            "secret",
            "set",
            "--secret-id",
            &secret_id,
            "--drop-previous",
        ],
        input.as_bytes(),
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("stored a new secret"), "{out}");
    let set = stored().await;
    let [webhook] = set.webhooks() else { panic!() };
    assert_eq!(
        (webhook.current.to_base64(), webhook.previous.clone()),
        (RENEWED.to_owned(), None)
    );

    for (args, input, expected) in [
        (
            vec!["secret", "set", "--secret-id", secret_id.as_str()],
            "c2VjcmV0LXZhbHVl!\n",
            "not valid base64",
        ),
        (
            vec!["secret", "set", "--secret-id", secret_id.as_str()],
            "",
            "no secret on standard input",
        ),
        (
            vec!["secret", "set", "--secret-id", "no-such-secret"],
            "AAAA\n",
            "no secret no-such-secret",
        ),
    ] {
        let (ok, out, err) = relayctl_aws_with_input(&args, input.as_bytes());
        assert!(!ok, "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(!err.contains("c2VjcmV0LXZhbHVl") && !out.contains("c2VjcmV0LXZhbHVl"));
    }
}

/// The dashboard path: the secret is renewed on the platform without touching the relay, the
/// relay keeps everything signed with the new secret, then `secret set` and `quarantine
/// replay` recover it all. The relay runs under the emulator, relayctl as a user runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renewal_then_secret_set_and_replay_loses_nothing() {
    let secret_fixture = Fixture::new(false).await;
    let secret_id = secret_fixture
        .create_secret(&format!(r#"{{"current":"{SECRET}"}}"#))
        .await;
    let deployment = Deployment::start(
        false,
        &[
            ("WEBHOOK_SECRET", ""),
            ("WEBHOOK_SECRET_ID", &secret_id),
            ("SECRET_REFRESH_SECONDS", "1"),
        ],
    )
    .await;
    let url = deployment.url();
    let send = |secret: &str, event: &str| {
        let output = relayctl(&["send", "--url", &url, "--secret", secret, event], b"");
        stdout(&output)
    };
    let events = [
        "feeds-started",
        "media-completed",
        "thumbnail",
        "viewer-attempt",
    ];
    for event in events {
        assert!(send(SECRET, event).starts_with("200 "), "{event}");
    }
    // Renewed in the dashboard: from now on the platform signs with RENEWED. Keep sending.
    let mut renewed_sent = 0;
    for _ in 0..3 {
        for event in events {
            let answer = send(RENEWED, event);
            assert_eq!(answer, r#"401 {"error":"invalid_signature"}"#, "{event}");
            renewed_sent += 1;
        }
    }
    let fixture = &deployment.fixture;
    let quarantine_args = ["quarantine", "list", "--bucket", &fixture.bucket];
    let listing = relayctl_aws(&quarantine_args).output().unwrap();
    assert!(listing.status.success());
    let table = stdout(&listing);
    assert_eq!(table.lines().count(), renewed_sent + 1, "{table}");
    assert!(table.starts_with("RECEIVED"), "{table}");
    assert!(table.contains("invalid_signature"));
    assert!(
        table.contains("feeds/started") && table.contains("thumbnail"),
        "{table}"
    );
    assert!(table.contains("ZG6NWV/sample_stream"), "{table}");

    // The operator stores the dashboard's secret, then replays.
    let (ok, _, err) = relayctl_aws_with_input(
        &["secret", "set", "--secret-id", &secret_id],
        format!("{RENEWED}\n").as_bytes(),
    );
    assert!(ok, "{err}");
    let replay = [
        "quarantine",
        "replay",
        "--bucket",
        &fixture.bucket,
        "--queue-url",
        &fixture.queue_url,
        "--secret-id",
        &secret_id,
    ];
    let mut dry_run = replay.to_vec();
    dry_run.push("--dry-run");
    let (ok, out, err) = relayctl_aws_with_input(&dry_run, b"");
    assert!(ok, "{err}");
    assert!(
        out.ends_with(&format!("would replay {renewed_sent}, kept 0")),
        "{out}"
    );
    let (ok, out, err) = relayctl_aws_with_input(&replay, b"");
    assert!(ok, "{err}");
    assert_eq!(out, format!("replayed {renewed_sent}, kept 0"));

    // Once the relay has re-read the secret, the renewed secret is accepted directly.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(send(RENEWED, "feeds-ended").starts_with("200 "));
    // Everything arrived: 4 + 12 + 1 deliveries, on the queue (a thumbnail by its
    // announcement) and the 4 thumbnails in S3.
    let messages = fixture.messages().await;
    let feeds = messages
        .iter()
        .filter(|m| m.body.contains(r#""type":"feeds""#))
        .count();
    assert_eq!(messages.len(), 4 + renewed_sent + 1, "{messages:?}");
    assert_eq!(feeds, 1 + 3 + 1);
    assert!(fixture.objects_under("quarantine/").await.is_empty());
    assert_eq!(
        fixture
            .objects_under("thumbnails/")
            .await
            .iter()
            .filter(|o| !o.key.ends_with("latest.jpg"))
            .count(),
        4
    );
}
