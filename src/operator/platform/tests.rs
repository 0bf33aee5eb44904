//! Unit tests of the platform client: the webhook object, answers, redaction, paging.

use super::answer::*;
use super::client::*;
use super::error::status_text;
use super::redact::*;
use super::*;
use serde_json::Value;

const API_SECRET: &str = "test-api-secret-0123456789";
const SIGNING_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A webhook object as the platform documents it (docs/platform.md), disabled by the platform.
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

    let bare: Webhook =
        serde_json::from_str(r#"{"id": 4, "url": "https://r.example/h", "secret": "c2VjcmV0"}"#)
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
fn delete_accepts_true_or_the_removed_webhook() {
    let answer = |data: Value| Success {
        url: "https://api.example.com/api/webhooks/7".to_owned(),
        status: 200,
        data,
    };
    assert_eq!(
        answer(Value::Bool(true)).expect_deleted(7, API_SECRET),
        Ok(())
    );
    let removed =
        serde_json::json!({"id": 7, "url": "https://r.example/h", "secret": SIGNING_SECRET});
    assert_eq!(answer(removed).expect_deleted(7, API_SECRET), Ok(()));
    for data in [
        Value::Bool(false),
        Value::Null,
        serde_json::json!({"id": 8, "secret": SIGNING_SECRET}),
        serde_json::json!({"id": "7"}),
        serde_json::json!([{"id": 7}]),
    ] {
        let err = answer(data.clone())
            .expect_deleted(7, API_SECRET)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, PlatformError::BadResponse { status: 200, .. })
                && text.contains("neither `true` nor the removed webhook 7"),
            "{data}: {text}"
        );
        assert_clean(&text);
    }
}

#[test]
fn errors_never_quote_secrets() {
    let echo = format!(
        r#"{{"status":"error","message":"bad token {API_SECRET} for {{\"secret\": \"{SIGNING_SECRET}\"}}","code":500}}"#
    );
    let err = interpret_text(500, &echo).unwrap_err();
    assert_clean(&format!("{err}"));
    assert_clean(&format!("{err:?}"));
    let unauthorized = interpret_text(401, &format!("Bearer {API_SECRET} refused")).unwrap_err();
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
