//! Several webhooks on one relay (issue: a secret per webhook, the webhook id on every message):
//! the local platform sends for two, then three webhooks at once while each is rotated in turn;
//! a webhook added in the dashboard is kept in quarantine until its secret is set, then
//! replayed. Every delivery the platform made is found where the relay put it, with the id of
//! the webhook that sent it.

use std::time::{Duration, Instant};

use crate::support::rig::*;
use crate::support::*;
use serde_json::Value;

/// Streams the traffic uses: `live-*` for the account-wide webhook, `cam-*` also for the
/// thumbnail-only and camera webhooks (their filter is `^cam-`).
const STREAMS: [&str; 3] = ["live-main", "cam-1", "cam-2"];

/// Rotates webhook `id` with relayctl while traffic flows; its last output line.
async fn rotate(rig: &Rig, id: i64) -> String {
    let mut rotate = rig.relayctl(&["rotate", "--webhook-id", &id.to_string()]);
    let output = tokio::task::spawn_blocking(move || rotate.output().unwrap())
        .await
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    );
    assert!(output.status.success(), "rotate {id}: {out}\n{err}");
    assert!(out.ends_with(", 0 lost"), "{out}");
    out
}

fn webhook_ids(webhooks: &[Value]) -> Vec<i64> {
    webhooks.iter().map(|w| w["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_then_three_webhooks_each_rotated_in_turn_lose_nothing() {
    let started = Instant::now();
    let rig = Rig::start(3, "5", false).await;
    let url = rig.deployment.url();

    // The account-wide webhook (everything but thumbnails), then a thumbnail-only one for the
    // cameras beside it, at its own path.
    let (ok, out, err) = rig.run(&[
        "register",
        "--hooks",
        "feeds,recordings,media,transcoder,viewer-connection",
    ]);
    assert!(ok, "{out}\n{err}");
    let (ok, out, err) = rig.run(&[
        "register",
        "--add",
        "--hooks",
        "thumbnails",
        "--filter",
        "^(cam-|relayctl-probe-)",
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("round trip proven"), "{out}");
    assert!(
        out.contains("also pointing at the relay: webhook 1 "),
        "{out}"
    );
    let webhooks = rig.platform.webhooks().await;
    let [first, second] = webhook_ids(&webhooks)[..] else {
        panic!("{webhooks:?}")
    };
    assert_eq!(webhooks[0]["url"], url.as_str());
    assert_eq!(
        webhooks[1]["url"],
        format!("{}/w/{second}", url.trim_end_matches('/'))
    );

    // With two webhooks, rotate must be told which.
    let (ok, _, err) = rig.run(&["rotate"]);
    assert!(!ok && err.contains("several webhooks point at"), "{err}");

    let consumer = Consumer::start(&rig.deployment.fixture);
    let run = rig
        .platform
        .start_traffic_on(1200, 60.0, &STREAMS, 0.3)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rotated_first = rotate(&rig, first).await;
    let rotated_second = rotate(&rig, second).await;
    rig.platform
        .wait_traffic(&run, Duration::from_secs(120))
        .await;

    // A third webhook for the cameras' feeds: the same feeds events reach two webhooks, with
    // identical bodies, and each is its own message with its own webhook id.
    let (ok, out, err) = rig.run(&["register", "--add", "--hooks", "feeds", "--filter", "^cam-"]);
    assert!(ok, "{out}\n{err}");
    let third = webhook_ids(&rig.platform.webhooks().await)[2];
    let run = rig
        .platform
        .start_traffic_on(1200, 60.0, &STREAMS, 0.3)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut rotations = vec![rotated_first, rotated_second];
    for id in [third, first, second] {
        rotations.push(rotate(&rig, id).await);
    }
    let traffic = rig
        .platform
        .wait_traffic(&run, Duration::from_secs(120))
        .await;

    let (ok, out, _) = rig.run(&["webhooks"]);
    assert!(ok);
    for id in [first, second, third] {
        assert!(
            out.lines().any(|l| l.starts_with('*')
                && l.contains(&format!(" {id} "))
                && l.ends_with("its secret")),
            "{out}"
        );
    }
    let consumed = consumer.finish(&rig.deployment.fixture).await;
    let (checked, rejected) = assert_every_delivery_arrived(&rig, consumed, true).await;
    println!(
        "three webhooks: {checked} deliveries (last run at {:.0}/s), {rejected} quarantined and \
         recovered, 0 lost, in {:.0} s; {}",
        traffic["rate"].as_f64().unwrap(),
        started.elapsed().as_secs_f64(),
        rotations.join(" | ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_webhook_is_kept_until_its_secret_is_set_then_replayed() {
    let rig = Rig::start(2, "2", false).await;
    let (ok, out, err) = rig.run(&["register"]);
    assert!(ok, "{out}\n{err}");
    // Added in the dashboard, at the function URL itself; relayctl is not told.
    let platform = millicast_webhook_relay::operator::platform::PlatformClient::new(
        &rig.platform.url,
        crate::support::platform::API_SECRET,
    )
    .unwrap();
    let added = platform
        .create_webhook(&millicast_webhook_relay::operator::platform::NewWebhook {
            url: rig.deployment.url(),
            hooks: "feeds,thumbnails".parse().unwrap(),
            filter: Some("^cam-".into()),
        })
        .await
        .unwrap();
    let consumer = Consumer::start(&rig.deployment.fixture);
    let run = rig
        .platform
        .start_traffic_on(300, 40.0, &STREAMS, 0.3)
        .await;
    rig.platform
        .wait_traffic(&run, Duration::from_secs(60))
        .await;
    let kept = rig
        .platform
        .deliveries()
        .await
        .iter()
        .filter(|d| d["webhookId"] == added.id && d["status"] == 401)
        .count();
    assert!(
        kept > 20,
        "{kept} of the dashboard webhook's deliveries refused"
    );

    // status names the webhook the relay cannot verify.
    let (ok, out, _) = rig.run(&["status"]);
    assert!(!ok);
    assert!(
        out.lines().any(|l| l.starts_with("FAIL")
            && l.contains("webhook")
            && l.contains(&format!("webhook {}", added.id))),
        "{out}"
    );

    // The operator copies its secret from the dashboard, then replays.
    let output = run_with_input(
        rig.relayctl(&["secret", "set", "--webhook-id", &added.id.to_string()]),
        format!("{}\n", added.secret.expose()).as_bytes(),
    );
    let stored = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stored}");
    assert!(
        stored.contains(&format!("webhook {}'s new secret", added.id)),
        "{stored}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ok, replayed, err) = rig.run(&["quarantine", "replay"]);
    assert!(ok, "{replayed}\n{err}");
    assert!(
        replayed.contains(&format!("replayed {kept}, kept 0")),
        "{replayed}"
    );

    // A forged delivery (a secret no webhook has) verifies against none, at either path.
    let forged_secret = "Zm9yZ2VkLWJ5LXNvbWVib2R5LWVsc2U=";
    for path in ["", &format!("w/{}", added.id)] {
        let (ok, out, err) = rig.run(&[
            "send",
            "--url",
            &format!("{}{path}", rig.deployment.url()),
            "--secret",
            forged_secret,
            "feeds-started",
        ]);
        assert!(
            !ok && err.contains("401 invalid_signature"),
            "{path}: {out}\n{err}"
        );
    }
    // A genuine delivery of webhook 1 at the added webhook's path is checked against that
    // webhook's secrets only (the path reaches the relay): refused and kept, then replayed.
    let first = platform.get_webhook(1).await.unwrap();
    let (ok, out, err) = rig.run(&[
        "send",
        "--url",
        &format!("{}w/{}", rig.deployment.url(), added.id),
        "--secret",
        first.secret.expose(),
        "media-completed",
    ]);
    assert!(!ok && err.contains("401 invalid_signature"), "{out}\n{err}");
    let (ok, out, _) = rig.run(&["quarantine", "replay"]);
    assert!(!ok && out.contains("replayed 1, kept 2"), "{out}");
    for key in rig.deployment.fixture.keys().await {
        if key.starts_with("quarantine/") {
            rig.deployment.fixture.delete(&key).await;
        }
    }
    let consumed = consumer.finish(&rig.deployment.fixture).await;
    let (checked, rejected) = assert_every_delivery_arrived(&rig, consumed, true).await;
    println!(
        "dashboard webhook: {checked} deliveries, {rejected} kept until its secret was set, all \
         replayed with webhook id {}, 0 lost",
        added.id
    );
}
