//! The client: one account's API secret, requests, paging and the webhook URL comparison.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Method, Url};
use serde::Serialize;

use super::answer::{Context, Success, error_chain, interpret, network_cause};
use super::redact::sanitize;
use super::{
    API_SECRET_VAR, API_URL_VAR, CONNECT_TIMEOUT, DEFAULT_API_URL, HookType, LIST_PAGE_SIZE,
    MAX_ANSWER_BYTES, MAX_LIST_PAGES, NewWebhook, PlatformError, REDACTED, REQUEST_TIMEOUT,
    TestDelivery, Webhook, WebhookUpdate,
};

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

    pub(super) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PlatformError> {
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

    /// `DELETE /api/webhooks/{id}`. The OpenAPI document and the vendor's Node client give the
    /// removed webhook as `data`, older documentation `true` (docs/platform.md): either is success.
    pub async fn delete_webhook(&self, id: i64) -> Result<(), PlatformError> {
        let path = format!("/api/webhooks/{id}");
        let answer = self
            .call(Method::DELETE, &path, &[], None, Some(id))
            .await?;
        answer.expect_deleted(id, &self.api_secret)
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

    pub(super) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, PlatformError> {
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
pub(super) async fn every_page<F, Page>(mut list: F) -> Result<Vec<Webhook>, PlatformError>
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

pub(super) fn checked_base_url(base_url: &str, api_secret: &str) -> Result<String, PlatformError> {
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

pub(super) fn redacted_userinfo(url: &Url) -> String {
    let mut shown = url.clone();
    // Cannot fail on a URL that has a host (checked before).
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    match shown.as_str().split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{REDACTED}@{rest}"),
        None => REDACTED.to_owned(),
    }
}

pub(super) fn json_body<T: Serialize>(value: &T) -> Result<Vec<u8>, PlatformError> {
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
pub(super) fn comparable_url(url: &str) -> String {
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
