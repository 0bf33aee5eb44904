//! A typed client of the platform's Webhooks REST API (MILLICAST.md, "Webhooks REST API"):
//! what `relayctl` uses to register the relay, change its hook types and renew its secret.
//!
//! Every answer is one of the platform's three envelopes — `success` (the `data`), `fail`
//! (HTTP 400, `data` = what is wrong per field) and `error` (`message`, `code`) — and becomes
//! either the typed `data` or one [`PlatformError`]. Errors are one line and never quote the API
//! secret or a webhook secret: text coming from the server is redacted and cut short before it
//! reaches an error.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::secrets::{Secret, SecretValueError};

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
const MAX_ANSWER_BYTES: usize = 4 << 20;
/// Longest piece of server text quoted in an error.
const EXCERPT_CHARS: usize = 200;
const REDACTED: &str = "<redacted>";

// --------------------------------------------------------------------------------------------
// The webhook object

/// A webhook's base64 signing secret. `Debug` and `Display` never show it: use [`expose`].
///
/// [`expose`]: WebhookSecret::expose
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(base64: impl Into<String>) -> Self {
        Self(base64.into())
    }

    /// The base64 text, exactly as the platform returned it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The decoded key the platform signs deliveries with.
    pub fn decode(&self) -> Result<Secret, SecretValueError> {
        Secret::from_base64(&self.0)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Set by the platform when too many deliveries timed out; `reEnable` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Disabled {
    #[serde(default, deserialize_with = "null_as_default")]
    pub until: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub reason: String,
}

/// The `data` of POST, GET and PUT /api/webhooks; one element of the list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub secret: WebhookSecret,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_feed_hooks: bool,
    /// Deprecated by the platform in favour of `is_media_hooks`; still reported.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_recording_hooks: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_thumbnail_hooks: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_transcoder_hooks: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_media_hooks: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_viewer_connection_hooks: bool,
    /// A regular expression on stream names; `None` = every stream.
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub disabled: Option<Disabled>,
}

impl Webhook {
    pub fn hooks(&self) -> HookSet {
        HookSet::from(self)
    }
}

impl fmt::Display for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webhook {} {} hooks={}", self.id, self.url, self.hooks())?;
        if let Some(filter) = &self.filter {
            write!(f, " filter={filter}")?;
        }
        if let Some(disabled) = &self.disabled {
            write!(
                f,
                " disabled until {} ({})",
                disabled.until, disabled.reason
            )?;
        }
        Ok(())
    }
}

/// `null` reads as the default too: the API marks these fields nullable.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

// --------------------------------------------------------------------------------------------
// Hook types

/// One kind of event a webhook can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookType {
    Feeds,
    Recordings,
    Media,
    Thumbnail,
    Transcoder,
    ViewerConnection,
}

impl HookType {
    pub const ALL: [HookType; 6] = [
        HookType::Feeds,
        HookType::Recordings,
        HookType::Media,
        HookType::Thumbnail,
        HookType::Transcoder,
        HookType::ViewerConnection,
    ];

    /// The webhook object's flag for this type.
    pub fn flag_name(self) -> &'static str {
        match self {
            HookType::Feeds => "isFeedHooks",
            HookType::Recordings => "isRecordingHooks",
            HookType::Media => "isMediaHooks",
            HookType::Thumbnail => "isThumbnailHooks",
            HookType::Transcoder => "isTranscoderHooks",
            HookType::ViewerConnection => "isViewerConnectionHooks",
        }
    }

    /// The last segment of `POST /api/webhooks/test/{type}`.
    pub fn test_path_name(self) -> &'static str {
        match self {
            HookType::Feeds => "Feeds",
            HookType::Recordings => "Recordings",
            HookType::Media => "Media",
            HookType::Thumbnail => "Thumbnail",
            HookType::Transcoder => "Transcoder",
            HookType::ViewerConnection => "ViewerConnection",
        }
    }

    /// The name shown to people (and in [`HookSet`]'s display).
    pub fn name(self) -> &'static str {
        match self {
            HookType::Feeds => "feeds",
            HookType::Recordings => "recordings",
            HookType::Media => "media",
            HookType::Thumbnail => "thumbnails",
            HookType::Transcoder => "transcoder",
            HookType::ViewerConnection => "viewerConnection",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for HookType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HookType {
    type Err = UnknownHookType;

    /// `feeds`, `recordings`, `media`, `thumbnails`/`thumbnail`, `transcoder`,
    /// `viewer-connection`/`viewerConnection`, in any case.
    fn from_str(word: &str) -> Result<Self, Self::Err> {
        match word.trim().to_ascii_lowercase().as_str() {
            "feeds" => Ok(HookType::Feeds),
            "recordings" => Ok(HookType::Recordings),
            "media" => Ok(HookType::Media),
            "thumbnails" | "thumbnail" => Ok(HookType::Thumbnail),
            "transcoder" => Ok(HookType::Transcoder),
            "viewer-connection" | "viewerconnection" => Ok(HookType::ViewerConnection),
            _ => Err(UnknownHookType(one_line(word, 40))),
        }
    }
}

/// A word that names no hook type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHookType(pub String);

impl fmt::Display for UnknownHookType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown hook type `{}`: use feeds, recordings, media, thumbnails, transcoder or \
             viewer-connection",
            self.0
        )
    }
}

impl std::error::Error for UnknownHookType {}

/// Which hook types are on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HookSet(u8);

impl HookSet {
    pub const fn none() -> Self {
        Self(0)
    }

    pub const fn all() -> Self {
        Self(0b11_1111)
    }

    pub fn with(self, hook: HookType) -> Self {
        Self(self.0 | hook.bit())
    }

    pub fn without(self, hook: HookType) -> Self {
        Self(self.0 & !hook.bit())
    }

    pub fn contains(self, hook: HookType) -> bool {
        self.0 & hook.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The types that are on, in [`HookType::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = HookType> {
        HookType::ALL
            .into_iter()
            .filter(move |hook| self.contains(*hook))
    }
}

impl From<&Webhook> for HookSet {
    fn from(webhook: &Webhook) -> Self {
        [
            (HookType::Feeds, webhook.is_feed_hooks),
            (HookType::Recordings, webhook.is_recording_hooks),
            (HookType::Media, webhook.is_media_hooks),
            (HookType::Thumbnail, webhook.is_thumbnail_hooks),
            (HookType::Transcoder, webhook.is_transcoder_hooks),
            (
                HookType::ViewerConnection,
                webhook.is_viewer_connection_hooks,
            ),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(hook, _)| hook)
        .collect()
    }
}

impl FromIterator<HookType> for HookSet {
    fn from_iter<I: IntoIterator<Item = HookType>>(iter: I) -> Self {
        iter.into_iter().fold(HookSet::none(), HookSet::with)
    }
}

impl fmt::Display for HookSet {
    /// `feeds,recordings,media,thumbnails,transcoder,viewerConnection`; `none` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, hook) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(hook.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for HookSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HookSet({self})")
    }
}

impl FromStr for HookSet {
    type Err = UnknownHookType;

    /// `all`, `none`, or hook type words separated by commas (`feeds,thumbnails`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(HookSet::all()),
            "none" => Ok(HookSet::none()),
            _ => text.split(',').map(HookType::from_str).collect(),
        }
    }
}

// --------------------------------------------------------------------------------------------
// Request bodies

/// The body of `POST /api/webhooks`.
///
/// Every flag is sent, `false` ones too: the platform does not document its defaults.
/// `isRecordingHooks` (deprecated for `isMediaHooks`) is sent as the set says, like the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: String,
    pub hooks: HookSet,
    /// Sent only when set.
    pub filter: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewWebhookBody<'a> {
    url: &'a str,
    is_feed_hooks: bool,
    is_recording_hooks: bool,
    is_thumbnail_hooks: bool,
    is_transcoder_hooks: bool,
    is_media_hooks: bool,
    is_viewer_connection_hooks: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a str>,
}

impl Serialize for NewWebhook {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        NewWebhookBody {
            url: &self.url,
            is_feed_hooks: self.hooks.contains(HookType::Feeds),
            is_recording_hooks: self.hooks.contains(HookType::Recordings),
            is_thumbnail_hooks: self.hooks.contains(HookType::Thumbnail),
            is_transcoder_hooks: self.hooks.contains(HookType::Transcoder),
            is_media_hooks: self.hooks.contains(HookType::Media),
            is_viewer_connection_hooks: self.hooks.contains(HookType::ViewerConnection),
            filter: self.filter.as_deref(),
        }
        .serialize(serializer)
    }
}

/// The body of `PUT /api/webhooks/{id}`: only the fields that are set are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `true` = the platform generates a new signing secret, used at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_secret: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_feed_hooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recording_hooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_thumbnail_hooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_transcoder_hooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_media_hooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_viewer_connection_hooks: Option<bool>,
    /// `true` = re-enable a webhook the platform disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_enable: Option<bool>,
    /// `Some(Some(regex))` replaces the filter; `Some(None)` sends `filter: null`, which the
    /// local stand-in reads as "no filter" (MILLICAST.md only says the field is nullable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Option<String>>,
}

impl WebhookUpdate {
    /// Sets every `is*Hooks` flag: on for the types in `hooks`, off for the others.
    pub fn with_hooks(mut self, hooks: HookSet) -> Self {
        self.is_feed_hooks = Some(hooks.contains(HookType::Feeds));
        self.is_recording_hooks = Some(hooks.contains(HookType::Recordings));
        self.is_thumbnail_hooks = Some(hooks.contains(HookType::Thumbnail));
        self.is_transcoder_hooks = Some(hooks.contains(HookType::Transcoder));
        self.is_media_hooks = Some(hooks.contains(HookType::Media));
        self.is_viewer_connection_hooks = Some(hooks.contains(HookType::ViewerConnection));
        self
    }

    pub fn is_empty(&self) -> bool {
        *self == WebhookUpdate::default()
    }
}

/// The optional body of `POST /api/webhooks/test/{type}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestDelivery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcoder_name: Option<String>,
}

// --------------------------------------------------------------------------------------------
// Errors

/// Why a call to the platform failed. `Display` is one line and quotes neither the API secret
/// nor a webhook secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformError {
    /// `MILLICAST_API_SECRET` unset or empty.
    MissingApiSecret,
    /// The API secret cannot be sent in an HTTP header.
    InvalidApiSecret,
    InvalidBaseUrl {
        url: String,
        reason: String,
    },
    /// The HTTP client could not be set up (TLS).
    HttpClient {
        cause: String,
    },
    /// 401 or 403: the API secret was refused.
    Unauthorized {
        status: u16,
        message: String,
    },
    /// 404 in the `error` envelope; `id` when the call was about one webhook.
    NotFound {
        id: Option<i64>,
        message: String,
    },
    /// The `fail` envelope: what is wrong, field by field (an empty name when the platform
    /// gave no field).
    Invalid {
        fields: Vec<(String, String)>,
    },
    /// Any other `error` envelope.
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// No HTTP answer: connection refused, timeout, DNS, TLS...
    Network {
        url: String,
        cause: String,
    },
    /// An answer that is not one of the platform's envelopes, or whose `data` is not what the
    /// call returns.
    BadResponse {
        url: String,
        status: u16,
        cause: String,
    },
    /// [`PlatformClient::all_webhooks`] could not reach the end of the list: still new ids
    /// after [`MAX_LIST_PAGES`] pages, or pages that do not advance.
    Paging {
        pages: usize,
        webhooks: usize,
        cause: String,
    },
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::MissingApiSecret => write!(
                f,
                "{API_SECRET_VAR} is not set: set it to the account's API secret from the \
                 dashboard (not a webhook secret)"
            ),
            PlatformError::InvalidApiSecret => write!(
                f,
                "the API secret contains characters that cannot be sent in an HTTP header: \
                 check {API_SECRET_VAR}"
            ),
            PlatformError::InvalidBaseUrl { url, reason } => write!(
                f,
                "invalid platform API URL `{url}`: {reason} (check {API_URL_VAR})"
            ),
            PlatformError::HttpClient { cause } => {
                write!(f, "cannot set up the HTTP client: {cause}")
            }
            PlatformError::Unauthorized { status, message } => write!(
                f,
                "the platform refused the API secret ({}: {message}): check {API_SECRET_VAR}",
                status_text(*status)
            ),
            PlatformError::NotFound { id: Some(id), .. } => write!(f, "webhook {id} not found"),
            PlatformError::NotFound { id: None, message } => write!(f, "not found: {message}"),
            PlatformError::Invalid { fields } if fields.is_empty() => {
                f.write_str("the platform rejected the request (without saying why)")
            }
            PlatformError::Invalid { fields } => {
                f.write_str("the platform rejected the request: ")?;
                for (i, (field, message)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    if field.is_empty() {
                        f.write_str(message)?;
                    } else {
                        write!(f, "{field}: {message}")?;
                    }
                }
                Ok(())
            }
            PlatformError::Api {
                status,
                code,
                message,
            } => {
                write!(
                    f,
                    "the platform answered {}: {message}",
                    status_text(*status)
                )?;
                match code {
                    Some(code) if *code != status.to_string() => write!(f, " (code {code})"),
                    _ => Ok(()),
                }
            }
            PlatformError::Network { url, cause } => write!(f, "cannot reach {url}: {cause}"),
            PlatformError::BadResponse { url, status, cause } => write!(
                f,
                "unexpected answer from {url} (HTTP {}): {cause}",
                status_text(*status)
            ),
            PlatformError::Paging {
                pages,
                webhooks,
                cause,
            } => write!(
                f,
                "cannot list every webhook (stopped after {pages} pages, {webhooks} webhooks): \
                 {cause}"
            ),
        }
    }
}

impl std::error::Error for PlatformError {}

fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

// --------------------------------------------------------------------------------------------
// The client

/// A client of the Webhooks REST API of one account (its API secret).
#[derive(Clone)]
pub struct PlatformClient {
    http: reqwest::Client,
    /// Without a trailing `/`.
    base_url: String,
    /// Kept to redact it from anything the server sends back.
    api_secret: String,
    authorization: HeaderValue,
}

impl fmt::Debug for PlatformClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformClient")
            .field("base_url", &self.base_url)
            .field("api_secret", &REDACTED)
            .finish()
    }
}

impl PlatformClient {
    /// `base_url` is the API host (`https://api.millicast.com`), optionally with a path prefix.
    pub fn new(base_url: &str, api_secret: &str) -> Result<Self, PlatformError> {
        let api_secret = api_secret.trim();
        if api_secret.is_empty() {
            return Err(PlatformError::MissingApiSecret);
        }
        let base_url = checked_base_url(base_url, api_secret)?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {api_secret}"))
            .map_err(|_| PlatformError::InvalidApiSecret)?;
        // Keeps the secret out of reqwest's Debug output of requests.
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would turn a POST into a GET or carry the secret to another host:
            // reported instead (BadResponse) so that the URL gets fixed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "millicast-webhook-relay/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|err| PlatformError::HttpClient {
                cause: sanitize(&error_chain(&err), api_secret),
            })?;
        Ok(Self {
            http,
            base_url,
            api_secret: api_secret.to_owned(),
            authorization,
        })
    }

    /// `MILLICAST_API_URL` (default [`DEFAULT_API_URL`]) and `MILLICAST_API_SECRET` (required).
    pub fn from_env() -> Result<Self, PlatformError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PlatformError> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let base_url = set(API_URL_VAR).unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let api_secret = set(API_SECRET_VAR).ok_or(PlatformError::MissingApiSecret)?;
        Self::new(&base_url, &api_secret)
    }

    /// The API base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /api/webhooks`.
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<Webhook, PlatformError> {
        let body = json_body(webhook)?;
        let answer = self
            .call(Method::POST, "/api/webhooks", &[], Some(body), None)
            .await?;
        answer.decode("a webhook", &self.api_secret)
    }

    /// `GET /api/webhooks/{id}`, secret included.
    pub async fn get_webhook(&self, id: i64) -> Result<Webhook, PlatformError> {
        let path = format!("/api/webhooks/{id}");
        let answer = self.call(Method::GET, &path, &[], None, Some(id)).await?;
        answer.decode("a webhook", &self.api_secret)
    }

    /// `PUT /api/webhooks/{id}`; after `refresh_secret`, the webhook holds the new secret.
    pub async fn update_webhook(
        &self,
        id: i64,
        update: &WebhookUpdate,
    ) -> Result<Webhook, PlatformError> {
        let body = json_body(update)?;
        let path = format!("/api/webhooks/{id}");
        let answer = self
            .call(Method::PUT, &path, &[], Some(body), Some(id))
            .await?;
        answer.decode("a webhook", &self.api_secret)
    }

    /// `DELETE /api/webhooks/{id}`.
    pub async fn delete_webhook(&self, id: i64) -> Result<(), PlatformError> {
        let path = format!("/api/webhooks/{id}");
        let answer = self
            .call(Method::DELETE, &path, &[], None, Some(id))
            .await?;
        answer.expect_true(&self.api_secret)
    }

    /// One page of `GET /api/webhooks/list`. Whether `starting_id` itself is included is not
    /// documented. `item_count` unset = the platform's default (10).
    pub async fn list_webhooks(
        &self,
        starting_id: Option<i64>,
        item_count: Option<u32>,
        descending: bool,
    ) -> Result<Vec<Webhook>, PlatformError> {
        let mut query = Vec::new();
        if let Some(starting_id) = starting_id {
            query.push(("startingId", starting_id.to_string()));
        }
        if let Some(item_count) = item_count {
            query.push(("itemCount", item_count.to_string()));
        }
        query.push(("isDescending", descending.to_string()));
        let answer = self
            .call(Method::GET, "/api/webhooks/list", &query, None, None)
            .await?;
        answer.decode("a list of webhooks", &self.api_secret)
    }

    /// Every webhook of the account, in ascending id order.
    ///
    /// Pages with `startingId` = the highest id seen so far and keeps each id once, stopping at
    /// the first page that brings no new id: correct whether `startingId` is inclusive or not.
    /// [`PlatformError::Paging`] when the pages do not advance or never end.
    pub async fn all_webhooks(&self) -> Result<Vec<Webhook>, PlatformError> {
        every_page(|starting_id| self.list_webhooks(starting_id, Some(LIST_PAGE_SIZE), false)).await
    }

    /// `POST /api/webhooks/test/{type}`: the platform then delivers one test event of that type.
    pub async fn send_test(
        &self,
        hook: HookType,
        delivery: &TestDelivery,
    ) -> Result<(), PlatformError> {
        let body = json_body(delivery)?;
        let path = format!("/api/webhooks/test/{}", hook.test_path_name());
        let answer = self
            .call(Method::POST, &path, &[], Some(body), None)
            .await?;
        answer.expect_true(&self.api_secret)
    }

    /// The webhook registered for `url` (the lowest id if several), comparing URLs without a
    /// trailing `/` and with the scheme and host in lower case.
    pub async fn find_by_url(&self, url: &str) -> Result<Option<Webhook>, PlatformError> {
        let wanted = comparable_url(url);
        Ok(self
            .all_webhooks()
            .await?
            .into_iter()
            .find(|webhook| comparable_url(&webhook.url) == wanted))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        about: Option<i64>,
    ) -> Result<Success, PlatformError> {
        let url = self.url(path, query)?;
        // Credentials in the base URL are refused by `new`, so the URL can be shown as is.
        let shown = url.to_string();
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let network = |err: reqwest::Error| PlatformError::Network {
            url: shown.clone(),
            cause: sanitize(&network_cause(&err), &self.api_secret),
        };
        let mut response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(PlatformError::BadResponse {
                    url: shown,
                    status,
                    cause: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
                });
            }
            answer.extend_from_slice(&chunk);
        }
        let context = Context {
            url: &shown,
            about,
            api_secret: &self.api_secret,
        };
        let data = interpret(status, &answer, location.as_deref(), &context)?;
        Ok(Success {
            url: shown,
            status,
            data,
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, PlatformError> {
        let mut url = Url::parse(&format!("{}{path}", self.base_url)).map_err(|err| {
            PlatformError::InvalidBaseUrl {
                url: sanitize(&self.base_url, &self.api_secret),
                reason: err.to_string(),
            }
        })?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
        }
        Ok(url)
    }
}

/// The paging of [`PlatformClient::all_webhooks`], over any source of ascending pages.
async fn every_page<F, Page>(mut list: F) -> Result<Vec<Webhook>, PlatformError>
where
    F: FnMut(Option<i64>) -> Page,
    Page: Future<Output = Result<Vec<Webhook>, PlatformError>>,
{
    let mut seen: BTreeMap<i64, Webhook> = BTreeMap::new();
    let mut starting_id = None;
    for pages in 1..=MAX_LIST_PAGES {
        let page = list(starting_id).await?;
        let full = page.len() >= LIST_PAGE_SIZE as usize;
        let before = seen.len();
        for webhook in page {
            starting_id = Some(starting_id.map_or(webhook.id, |id: i64| id.max(webhook.id)));
            seen.entry(webhook.id).or_insert(webhook);
        }
        if seen.len() == before {
            // Under either reading of startingId a full page holds a new id: the server is
            // not paging, and stopping here would silently miss webhooks.
            if full {
                return Err(PlatformError::Paging {
                    pages,
                    webhooks: seen.len(),
                    cause: "a full page brought no new id (is startingId ignored?)".to_owned(),
                });
            }
            return Ok(seen.into_values().collect());
        }
    }
    Err(PlatformError::Paging {
        pages: MAX_LIST_PAGES,
        webhooks: seen.len(),
        cause: "the platform kept returning new ids".to_owned(),
    })
}

fn checked_base_url(base_url: &str, api_secret: &str) -> Result<String, PlatformError> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let invalid = |reason: &str| PlatformError::InvalidBaseUrl {
        url: sanitize(trimmed, api_secret),
        reason: reason.to_owned(),
    };
    let url = Url::parse(trimmed).map_err(|err| invalid(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("use an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PlatformError::InvalidBaseUrl {
            url: redacted_userinfo(&url),
            reason: format!("credentials do not go in the URL: use {API_SECRET_VAR}"),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("no query or fragment allowed"));
    }
    Ok(trimmed.to_owned())
}

fn redacted_userinfo(url: &Url) -> String {
    let mut shown = url.clone();
    // Cannot fail on a URL that has a host (checked before).
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    match shown.as_str().split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{REDACTED}@{rest}"),
        None => REDACTED.to_owned(),
    }
}

fn json_body<T: Serialize>(value: &T) -> Result<Vec<u8>, PlatformError> {
    // Serializing these plain structs cannot fail; kept as an error rather than a panic.
    serde_json::to_vec(value).map_err(|err| PlatformError::HttpClient {
        cause: format!("cannot write the request body: {err}"),
    })
}

/// True when two URLs name the same webhook target: compared after trimming a trailing `/` and
/// lower-casing the scheme and host (how `find_by_url` matches, and relayctl marks "ours").
pub fn same_url(a: &str, b: &str) -> bool {
    comparable_url(a) == comparable_url(b)
}

/// `url` with the trailing `/` trimmed and the scheme and host lower-cased; the rest (path,
/// query, user info) compared as is.
fn comparable_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return trimmed.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    format!(
        "{}://{userinfo}{}{tail}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    )
}

// --------------------------------------------------------------------------------------------
// Answers

/// What an answer is interpreted with.
struct Context<'a> {
    /// The request URL, as shown in errors.
    url: &'a str,
    /// The webhook the call was about.
    about: Option<i64>,
    api_secret: &'a str,
}

/// The `data` of a success envelope.
struct Success {
    url: String,
    status: u16,
    data: Value,
}

impl Success {
    fn decode<T: DeserializeOwned>(self, what: &str, api_secret: &str) -> Result<T, PlatformError> {
        match T::deserialize(&self.data) {
            Ok(value) => Ok(value),
            Err(err) => Err(PlatformError::BadResponse {
                cause: sanitize(
                    &format!("`data` is not {what} ({err}): {}", self.data),
                    api_secret,
                ),
                url: self.url,
                status: self.status,
            }),
        }
    }

    fn expect_true(self, api_secret: &str) -> Result<(), PlatformError> {
        if self.data == Value::Bool(true) {
            return Ok(());
        }
        Err(PlatformError::BadResponse {
            cause: sanitize(&format!("`data` is not `true`: {}", self.data), api_secret),
            url: self.url,
            status: self.status,
        })
    }
}

/// An HTTP answer → the success envelope's `data`, or the error it stands for.
fn interpret(
    status: u16,
    body: &[u8],
    location: Option<&str>,
    context: &Context,
) -> Result<Value, PlatformError> {
    let text = String::from_utf8_lossy(body);
    let secret = context.api_secret;
    let bad = |cause: String| PlatformError::BadResponse {
        url: context.url.to_owned(),
        status,
        cause: sanitize(&cause, secret),
    };
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let envelope = parsed.as_ref().and_then(|value| {
        let kind = value.get("status")?.as_str()?;
        Some((kind, value))
    });

    // Whatever the body, these statuses mean the secret was refused (gateways answer them too).
    if status == 401 || status == 403 {
        let message = match envelope {
            Some(("error", value)) => message_of(value),
            Some(("fail", value)) => fail_fields(value.get("data"), secret)
                .into_iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect::<Vec<_>>()
                .join("; "),
            _ if text.trim().is_empty() => "no details".to_owned(),
            _ => text.to_string(),
        };
        return Err(PlatformError::Unauthorized {
            status,
            message: sanitize(&message, secret),
        });
    }
    if (300..400).contains(&status) {
        return Err(bad(format!(
            "redirected to {}: set {API_URL_VAR} to the address that answers",
            location.unwrap_or("nowhere")
        )));
    }
    let Some((kind, value)) = envelope else {
        return Err(bad(match parsed {
            _ if text.trim().is_empty() => "empty answer".to_owned(),
            None => format!("not JSON: {text}"),
            Some(_) => format!("not one of the platform's envelopes: {text}"),
        }));
    };
    let data = value.get("data").cloned().unwrap_or(Value::Null);
    match kind {
        "success" if (200..300).contains(&status) => Ok(data),
        "success" => Err(bad(format!(
            "a success envelope with an error status: {text}"
        ))),
        "fail" => Err(PlatformError::Invalid {
            fields: fail_fields(Some(&data), secret),
        }),
        "error" if status == 404 => Err(PlatformError::NotFound {
            id: context.about,
            message: sanitize(&message_of(value), secret),
        }),
        "error" => Err(PlatformError::Api {
            status,
            code: value
                .get("code")
                .filter(|code| !code.is_null())
                .map(|code| sanitize(&json_text(code), secret)),
            message: sanitize(&message_of(value), secret),
        }),
        other => Err(bad(format!("unknown envelope status `{other}`: {text}"))),
    }
}

/// The `error` envelope's `message` (its text when it is not a string).
fn message_of(envelope: &Value) -> String {
    match envelope.get("message") {
        None | Some(Value::Null) => "no message".to_owned(),
        Some(message) => json_text(message),
    }
}

/// The `fail` envelope's `data` as (field, message) pairs: an object gives one pair per field;
/// anything else one pair without a field name.
fn fail_fields(data: Option<&Value>, api_secret: &str) -> Vec<(String, String)> {
    match data {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(field, message)| {
                (
                    sanitize(field, api_secret),
                    sanitize(&json_text(message), api_secret),
                )
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| (String::new(), sanitize(&json_text(item), api_secret)))
            .collect(),
        Some(other) => vec![(String::new(), sanitize(&json_text(other), api_secret))],
    }
}

/// A string as is; other JSON as compact JSON.
fn json_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Why no answer came, in a few words and without the URL (the error shows it once).
fn network_cause(err: &reqwest::Error) -> String {
    let mut sources = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        sources.push(cause);
        source = cause.source();
    }
    let io_kind = sources
        .iter()
        .find_map(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let innermost = sources
        .last()
        .map(|cause| cause.to_string())
        .unwrap_or_else(|| err.to_string());
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return "connection refused".to_owned();
    }
    if err.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return if err.is_connect() {
            format!(
                "timed out connecting (no connection within {} s)",
                CONNECT_TIMEOUT.as_secs()
            )
        } else {
            format!(
                "timed out (no complete answer within {} s)",
                REQUEST_TIMEOUT.as_secs()
            )
        };
    }
    if sources.iter().any(|cause| cause.to_string() == "dns error") {
        return format!("DNS lookup failed ({innermost})");
    }
    if err.is_connect() {
        return format!("cannot connect ({innermost})");
    }
    innermost
}

/// `err` and its causes, `: `-separated.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Server text made fit for an error: secrets redacted, one line, at most [`EXCERPT_CHARS`].
fn sanitize(text: &str, api_secret: &str) -> String {
    let redacted = if api_secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(api_secret, REDACTED)
    };
    one_line(&redact_secret_members(&redacted), EXCERPT_CHARS)
}

/// Replaces the string value of every JSON member whose name ends in `secret` (any case), also
/// in truncated or string-escaped JSON: a webhook object in an error must not show its secret.
fn redact_secret_members(text: &str) -> String {
    const NAME_END: &str = "secret";
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find(NAME_END) {
        let after_name = search + found + NAME_END.len();
        search = after_name;
        let Some(value_start) = secret_value_start(bytes, after_name) else {
            continue;
        };
        // Base64 never holds `"` or `\`: the value ends at the first of them.
        let value_end = bytes[value_start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .map_or(bytes.len(), |offset| value_start + offset);
        out.push_str(&text[copied..value_start]);
        out.push_str(REDACTED);
        copied = value_end;
        search = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the string value starts after a member name ending at `i`: `"` (or `\"`), blanks,
/// `:`, blanks, `"` (or `\"`). `None` when that is not what follows.
fn secret_value_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    let quote = |i: &mut usize| -> bool {
        if bytes.get(*i) == Some(&b'\\') {
            *i += 1;
        }
        let is_quote = bytes.get(*i) == Some(&b'"');
        *i += 1;
        is_quote
    };
    let blanks = |i: &mut usize| {
        while bytes.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    if !quote(&mut i) {
        return None;
    }
    blanks(&mut i);
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    blanks(&mut i);
    quote(&mut i).then_some(i)
}

/// Whitespace and control characters folded into single spaces, cut at `max_chars`.
fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if chars + usize::from(pending_space) >= max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const API_SECRET: &str = "test-api-secret-0123456789";
    const SIGNING_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    /// A webhook as MILLICAST.md shows the object, disabled by the platform.
    const DISABLED_WEBHOOK: &str = r#"{
        "id": 42,
        "url": "https://relay.example.com/hook",
        "secret": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "isFeedHooks": true,
        "isRecordingHooks": false,
        "isThumbnailHooks": true,
        "isTranscoderHooks": false,
        "isMediaHooks": true,
        "isViewerConnectionHooks": false,
        "filter": "^live-",
        "disabled": {"until": "2024-08-29T12:00:00.000Z", "reason": "Too many timeouts"}
    }"#;

    fn context() -> Context<'static> {
        Context {
            url: "https://api.example.com/api/webhooks/7",
            about: Some(7),
            api_secret: API_SECRET,
        }
    }

    fn interpret_text(status: u16, body: &str) -> Result<Value, PlatformError> {
        interpret(status, body.as_bytes(), None, &context())
    }

    fn assert_clean(text: &str) {
        assert!(!text.contains(API_SECRET), "API secret in {text}");
        assert!(!text.contains(SIGNING_SECRET), "webhook secret in {text}");
        assert!(!text.contains('\n'), "several lines: {text}");
    }

    #[test]
    fn webhook_reads_the_documented_object() {
        let webhook: Webhook = serde_json::from_str(DISABLED_WEBHOOK).unwrap();
        assert_eq!(webhook.id, 42);
        assert_eq!(webhook.url, "https://relay.example.com/hook");
        assert_eq!(webhook.secret.expose(), SIGNING_SECRET);
        assert_eq!(webhook.secret.decode().unwrap().bytes().len(), 32);
        assert!(webhook.is_feed_hooks && webhook.is_thumbnail_hooks && webhook.is_media_hooks);
        assert!(!webhook.is_recording_hooks && !webhook.is_transcoder_hooks);
        assert!(!webhook.is_viewer_connection_hooks);
        assert_eq!(webhook.filter.as_deref(), Some("^live-"));
        assert_eq!(
            webhook.disabled,
            Some(Disabled {
                until: "2024-08-29T12:00:00.000Z".to_owned(),
                reason: "Too many timeouts".to_owned()
            })
        );
        assert_eq!(webhook.hooks().to_string(), "feeds,media,thumbnails");
    }

    #[test]
    fn webhook_tolerates_missing_null_and_unknown_fields() {
        let webhook: Webhook = serde_json::from_str(
            r#"{"id": 3, "url": "https://r.example/h", "secret": "c2VjcmV0",
                "isFeedHooks": true, "isMediaHooks": null, "filter": null, "disabled": null,
                "createdAt": "2024-01-01", "accountId": "ABC123"}"#,
        )
        .unwrap();
        assert!(webhook.is_feed_hooks);
        assert!(!webhook.is_media_hooks && !webhook.is_recording_hooks);
        assert_eq!(webhook.hooks(), HookSet::none().with(HookType::Feeds));
        assert_eq!(webhook.filter, None);
        assert_eq!(webhook.disabled, None);

        let bare: Webhook = serde_json::from_str(
            r#"{"id": 4, "url": "https://r.example/h", "secret": "c2VjcmV0"}"#,
        )
        .unwrap();
        assert!(bare.hooks().is_empty());
        assert_eq!((bare.filter, bare.disabled), (None, None));
    }

    #[test]
    fn webhook_without_id_or_secret_is_refused() {
        assert!(serde_json::from_str::<Webhook>(r#"{"url": "u", "secret": "s"}"#).is_err());
        assert!(serde_json::from_str::<Webhook>(r#"{"id": 1, "url": "u"}"#).is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let webhook: Webhook = serde_json::from_str(DISABLED_WEBHOOK).unwrap();
        for text in [
            format!("{webhook:?}"),
            format!("{webhook}"),
            format!("{:?}", webhook.secret),
            webhook.secret.to_string(),
        ] {
            assert_clean(&text);
        }
        assert_eq!(webhook.secret.to_string(), "<redacted>");
        assert!(format!("{webhook}").starts_with("webhook 42 https://relay.example.com/hook"));

        let client = PlatformClient::new("https://api.example.com", API_SECRET).unwrap();
        assert_clean(&format!("{client:?}"));
    }

    #[test]
    fn new_webhook_body_is_what_post_wants() {
        let body = serde_json::to_value(NewWebhook {
            url: "https://relay.example.com/hook".to_owned(),
            hooks: HookSet::none()
                .with(HookType::Feeds)
                .with(HookType::Media)
                .with(HookType::Thumbnail),
            filter: Some("^live-".to_owned()),
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "url": "https://relay.example.com/hook",
                "isFeedHooks": true,
                "isRecordingHooks": false,
                "isThumbnailHooks": true,
                "isTranscoderHooks": false,
                "isMediaHooks": true,
                "isViewerConnectionHooks": false,
                "filter": "^live-"
            })
        );

        let all = serde_json::to_string(&NewWebhook {
            url: "https://r.example/h".to_owned(),
            hooks: HookSet::all(),
            filter: None,
        })
        .unwrap();
        assert_eq!(
            all,
            r#"{"url":"https://r.example/h","isFeedHooks":true,"isRecordingHooks":true,"isThumbnailHooks":true,"isTranscoderHooks":true,"isMediaHooks":true,"isViewerConnectionHooks":true}"#
        );
    }

    #[test]
    fn webhook_update_sends_only_what_is_set() {
        assert_eq!(
            serde_json::to_string(&WebhookUpdate::default()).unwrap(),
            "{}"
        );
        assert!(WebhookUpdate::default().is_empty());
        let renew = WebhookUpdate {
            refresh_secret: Some(true),
            ..WebhookUpdate::default()
        };
        assert_eq!(
            serde_json::to_string(&renew).unwrap(),
            r#"{"refreshSecret":true}"#
        );
        let everything = WebhookUpdate {
            url: Some("https://r.example/new".to_owned()),
            refresh_secret: Some(false),
            re_enable: Some(true),
            filter: Some(Some("^a".to_owned())),
            ..WebhookUpdate::default()
        }
        .with_hooks(HookSet::none().with(HookType::Recordings));
        assert_eq!(
            serde_json::to_value(&everything).unwrap(),
            serde_json::json!({
                "url": "https://r.example/new",
                "refreshSecret": false,
                "isFeedHooks": false,
                "isRecordingHooks": true,
                "isThumbnailHooks": false,
                "isTranscoderHooks": false,
                "isMediaHooks": false,
                "isViewerConnectionHooks": false,
                "reEnable": true,
                "filter": "^a"
            })
        );
        let clear_filter = WebhookUpdate {
            filter: Some(None),
            ..WebhookUpdate::default()
        };
        assert_eq!(
            serde_json::to_string(&clear_filter).unwrap(),
            r#"{"filter":null}"#
        );
    }

    #[test]
    fn test_delivery_body() {
        assert_eq!(
            serde_json::to_string(&TestDelivery::default()).unwrap(),
            "{}"
        );
        let named = TestDelivery {
            stream_name: Some("cam1".to_owned()),
            transcoder_name: Some("tc".to_owned()),
        };
        assert_eq!(
            serde_json::to_string(&named).unwrap(),
            r#"{"streamName":"cam1","transcoderName":"tc"}"#
        );
    }

    #[test]
    fn hook_types_parse_from_user_words() {
        let cases = [
            ("feeds", HookType::Feeds),
            ("FEEDS", HookType::Feeds),
            ("recordings", HookType::Recordings),
            ("Media", HookType::Media),
            ("thumbnails", HookType::Thumbnail),
            ("thumbnail", HookType::Thumbnail),
            ("transcoder", HookType::Transcoder),
            ("viewer-connection", HookType::ViewerConnection),
            ("viewerConnection", HookType::ViewerConnection),
            ("VIEWERCONNECTION", HookType::ViewerConnection),
        ];
        for (word, hook) in cases {
            assert_eq!(word.parse::<HookType>(), Ok(hook), "{word}");
        }
        for word in ["", "feed", "viewer", "thumbnails,", "recording s"] {
            let err = word.parse::<HookType>().unwrap_err();
            assert!(err.to_string().contains("unknown hook type"), "{err}");
        }
        // Every type's own names read back as that type.
        for hook in HookType::ALL {
            assert_eq!(hook.name().parse::<HookType>(), Ok(hook));
            assert_eq!(hook.test_path_name().parse::<HookType>(), Ok(hook));
        }
    }

    #[test]
    fn hook_type_names() {
        let names: Vec<_> = HookType::ALL
            .iter()
            .map(|hook| (hook.flag_name(), hook.test_path_name()))
            .collect();
        assert_eq!(
            names,
            [
                ("isFeedHooks", "Feeds"),
                ("isRecordingHooks", "Recordings"),
                ("isMediaHooks", "Media"),
                ("isThumbnailHooks", "Thumbnail"),
                ("isTranscoderHooks", "Transcoder"),
                ("isViewerConnectionHooks", "ViewerConnection"),
            ]
        );
    }

    #[test]
    fn hook_sets() {
        assert_eq!(
            HookSet::all().to_string(),
            "feeds,recordings,media,thumbnails,transcoder,viewerConnection"
        );
        assert_eq!(HookSet::none().to_string(), "none");
        assert_eq!(HookSet::all().iter().count(), 6);
        assert_eq!(
            "thumbnails, feeds".parse::<HookSet>(),
            Ok(HookSet::none()
                .with(HookType::Feeds)
                .with(HookType::Thumbnail))
        );
        assert_eq!("ALL".parse::<HookSet>(), Ok(HookSet::all()));
        assert_eq!(
            HookSet::all().to_string().parse::<HookSet>(),
            Ok(HookSet::all())
        );
        assert!("feeds,bogus".parse::<HookSet>().is_err());
        assert!(
            !HookSet::all()
                .without(HookType::Media)
                .contains(HookType::Media)
        );

        let webhook: Webhook = serde_json::from_str(DISABLED_WEBHOOK).unwrap();
        let update = WebhookUpdate::default().with_hooks(webhook.hooks());
        assert_eq!(update.is_feed_hooks, Some(webhook.is_feed_hooks));
        assert_eq!(update.is_recording_hooks, Some(webhook.is_recording_hooks));
        assert_eq!(update.is_thumbnail_hooks, Some(webhook.is_thumbnail_hooks));
        assert_eq!(
            update.is_transcoder_hooks,
            Some(webhook.is_transcoder_hooks)
        );
        assert_eq!(update.is_media_hooks, Some(webhook.is_media_hooks));
        assert_eq!(
            update.is_viewer_connection_hooks,
            Some(webhook.is_viewer_connection_hooks)
        );
    }

    #[test]
    fn success_envelope_gives_its_data() {
        let data = interpret_text(200, r#"{"status":"success","data":true}"#).unwrap();
        assert_eq!(data, Value::Bool(true));
        let data = interpret_text(
            200,
            &format!(r#"{{"status":"success","data":{DISABLED_WEBHOOK}}}"#),
        )
        .unwrap();
        let webhook: Webhook = serde_json::from_value(data).unwrap();
        assert_eq!(webhook.id, 42);
        let list = interpret_text(200, r#"{"status":"success","data":[]}"#).unwrap();
        assert_eq!(list, serde_json::json!([]));
    }

    #[test]
    fn fail_envelope_lists_each_field() {
        let err = interpret_text(
            400,
            r#"{"status":"fail","data":{"url":"url must be an absolute URL",
                "filter":"filter must be 1 to 128 characters long"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PlatformError::Invalid {
                fields: vec![
                    (
                        "filter".to_owned(),
                        "filter must be 1 to 128 characters long".to_owned()
                    ),
                    ("url".to_owned(), "url must be an absolute URL".to_owned()),
                ]
            }
        );
        assert_eq!(
            err.to_string(),
            "the platform rejected the request: filter: filter must be 1 to 128 characters \
             long; url: url must be an absolute URL"
        );

        let text = interpret_text(400, r#"{"status":"fail","data":"url is required"}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(text, "the platform rejected the request: url is required");
        let nested = interpret_text(400, r#"{"status":"fail","data":{"hooks":{"a":[1,2]}}}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            nested,
            r#"the platform rejected the request: hooks: {"a":[1,2]}"#
        );
        let bare = interpret_text(400, r#"{"status":"fail","data":null}"#).unwrap_err();
        assert_eq!(bare, PlatformError::Invalid { fields: vec![] });
        assert_clean(&bare.to_string());
    }

    #[test]
    fn error_envelope_by_status() {
        let not_found = interpret_text(
            404,
            r#"{"status":"error","message":"Webhook 7 not found","code":404,"data":null}"#,
        )
        .unwrap_err();
        assert_eq!(
            not_found,
            PlatformError::NotFound {
                id: Some(7),
                message: "Webhook 7 not found".to_owned()
            }
        );
        assert_eq!(not_found.to_string(), "webhook 7 not found");

        let unauthorized = interpret_text(
            401,
            r#"{"status":"error","message":"Unauthorized: missing or invalid API secret","code":401,"data":null}"#,
        )
        .unwrap_err();
        assert_eq!(
            unauthorized.to_string(),
            "the platform refused the API secret (401 Unauthorized: Unauthorized: missing or \
             invalid API secret): check MILLICAST_API_SECRET"
        );
        // A gateway's 403 without the envelope still says what to check.
        let forbidden = interpret_text(403, "<html>Forbidden</html>").unwrap_err();
        assert!(matches!(
            forbidden,
            PlatformError::Unauthorized { status: 403, .. }
        ));

        let api = interpret_text(
            500,
            r#"{"status":"error","message":"Internal error","code":"E_DB","data":null}"#,
        )
        .unwrap_err();
        assert_eq!(
            api,
            PlatformError::Api {
                status: 500,
                code: Some("E_DB".to_owned()),
                message: "Internal error".to_owned()
            }
        );
        assert_eq!(
            api.to_string(),
            "the platform answered 500 Internal Server Error: Internal error (code E_DB)"
        );
        let same_code = interpret_text(
            429,
            r#"{"status":"error","message":"Slow down","code":429}"#,
        )
        .unwrap_err();
        assert_eq!(
            same_code.to_string(),
            "the platform answered 429 Too Many Requests: Slow down"
        );
    }

    #[test]
    fn garbage_is_a_bad_response() {
        let cases = [
            (
                200,
                "<html><body>Hello\nworld</body></html>",
                "not JSON: <html><body>Hello world</body></html>",
            ),
            (200, "", "empty answer"),
            (200, r#"{"ok":true}"#, "not one of the platform's envelopes"),
            (200, r#"[1,2]"#, "not one of the platform's envelopes"),
            (
                200,
                r#"{"status":"weird"}"#,
                "unknown envelope status `weird`",
            ),
            (
                500,
                r#"{"status":"success","data":true}"#,
                "a success envelope with an error status",
            ),
            (502, "Bad Gateway", "not JSON: Bad Gateway"),
        ];
        for (status, body, cause) in cases {
            let err = interpret_text(status, body).unwrap_err();
            let PlatformError::BadResponse {
                status: got,
                cause: got_cause,
                url,
            } = &err
            else {
                panic!("{status} {body}: {err:?}");
            };
            assert_eq!(*got, status);
            assert!(got_cause.contains(cause), "{got_cause}");
            assert_eq!(url, "https://api.example.com/api/webhooks/7");
            assert!(
                err.to_string()
                    .contains(&format!("(HTTP {}", status_text(status)))
            );
            assert_clean(&err.to_string());
        }
        let redirect = interpret(
            301,
            b"",
            Some("https://api.example.com/api/webhooks/7"),
            &context(),
        )
        .unwrap_err();
        assert!(
            redirect.to_string().contains("redirected to https://"),
            "{redirect}"
        );

        let long = format!("not json {}", "x".repeat(10_000));
        let err = interpret_text(500, &long).unwrap_err().to_string();
        assert!(err.len() < 400 && err.ends_with('…'), "{err}");
    }

    #[test]
    fn bad_data_is_a_bad_response_without_the_secret() {
        // A webhook object without an id: the error quotes `data`, minus its secret.
        let success = Success {
            url: "https://api.example.com/api/webhooks".to_owned(),
            status: 200,
            data: serde_json::json!({"url": "https://r.example/h", "secret": SIGNING_SECRET}),
        };
        let err = success
            .decode::<Webhook>("a webhook", API_SECRET)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`data` is not a webhook (missing field `id`)"),
            "{text}"
        );
        assert!(text.contains(r#""secret":"<redacted>""#), "{text}");
        assert_clean(&text);

        let success = Success {
            url: "https://api.example.com/api/webhooks/1".to_owned(),
            status: 200,
            data: Value::Bool(false),
        };
        let err = success.expect_true(API_SECRET).unwrap_err();
        assert!(
            err.to_string().contains("`data` is not `true`: false"),
            "{err}"
        );
    }

    #[test]
    fn errors_never_quote_secrets() {
        let echo = format!(
            r#"{{"status":"error","message":"bad token {API_SECRET} for {{\"secret\": \"{SIGNING_SECRET}\"}}","code":500}}"#
        );
        let err = interpret_text(500, &echo).unwrap_err();
        assert_clean(&format!("{err}"));
        assert_clean(&format!("{err:?}"));
        let unauthorized =
            interpret_text(401, &format!("Bearer {API_SECRET} refused")).unwrap_err();
        assert_clean(&unauthorized.to_string());
        let truncated =
            format!(r#"{{"status":"success","data":{{"id":1,"apiSecret" : "{SIGNING_SECRET}"#);
        let err = interpret_text(200, &truncated).unwrap_err();
        assert_clean(&err.to_string());
        let fail = format!(r#"{{"status":"fail","data":{{"{API_SECRET}":"{API_SECRET}"}}}}"#);
        assert_clean(&interpret_text(400, &fail).unwrap_err().to_string());
    }

    #[test]
    fn redaction_keeps_the_rest() {
        assert_eq!(
            redact_secret_members(r#"{"id":1,"secret":"abc=","refreshSecret":true,"x":"secret"}"#),
            r#"{"id":1,"secret":"<redacted>","refreshSecret":true,"x":"secret"}"#
        );
        assert_eq!(
            redact_secret_members(r#"msg {\"Secret\": \"abc\"} end"#),
            r#"msg {\"Secret\": \"<redacted>\"} end"#
        );
        assert_eq!(
            redact_secret_members(r#""secret":"abc"#),
            r#""secret":"<redacted>"#
        );
        assert_eq!(redact_secret_members("no secrets here"), "no secrets here");
        assert_eq!(one_line("  a \n\t b  ", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("ééé", 3), "ééé");
    }

    #[test]
    fn every_error_displays_on_one_line() {
        let errors = [
            PlatformError::MissingApiSecret,
            PlatformError::InvalidApiSecret,
            PlatformError::InvalidBaseUrl {
                url: "ftp://x".to_owned(),
                reason: "use an http:// or https:// URL".to_owned(),
            },
            PlatformError::HttpClient {
                cause: "no TLS".to_owned(),
            },
            PlatformError::Unauthorized {
                status: 401,
                message: "nope".to_owned(),
            },
            PlatformError::NotFound {
                id: None,
                message: "Route /api/x not found".to_owned(),
            },
            PlatformError::Network {
                url: "https://api.example.com/api/webhooks/list".to_owned(),
                cause: "connection refused".to_owned(),
            },
            PlatformError::Paging {
                pages: 1000,
                webhooks: 10_000,
                cause: "the platform kept returning new ids".to_owned(),
            },
        ];
        for err in errors {
            let text = err.to_string();
            assert_clean(&text);
            assert!(!text.is_empty());
        }
        assert!(
            PlatformError::MissingApiSecret
                .to_string()
                .contains("MILLICAST_API_SECRET")
        );
        assert_eq!(
            PlatformError::Network {
                url: "http://127.0.0.1:9/api/webhooks".to_owned(),
                cause: "connection refused".to_owned()
            }
            .to_string(),
            "cannot reach http://127.0.0.1:9/api/webhooks: connection refused"
        );
    }

    #[test]
    fn client_setup() {
        let client = PlatformClient::new("https://api.example.com/", API_SECRET).unwrap();
        assert_eq!(client.base_url(), "https://api.example.com");
        assert_eq!(
            client
                .url("/api/webhooks/list", &[("itemCount", "5".to_owned())])
                .unwrap()
                .as_str(),
            "https://api.example.com/api/webhooks/list?itemCount=5"
        );
        let prefixed = PlatformClient::new("http://127.0.0.1:8080/millicast", "s").unwrap();
        assert_eq!(
            prefixed.url("/api/webhooks/1", &[]).unwrap().as_str(),
            "http://127.0.0.1:8080/millicast/api/webhooks/1"
        );

        assert_eq!(
            PlatformClient::new("https://api.example.com", "  ").unwrap_err(),
            PlatformError::MissingApiSecret
        );
        assert_eq!(
            PlatformClient::new("https://api.example.com", "a\nb").unwrap_err(),
            PlatformError::InvalidApiSecret
        );
        for bad in [
            "api.example.com",
            "ftp://api.example.com",
            "https://",
            "https://h/?a=1",
        ] {
            let err = PlatformClient::new(bad, API_SECRET).unwrap_err();
            assert!(
                matches!(err, PlatformError::InvalidBaseUrl { .. }),
                "{bad}: {err}"
            );
        }
        let with_credentials =
            PlatformClient::new(&format!("https://user:{API_SECRET}@h.example"), API_SECRET)
                .unwrap_err();
        assert_clean(&with_credentials.to_string());
        assert!(
            with_credentials
                .to_string()
                .contains("`https://<redacted>@h.example/`"),
            "{with_credentials}"
        );
        // The secret passed as the URL by mistake is not echoed either.
        let swapped = PlatformClient::new(API_SECRET, API_SECRET).unwrap_err();
        assert_clean(&swapped.to_string());
    }

    #[test]
    fn client_from_environment() {
        let vars = |url: Option<&str>, secret: Option<&str>| {
            let url = url.map(str::to_owned);
            let secret = secret.map(str::to_owned);
            move |name: &str| match name {
                API_URL_VAR => url.clone(),
                API_SECRET_VAR => secret.clone(),
                _ => None,
            }
        };
        let client = PlatformClient::from_lookup(vars(None, Some(API_SECRET))).unwrap();
        assert_eq!(client.base_url(), DEFAULT_API_URL);
        let client = PlatformClient::from_lookup(vars(Some(""), Some(API_SECRET))).unwrap();
        assert_eq!(client.base_url(), DEFAULT_API_URL);
        let client =
            PlatformClient::from_lookup(vars(Some("http://127.0.0.1:4000/"), Some(API_SECRET)))
                .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:4000");
        for secret in [None, Some(""), Some(" \n")] {
            let err = PlatformClient::from_lookup(vars(None, secret)).unwrap_err();
            assert_eq!(err, PlatformError::MissingApiSecret);
            assert!(
                err.to_string()
                    .starts_with("MILLICAST_API_SECRET is not set")
            );
        }
    }

    fn webhook(id: i64) -> Webhook {
        serde_json::from_value(serde_json::json!({
            "id": id, "url": format!("https://r{id}.example/h"), "secret": SIGNING_SECRET
        }))
        .unwrap()
    }

    /// A server holding `ids` that pages from `startingId`, inclusive or not; `requests` counts
    /// the pages asked for.
    fn pages(
        ids: &[i64],
        inclusive: bool,
        requests: &std::cell::Cell<usize>,
    ) -> impl FnMut(Option<i64>) -> std::future::Ready<Result<Vec<Webhook>, PlatformError>> {
        let ids = ids.to_vec();
        move |starting_id| {
            requests.set(requests.get() + 1);
            let page = ids
                .iter()
                .filter(|&&id| match starting_id {
                    None => true,
                    Some(start) if inclusive => id >= start,
                    Some(start) => id > start,
                })
                .take(LIST_PAGE_SIZE as usize)
                .map(|&id| webhook(id))
                .collect();
            std::future::ready(Ok(page))
        }
    }

    #[tokio::test]
    async fn paging_reads_everything_whether_starting_id_is_inclusive_or_not() {
        let ids: Vec<i64> = (1..=25).chain([30, 31, 40]).collect();
        for inclusive in [true, false] {
            let requests = std::cell::Cell::new(0);
            let all = every_page(pages(&ids, inclusive, &requests)).await.unwrap();
            assert_eq!(all.iter().map(|w| w.id).collect::<Vec<_>>(), ids);
            assert!(requests.get() <= 5, "{} pages", requests.get());
        }
        for inclusive in [true, false] {
            let requests = std::cell::Cell::new(0);
            assert!(
                every_page(pages(&[], inclusive, &requests))
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(requests.get(), 1);
            // Exactly one full page.
            let ten: Vec<i64> = (1..=10).collect();
            let all = every_page(pages(&ten, inclusive, &requests)).await.unwrap();
            assert_eq!(all.len(), 10);
        }
    }

    #[tokio::test]
    async fn paging_that_does_not_advance_is_an_error() {
        // startingId ignored: always the first page.
        let ignored = every_page(|_| std::future::ready(Ok((1..=10).map(webhook).collect())))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &ignored,
                PlatformError::Paging {
                    pages: 2,
                    webhooks: 10,
                    ..
                }
            ),
            "{ignored:?}"
        );
        assert!(ignored.to_string().contains("startingId"), "{ignored}");
        // A server that never runs out of ids.
        let endless = every_page(|start: Option<i64>| {
            let first = start.unwrap_or(0) + 1;
            std::future::ready(Ok((first..first + 10).map(webhook).collect()))
        })
        .await
        .unwrap_err();
        assert!(
            matches!(
                endless,
                PlatformError::Paging {
                    pages: MAX_LIST_PAGES,
                    ..
                }
            ),
            "{endless:?}"
        );
        // Errors of a page are the listing's error.
        let failing = every_page(|_| {
            std::future::ready(Err(PlatformError::Api {
                status: 500,
                code: None,
                message: "down".to_owned(),
            }))
        })
        .await
        .unwrap_err();
        assert!(matches!(failing, PlatformError::Api { status: 500, .. }));
    }

    #[test]
    fn urls_compare_on_scheme_and_host_case_and_trailing_slash() {
        let same = [
            (
                "https://relay.example.com/hook",
                "HTTPS://Relay.Example.COM/hook/",
            ),
            ("https://relay.example.com", "https://relay.example.com/"),
            (
                "https://u@Relay.example.com:8443/a?b=C",
                "https://u@relay.example.com:8443/a?b=C",
            ),
        ];
        for (a, b) in same {
            assert!(same_url(a, b), "{a} vs {b}");
        }
        let different = [
            (
                "https://relay.example.com/hook",
                "https://relay.example.com/Hook",
            ),
            (
                "https://relay.example.com/hook",
                "http://relay.example.com/hook",
            ),
            (
                "https://relay.example.com/a?b=c",
                "https://relay.example.com/a?b=C",
            ),
            (
                "https://U@relay.example.com/",
                "https://u@relay.example.com/",
            ),
        ];
        for (a, b) in different {
            assert!(!same_url(a, b), "{a} vs {b}");
        }
    }
}
