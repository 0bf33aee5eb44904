//! `relayctl status` against moto (a CloudFormation stack with the template's outputs, SQS, S3,
//! CloudWatch metrics and alarms) and the local platform: the healthy case, then each red case
//! on its own, with the line that says so and the exit code.

use std::process::Command;

use crate::support::platform::{API_SECRET, LocalPlatform};
use crate::support::*;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic,
};
use millicast_webhook_relay::operator::platform::{
    HookSet, HookType, NewWebhook, PlatformClient, TestDelivery, WebhookUpdate,
};
use serde_json::Value;

struct Rig {
    fixture: Fixture,
    platform: LocalPlatform,
    stack: String,
    secret_id: String,
    function_url: String,
    dlq_url: String,
    alarm: String,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Rig {
    async fn start() -> Self {
        let fixture = Fixture::new(false).await;
        let dlq_url = fixture.create_queue("dlq").await;
        let function_name = format!("{}-fn", fixture.bucket);
        // Nothing listens there: a delivery the platform makes fails, which disables the webhook.
        let function_url = format!("{}/lambda-url/_/", closed_port_endpoint());
        let platform = LocalPlatform::start(&["--disable-after", "1"]);
        let client = PlatformClient::new(&platform.url, API_SECRET).unwrap();
        let webhook = client
            .create_webhook(&NewWebhook {
                url: function_url.clone(),
                hooks: HookSet::all(),
                filter: None,
            })
            .await
            .unwrap();
        // The relay holds the webhook's secret, as after `relayctl register`.
        let secret_id = fixture
            .create_secret(&format!(
                r#"{{"webhooks":[{{"id":{},"current":"{}"}}]}}"#,
                webhook.id,
                webhook.secret.expose()
            ))
            .await;
        let stack = fixture
            .create_stack(&[
                ("FunctionUrl", &function_url),
                ("FunctionName", &function_name),
                ("QueueUrl", &fixture.queue_url),
                ("DeadLetterQueueUrl", &dlq_url),
                ("BucketName", &fixture.bucket),
                ("WebhookSecretArn", &secret_id),
            ])
            .await;
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&fixture.sdk);
        // The relay's metrics of the last minutes, as CloudWatch turns its EMF records into them.
        let dimension = Dimension::builder()
            .name("FunctionName")
            .value(&function_name)
            .build();
        let datum = |name: &str, value: f64| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(dimension.clone())
                .timestamp(std::time::SystemTime::now().into())
                .value(value)
                .build()
        };
        cloudwatch
            .put_metric_data()
            .namespace("MillicastWebhookRelay")
            .metric_data(datum("Verified", 42.0))
            .metric_data(datum("Forwarded", 40.0))
            .metric_data(datum("ThumbnailsStored", 2.0))
            .send()
            .await
            .unwrap();
        let alarm = format!("{stack}-FailedEventsAlarm-ABC123");
        cloudwatch
            .put_metric_alarm()
            .alarm_name(&alarm)
            .namespace("MillicastWebhookRelay")
            .metric_name("Failed")
            .dimensions(dimension)
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap();
        cloudwatch
            .set_alarm_state()
            .alarm_name(&alarm)
            .state_value(StateValue::Ok)
            .state_reason("test")
            .send()
            .await
            .unwrap();
        Self {
            fixture,
            platform,
            stack,
            secret_id,
            function_url,
            dlq_url,
            alarm,
            cloudwatch,
        }
    }

    fn platform(&self) -> PlatformClient {
        PlatformClient::new(&self.platform.url, API_SECRET).unwrap()
    }

    /// `relayctl status --stack …` (with the platform unless `no_platform`): (exit ok, stdout).
    fn status(&self, extra: &[&str], no_platform: bool) -> (bool, String, String) {
        self.status_with(extra, no_platform, &[])
    }

    fn status_with(
        &self,
        extra: &[&str],
        no_platform: bool,
        env: &[(&str, &str)],
    ) -> (bool, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
        command
            .args(["status", "--stack", &self.stack])
            .args(extra)
            .env("AWS_ENDPOINT_URL", &self.fixture.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("MILLICAST_API_URL", &self.platform.url)
            .env("MILLICAST_API_SECRET", API_SECRET);
        if no_platform {
            command.env_remove("MILLICAST_API_SECRET");
        }
        command.envs(env.iter().copied());
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn line<'a>(out: &'a str, check: &str) -> &'a str {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(check))
            .unwrap_or_else(|| panic!("no {check} line in:\n{out}"))
    }

    /// Asserts the one red line is `check`, mentions `says`, and is followed by `command`.
    fn assert_red(&self, check: &str, says: &str, command: &str) {
        let (ok, out, err) = self.status(&[], false);
        println!("{out}"); // the screen, for `--nocapture`
        assert!(!ok, "{check} red must fail the command:\n{out}");
        assert_eq!(err.trim(), "relayctl: 1 check(s) red", "{out}");
        let line = Self::line(&out, check);
        assert!(
            line.starts_with("FAIL") && line.contains(says),
            "{line}\n{out}"
        );
        assert_eq!(
            out.lines().filter(|l| l.starts_with("FAIL")).count(),
            1,
            "{out}"
        );
        assert!(out.contains(&format!("→ {command}")), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_health_and_each_red_case() {
    let rig = Rig::start().await;
    let stack = rig.stack.clone();

    // Healthy.
    let (ok, out, err) = rig.status(&[], false);
    assert!(ok, "{out}\n{err}");
    for check in [
        "stack",
        "webhook",
        "queue",
        "dead-letter",
        "spilled",
        "quarantine",
        "alarms",
        "concurrency",
    ] {
        assert!(Rig::line(&out, check).starts_with("ok"), "{check}:\n{out}");
    }
    // moto's Lambda stand-in answers the default quota, nothing reserved.
    assert!(
        Rig::line(&out, "concurrency")
            .contains("account quota 1000 concurrent executions, 1000 unreserved"),
        "{out}"
    );
    assert!(
        Rig::line(&out, "webhook").contains("webhook 1 (hooks feeds,"),
        "{out}"
    );
    assert!(
        out.contains("Verified 42") && out.contains("Forwarded 40"),
        "{out}"
    );
    let (ok, json, _) = rig.status(&["--json"], false);
    assert!(ok);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["healthy"], true);
    assert_eq!(report["checks"].as_array().unwrap().len(), 9);

    // A new account's quota of 10 (GetAccountSettings from a moto whose stand-in answers it):
    // yellow, with the quota request; the command still succeeds.
    let small = moto_with_lambda_concurrency("10");
    let (ok, out, err) = rig.status_with(
        &[],
        false,
        &[("AWS_ENDPOINT_URL_LAMBDA", small.endpoint.as_str())],
    );
    assert!(ok, "{out}\n{err}");
    let line = Rig::line(&out, "concurrency");
    assert!(
        line.starts_with("warn")
            && line.contains("account quota 10 concurrent executions, 10 unreserved"),
        "{out}"
    );
    assert!(
        out.contains("→ aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value 1000"),
        "{out}"
    );
    // Reserved elsewhere in the account: a large quota with little unreserved warns too.
    let reserved = moto_with_lambda_concurrency("1000,60");
    let (ok, out, _) = rig.status_with(
        &[],
        false,
        &[("AWS_ENDPOINT_URL_LAMBDA", reserved.endpoint.as_str())],
    );
    assert!(
        ok && Rig::line(&out, "concurrency").starts_with("warn"),
        "{out}"
    );
    // Lambda cannot be read: yellow, with the reason.
    let down = closed_port_endpoint();
    let (ok, out, _) = rig.status_with(&[], false, &[("AWS_ENDPOINT_URL_LAMBDA", down.as_str())]);
    assert!(ok, "{out}");
    let line = Rig::line(&out, "concurrency");
    assert!(
        line.starts_with("warn") && line.contains("cannot read the account's Lambda settings"),
        "{out}"
    );

    // Without the platform's API secret the webhook is not checked: yellow, not red.
    let (ok, out, _) = rig.status(&[], true);
    assert!(ok, "{out}");
    assert!(Rig::line(&out, "webhook").starts_with("warn"), "{out}");

    // Each red case on its own.
    let fixture = &rig.fixture;
    fixture
        .sqs
        .send_message()
        .queue_url(&rig.dlq_url)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    rig.assert_red(
        "dead-letter",
        "1 message(s)",
        &format!("relayctl tail --queue-url {}, fix the consumer, then relayctl dead-letters move-back --stack {stack}", rig.dlq_url),
    );
    fixture
        .sqs
        .purge_queue()
        .queue_url(&rig.dlq_url)
        .send()
        .await
        .unwrap();

    // A spill redrive could not send (not an envelope) is named with its reason.
    for (prefix, check, says, command) in [
        (
            "undelivered/2026/11/27/1-ab.json",
            "spilled",
            "1 of the first 1 cannot be sent as they are (undelivered/2026/11/27/1-ab.json: not a \
             webhook envelope)",
            format!("relayctl redrive --stack {stack}"),
        ),
        (
            "quarantine/2026/11/27/1-ab",
            "quarantine",
            "1 ",
            format!("relayctl quarantine list --stack {stack}"),
        ),
    ] {
        fixture
            .s3
            .put_object()
            .bucket(&fixture.bucket)
            .key(prefix)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap();
        rig.assert_red(check, says, &command);
        fixture
            .s3
            .delete_object()
            .bucket(&fixture.bucket)
            .key(prefix)
            .send()
            .await
            .unwrap();
    }

    rig.cloudwatch
        .set_alarm_state()
        .alarm_name(&rig.alarm)
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap();
    let (ok, out, _) = rig.status(&[], false);
    assert!(!ok);
    assert!(
        Rig::line(&out, "alarms").starts_with("FAIL") && out.contains(&rig.alarm),
        "{out}"
    );
    rig.cloudwatch
        .set_alarm_state()
        .alarm_name(&rig.alarm)
        .state_value(StateValue::Ok)
        .state_reason("test")
        .send()
        .await
        .unwrap();

    // The platform disables the webhook after a failed delivery (nothing listens at the URL).
    let platform = rig.platform();
    platform
        .send_test(HookType::Feeds, &TestDelivery::default())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while platform.get_webhook(1).await.unwrap().disabled.is_none() {
        assert!(
            started.elapsed().as_secs() < 20,
            "the webhook was not disabled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    rig.assert_red(
        "webhook",
        "disabled by the platform",
        "relayctl webhooks --reenable 1",
    );
    platform
        .update_webhook(
            1,
            &WebhookUpdate {
                re_enable: Some(true),
                ..WebhookUpdate::default()
            },
        )
        .await
        .unwrap();

    // A second webhook added in the dashboard, pointing at the relay: its deliveries cannot be
    // verified until the relay holds its secret.
    let second = platform
        .create_webhook(&NewWebhook {
            url: rig.function_url.clone(),
            hooks: HookSet::none().with(HookType::Thumbnail),
            filter: Some("^cam-".into()),
        })
        .await
        .unwrap();
    rig.assert_red(
        "webhook",
        &format!("does not hold the secret of webhook {}", second.id),
        &format!("relayctl rotate --webhook-id {} --stack {stack}", second.id),
    );
    let first = platform.get_webhook(1).await.unwrap();
    let both = format!(
        r#"{{"webhooks":[{{"id":1,"current":"{}"}},{{"id":{},"current":"{}"}}]}}"#,
        first.secret.expose(),
        second.id,
        second.secret.expose()
    );
    let secrets = millicast_webhook_relay::aws::sdk::secrets_client(&fixture.sdk);
    secrets
        .put_secret_value()
        .secret_id(&rig.secret_id)
        .secret_string(&both)
        .send()
        .await
        .unwrap();
    let (ok, out, _) = rig.status(&[], false);
    assert!(ok, "{out}");
    assert!(
        Rig::line(&out, "webhook")
            .contains(&format!("{} (hooks thumbnails, filter ^cam-)", second.id)),
        "{out}"
    );

    // Deliveries of one webhook kept in quarantine (the relay read another secret when they
    // came): the webhook line says whose they are.
    let now = millicast_webhook_relay::relay::clock::now_ms();
    let body = millicast_webhooks::samples::json_sample("feeds-started", now).unwrap();
    let signature =
        millicast_webhooks::sign(second.secret.decode().unwrap().bytes(), body.as_bytes());
    let kept = millicast_webhook_relay::relay::quarantine::quarantine_key(now, "ab12", "req-1");
    fixture
        .s3
        .put_object()
        .bucket(&fixture.bucket)
        .key(&kept)
        .metadata("signature", &signature)
        .metadata("received", now.to_string())
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
    let (ok, out, _) = rig.status(&[], false);
    assert!(!ok);
    let line = Rig::line(&out, "webhook");
    assert!(
        line.starts_with("FAIL")
            && line.contains(&format!("1 recent delivery(ies) of webhook {}", second.id)),
        "{out}"
    );
    assert!(Rig::line(&out, "quarantine").starts_with("FAIL"), "{out}");
    fixture
        .s3
        .delete_object()
        .bucket(&fixture.bucket)
        .key(&kept)
        .send()
        .await
        .unwrap();

    // A failed delivery in the last hour.
    let dimension = Dimension::builder()
        .name("FunctionName")
        .value(format!("{}-fn", fixture.bucket))
        .build();
    rig.cloudwatch
        .put_metric_data()
        .namespace("MillicastWebhookRelay")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Failed")
                .dimensions(dimension)
                .timestamp(std::time::SystemTime::now().into())
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (ok, out, _) = rig.status(&[], false);
    assert!(!ok);
    assert!(
        Rig::line(&out, "last").starts_with("FAIL") && out.contains("Failed 1"),
        "{out}"
    );
    let (_, json, _) = rig.status(&["--json"], false);
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap()["healthy"],
        false
    );
}
