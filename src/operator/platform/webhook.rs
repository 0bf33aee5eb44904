//! The webhook object, its hook types and the bodies of create and update requests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::REDACTED;
use super::redact::one_line;
use crate::relay::secrets::{SecretValueError, WebhookSecret as SigningSecret};

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
    pub fn decode(&self) -> Result<SigningSecret, SecretValueError> {
        SigningSecret::from_base64(&self.0).map_err(SecretValueError::from)
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
    /// local stand-in reads as "no filter" (the documentation only says the field is nullable).
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
