//! `register`, `rotate` and `webhooks`: the relay and the platform's webhooks REST API.

use std::time::Duration;

use millicast_webhook_relay::aws::secretsmanager::{SecretStored, read_secrets};
use millicast_webhook_relay::operator::lifecycle::{
    RegisterOptions, RoundTrip, describe_webhooks, points_at, register, rotate, unregister,
};
use millicast_webhook_relay::operator::platform::{
    HookSet, HookType, PlatformClient, Webhook, WebhookUpdate,
};
use millicast_webhook_relay::relay::secrets::SecretSet;
use millicast_webhooks::SecretUsed;

use crate::aws_clients::clients;
use crate::target::{RelayArgs, StackArgs, pick};

fn platform() -> Result<PlatformClient, String> {
    PlatformClient::from_env().map_err(|e| e.to_string())
}

/// Progress goes to standard error; the result line to standard output.
fn progress(line: &str) {
    eprintln!("{line}");
}

fn round_trip_line(round_trip: &RoundTrip) -> Result<String, String> {
    match round_trip {
        RoundTrip::Proven { elapsed, key } => Ok(format!(
            "round trip proven in {:.2} s (platform → relay → s3: {key})",
            elapsed.as_secs_f64()
        )),
        RoundTrip::NotTried(why) => Ok(format!("round trip not tried: {why}")),
        RoundTrip::Failed(why) => Err(format!("round trip not proven: {why}")),
    }
}

pub async fn run_register(
    relay: &RelayArgs,
    hooks: Option<&[String]>,
    filter: Option<String>,
    add: bool,
    webhook_id: Option<i64>,
    timeout: u64,
) -> Result<(), String> {
    let hooks = hooks
        .map(|words| {
            words.iter().try_fold(HookSet::none(), |set, word| {
                word.parse::<HookType>()
                    .map(|hook| set.with(hook))
                    .map_err(|e| e.to_string())
            })
        })
        .transpose()?;
    let platform = platform()?;
    let target = relay.resolve().await?;
    let clients = clients().await?;
    let options = RegisterOptions {
        hooks,
        filter,
        add,
        webhook_id,
        probe_timeout: Duration::from_secs(timeout),
    };
    let mut say = progress;
    let registered = register(&platform, &clients, &target, &options, &mut say).await?;
    let how = match (registered.created, registered.updated) {
        (true, _) => "created",
        (false, true) => "adopted and updated",
        (false, false) => "adopted",
    };
    let secret = match registered.secret {
        SecretStored::Replaced { .. } => "secret stored",
        SecretStored::Unchanged => "secret already stored",
    };
    let round_trip = round_trip_line(&registered.round_trip);
    out!(
        "webhook {} {how} for {} (hooks {}); {secret}; {} recovered from quarantine; {}",
        registered.webhook.id,
        registered.webhook.url,
        registered.webhook.hooks(),
        registered.recovered,
        round_trip.as_deref().unwrap_or("round trip not proven")
    );
    if !registered.others.is_empty() {
        out!(
            "also pointing at the relay: {}",
            describe_webhooks(&registered.others)
        );
    }
    round_trip.map(|_| ())
}

pub async fn run_unregister(
    relay: &RelayArgs,
    webhook_id: Option<i64>,
    keep_webhook: bool,
) -> Result<(), String> {
    let platform = platform()?;
    let target = relay.resolve().await?;
    let clients = clients().await?;
    let mut say = progress;
    let done = unregister(
        &platform,
        &clients,
        &target,
        webhook_id,
        keep_webhook,
        &mut say,
    )
    .await?;
    for webhook in &done {
        out!(
            "webhook {}: {}; {}",
            webhook.webhook_id,
            if webhook.deleted {
                "deleted on the platform"
            } else {
                "kept on the platform"
            },
            if webhook.secret_removed {
                "its secret removed from the relay"
            } else {
                "the relay held no secret for it"
            }
        );
    }
    if done.is_empty() {
        out!("nothing to unregister");
    }
    Ok(())
}

pub async fn run_rotate(
    relay: &RelayArgs,
    webhook_id: Option<i64>,
    timeout: u64,
) -> Result<(), String> {
    let platform = platform()?;
    let target = relay.resolve().await?;
    let clients = clients().await?;
    let resume_args = relay_args_text(relay);
    let mut say = progress;
    let rotated = rotate(
        &platform,
        &clients,
        &target,
        webhook_id,
        Duration::from_secs(timeout),
        &resume_args,
        &mut say,
    )
    .await
    .map_err(|f| {
        format!(
            "rotate failed: {}; state: {}; resume with: {}",
            f.error, f.state, f.resume
        )
    })?;
    if let Some(window) = rotated.quarantine_window {
        eprintln!(
            "longest quarantine window: {:.2} s after the renewal",
            window.as_secs_f64()
        );
    }
    let round_trip = round_trip_line(&rotated.round_trip);
    match &round_trip {
        Ok(line) => eprintln!("{line}"),
        Err(line) => eprintln!("{line}"),
    }
    if rotated.unverified == 0 {
        out!(
            "rotated webhook {}: {} deliveries recovered from quarantine, 0 lost",
            rotated.webhook_id,
            rotated.recovered
        );
    } else {
        out!(
            "rotated webhook {}: {} deliveries recovered from quarantine, {} in quarantine verify with \
             neither secret (forged, or lost: relayctl quarantine list)",
            rotated.webhook_id,
            rotated.recovered,
            rotated.unverified
        );
    }
    round_trip.map(|_| ())
}

/// The flags naming the relay, for resume commands.
fn relay_args_text(relay: &RelayArgs) -> String {
    let mut args = vec![relay.stack.as_args()];
    for (flag, value) in [
        ("--function-url", &relay.function_url),
        ("--secret-id", &relay.secret_id),
        ("--queue-url", &relay.queue_url),
        ("--bucket", &relay.bucket),
    ] {
        if let Some(value) = value {
            args.push(format!("{flag} {value}"));
        }
    }
    args.retain(|a| !a.is_empty());
    args.join(" ")
}

pub async fn run_webhooks(
    stack: &StackArgs,
    function_url: Option<&String>,
    reenable: Option<i64>,
    show_secret: bool,
) -> Result<(), String> {
    let platform = platform()?;
    if let Some(id) = reenable {
        let webhook = platform
            .update_webhook(
                id,
                &WebhookUpdate {
                    re_enable: Some(true),
                    ..WebhookUpdate::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        out!("re-enabled webhook {} ({})", webhook.id, webhook.url);
        return Ok(());
    }
    let outputs = stack.outputs().await?;
    let ours = match (function_url, &outputs) {
        (None, None) => None,
        _ => Some(pick(
            function_url,
            outputs.as_ref(),
            "FunctionUrl",
            "--function-url",
        )?),
    };
    // Whether the relay holds each webhook's secret, when the stack names its secret.
    let stored: Option<SecretSet> = match outputs.as_ref().and_then(|o| o.get("WebhookSecretArn")) {
        Some(secret_id) => {
            let clients = clients().await?;
            read_secrets(&clients.secrets, secret_id).await.ok()
        }
        None => None,
    };
    let webhooks = platform.all_webhooks().await.map_err(|e| e.to_string())?;
    out!(
        "  {:>6}  {:<56}  {:<58}  {:<16}  {:<24}  RELAY HOLDS",
        "ID",
        "URL",
        "HOOKS",
        "FILTER",
        "DISABLED"
    );
    let mut pointing = Vec::new();
    for webhook in &webhooks {
        let ours = ours.as_ref().is_some_and(|url| points_at(webhook, url));
        if ours {
            pointing.push(webhook.clone());
        }
        let disabled = webhook
            .disabled
            .as_ref()
            .map(|d| format!("until {}: {}", d.until, d.reason))
            .unwrap_or_else(|| "-".into());
        let holds = match (&stored, ours) {
            (_, false) => "-".to_owned(),
            (None, true) => "? (no WebhookSecretArn to read)".to_owned(),
            (Some(stored), true) => relay_holds(stored, webhook).to_owned(),
        };
        out!(
            "{} {:>6}  {:<56}  {:<58}  {:<16}  {disabled:<24}  {holds}",
            if ours { '*' } else { ' ' },
            webhook.id,
            webhook.url,
            webhook.hooks().to_string(),
            webhook.filter.as_deref().unwrap_or("-"),
        );
        if show_secret {
            out!("          secret {}", webhook.secret.expose());
        }
    }
    eprintln!(
        "{} webhook(s){}",
        webhooks.len(),
        match pointing.len() {
            0 => String::new(),
            _ => format!("; pointing at the relay: {}", describe_webhooks(&pointing)),
        }
    );
    Ok(())
}

/// Whether the relay can verify `webhook`'s deliveries: it holds the secret the platform signs
/// with now (under the webhook's id, or without id), only as previous, or not at all.
fn relay_holds(stored: &SecretSet, webhook: &Webhook) -> &'static str {
    let Ok(secret) = webhook.secret.decode() else {
        return "? (the platform's secret is not base64)";
    };
    match stored.holder_of(&secret) {
        Some((_, SecretUsed::Current)) => "its secret",
        Some((_, SecretUsed::Previous)) => "its secret, as previous only",
        None => "no: its deliveries are quarantined (relayctl secret set --webhook-id)",
    }
}
