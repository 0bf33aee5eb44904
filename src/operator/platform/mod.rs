//! A typed client of the platform's Webhooks REST API (docs/platform.md, "The REST calls used"):
//! what `relayctl` uses to register the relay, change its hook types and renew its secret.
//!
//! Every answer is one of the platform's three envelopes — `success` (the `data`), `fail`
//! (HTTP 400, `data` = what is wrong per field) and `error` (`message`, `code`) — and becomes
//! either the typed `data` or one [`PlatformError`]. Errors are one line and never quote the API
//! secret or a webhook secret: text coming from the server is redacted and cut short before it
//! reaches an error.

mod answer;
mod client;
mod error;
mod redact;
#[cfg(test)]
mod tests;
mod webhook;

use std::time::Duration;

pub use client::{PlatformClient, same_url};
pub use error::PlatformError;
pub use webhook::{
    Disabled, HookSet, HookType, NewWebhook, TestDelivery, UnknownHookType, Webhook, WebhookSecret,
    WebhookUpdate,
};

/// The platform's API base URL (default: [`DEFAULT_API_URL`]).
pub const API_URL_VAR: &str = "MILLICAST_API_URL";
/// The account's API secret, sent as `Authorization: Bearer <secret>`.
pub const API_SECRET_VAR: &str = "MILLICAST_API_SECRET";
pub const DEFAULT_API_URL: &str = "https://api.millicast.com";

/// Whole request, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `itemCount` used by [`PlatformClient::all_webhooks`]: the documented default, so the one
/// page size the platform is known to accept.
pub const LIST_PAGE_SIZE: u32 = 10;
/// Pages [`PlatformClient::all_webhooks`] reads at most, so that a server that keeps inventing
/// ids cannot keep it busy forever.
pub const MAX_LIST_PAGES: usize = 1000;

/// Answers bigger than this are not the platform's (a page of 100 webhooks is ~50 KB).
pub(crate) const MAX_ANSWER_BYTES: usize = 4 << 20;
/// Longest piece of server text quoted in an error.
pub(crate) const EXCERPT_CHARS: usize = 200;
pub(crate) const REDACTED: &str = "<redacted>";
