//! The platform client against the local stand-in of the platform (scripts/local_platform.py),
//! one instance per test: every endpoint, every error, and the test deliveries the platform
//! sends to a receiver run here.
//!
//! The interpreter is `RELAY_PYTHON`, else the project's `.venv`, else the main checkout's.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use millicast_webhook_relay::operator::platform::{
    HookSet, HookType, NewWebhook, PlatformClient, PlatformError, TestDelivery, Webhook,
    WebhookUpdate,
};
use millicast_webhooks::signature::{Signature, SignatureVerifier};

const API_SECRET: &str = "platform-client-test-api-secret";

fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("RELAY_PYTHON") {
        return PathBuf::from(python);
    }
    let project_venv = project_dir().join(".venv/bin/python");
    if project_venv.exists() {
        return project_venv;
    }
    PathBuf::from("/work/main/.venv/bin/python")
}

/// scripts/local_platform.py on a free port. Dropping it closes its stdin (it stops at EOF)
/// and kills it by PID if it is still there shortly after.
struct LocalPlatform {
    process: Child,
    stdin: Option<ChildStdin>,
    base_url: String,
}

impl LocalPlatform {
    fn start(extra_args: &[&str]) -> Self {
        let python = python();
        let mut process = Command::new(&python)
            .arg(project_dir().join("scripts/local_platform.py"))
            .args(["--port", "0", "--api-secret", API_SECRET])
            .args(extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start local_platform.py with {python:?}: {e}"));
        let stdin = process.stdin.take();
        let stdout = process.stdout.take();
        // Owned from here on, so that a failure below still stops the process.
        let mut platform = LocalPlatform {
            process,
            stdin,
            base_url: String::new(),
        };
        let mut first_line = String::new();
        BufReader::new(stdout.expect("piped stdout"))
            .read_line(&mut first_line)
            .expect("local_platform.py prints its port");
        let port: u16 = first_line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a port: {first_line:?}"));
        platform.base_url = format!("http://127.0.0.1:{port}");
        platform
    }

    fn client(&self) -> PlatformClient {
        PlatformClient::new(&self.base_url, API_SECRET).expect("client")
    }
}

impl Drop for LocalPlatform {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            match self.process.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One HTTP request as a receiver got it.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    /// Lower-case names.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1: answers every request with the same bytes and closes.
struct Receiver {
    url: String,
    requests: mpsc::Receiver<Received>,
}

impl Receiver {
    fn start(status_line: &str, content_type: &str, body: &str) -> Self {
        let answer = format!(
            "HTTP/1.1 {status_line}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("receiver address")
        );
        let (sender, requests) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let sender = sender.clone();
                let answer = answer.clone();
                std::thread::spawn(move || {
                    if let Some(request) = read_request(&mut stream) {
                        let _ = stream.write_all(&answer);
                        let _ = sender.send(request);
                    }
                });
            }
        });
        Receiver { url, requests }
    }

    fn ok() -> Self {
        Receiver::start("200 OK", "text/plain", "ok")
    }

    fn next(&self, wait: Duration) -> Option<Received> {
        self.requests.recv_timeout(wait).ok()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn new_webhook(url: &str, hooks: HookSet) -> NewWebhook {
    NewWebhook {
        url: url.to_owned(),
        hooks,
        filter: None,
    }
}

async fn create_many(client: &PlatformClient, count: usize) -> Vec<Webhook> {
    let mut created = Vec::new();
    for i in 0..count {
        let url = format!("https://relay-{i}.example.com/hook");
        created.push(
            client
                .create_webhook(&new_webhook(&url, HookSet::all()))
                .await
                .expect("create"),
        );
    }
    created
}

fn ids(webhooks: &[Webhook]) -> Vec<i64> {
    webhooks.iter().map(|webhook| webhook.id).collect()
}

#[tokio::test]
async fn create_get_update_and_delete() {
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    let hooks = HookSet::none()
        .with(HookType::Feeds)
        .with(HookType::Media)
        .with(HookType::Thumbnail);
    let created = client
        .create_webhook(&NewWebhook {
            url: "https://relay.example.com/hook".to_owned(),
            hooks,
            filter: Some("^live-".to_owned()),
        })
        .await
        .expect("create");
    assert_eq!(created.url, "https://relay.example.com/hook");
    assert_eq!(created.hooks(), hooks);
    assert_eq!(created.filter.as_deref(), Some("^live-"));
    assert_eq!(created.disabled, None);
    let key = created.secret.decode().expect("a base64 signing secret");
    assert!(!key.bytes().is_empty());
    assert_eq!(client.get_webhook(created.id).await.expect("get"), created);

    // The deprecated recordings flag goes through on its own.
    let recordings = client
        .create_webhook(&new_webhook(
            "https://relay.example.com/recordings",
            HookSet::none().with(HookType::Recordings),
        ))
        .await
        .expect("create");
    let read = client.get_webhook(recordings.id).await.expect("get");
    assert!(read.is_recording_hooks && !read.is_media_hooks && !read.is_feed_hooks);
    assert_eq!(read.filter, None);
    assert_ne!(read.secret, created.secret);

    let id = created.id;
    let changed = client
        .update_webhook(
            id,
            &WebhookUpdate {
                url: Some("https://relay.example.com/v2".to_owned()),
                filter: Some(Some("^studio-".to_owned())),
                ..WebhookUpdate::default()
            }
            .with_hooks(HookSet::all().without(HookType::Thumbnail)),
        )
        .await
        .expect("update");
    assert_eq!(changed.url, "https://relay.example.com/v2");
    assert_eq!(changed.hooks(), HookSet::all().without(HookType::Thumbnail));
    assert_eq!(changed.filter.as_deref(), Some("^studio-"));
    assert_eq!(changed.secret, created.secret);
    assert_eq!(client.get_webhook(id).await.expect("get"), changed);

    let unchanged = client
        .update_webhook(id, &WebhookUpdate::default())
        .await
        .expect("empty update");
    assert_eq!(unchanged, changed);
    let one_flag = client
        .update_webhook(
            id,
            &WebhookUpdate {
                is_feed_hooks: Some(false),
                ..WebhookUpdate::default()
            },
        )
        .await
        .expect("update one flag");
    assert_eq!(one_flag.hooks(), changed.hooks().without(HookType::Feeds));
    let no_filter = client
        .update_webhook(
            id,
            &WebhookUpdate {
                filter: Some(None),
                ..WebhookUpdate::default()
            },
        )
        .await
        .expect("clear the filter");
    assert_eq!(no_filter.filter, None);

    let renewed = client
        .update_webhook(
            id,
            &WebhookUpdate {
                refresh_secret: Some(true),
                ..WebhookUpdate::default()
            },
        )
        .await
        .expect("refresh the secret");
    assert_ne!(renewed.secret, created.secret);
    assert!(renewed.secret.decode().is_ok());
    assert_eq!(
        client.get_webhook(id).await.expect("get").secret,
        renewed.secret
    );

    client.delete_webhook(id).await.expect("delete");
    let gone = client.get_webhook(id).await.unwrap_err();
    assert_eq!(gone.to_string(), format!("webhook {id} not found"));
    assert!(matches!(
        client.delete_webhook(id).await,
        Err(PlatformError::NotFound { id: Some(got), .. }) if got == id
    ));
    assert_eq!(
        ids(&client.all_webhooks().await.expect("list")),
        [recordings.id]
    );
}

#[tokio::test]
async fn re_enable_clears_a_disabled_webhook() {
    // Disabled after one failed delivery: the test event to a closed port.
    let platform = LocalPlatform::start(&["--disable-after", "1", "--timeout", "2"]);
    let client = platform.client();
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let webhook = client
        .create_webhook(&new_webhook(&url, HookSet::none().with(HookType::Feeds)))
        .await
        .expect("create");
    client
        .send_test(HookType::Feeds, &TestDelivery::default())
        .await
        .expect("test");
    let deadline = Instant::now() + Duration::from_secs(10);
    let disabled = loop {
        let read = client.get_webhook(webhook.id).await.expect("get");
        if let Some(disabled) = read.disabled {
            break disabled;
        }
        assert!(Instant::now() < deadline, "never disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!disabled.until.is_empty() && !disabled.reason.is_empty());

    let enabled = client
        .update_webhook(
            webhook.id,
            &WebhookUpdate {
                re_enable: Some(true),
                ..WebhookUpdate::default()
            },
        )
        .await
        .expect("re-enable");
    assert_eq!(enabled.disabled, None);
    assert_eq!(
        client.get_webhook(webhook.id).await.expect("get").disabled,
        None
    );
}

#[tokio::test]
async fn list_pages_in_both_directions() {
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    assert!(client.all_webhooks().await.expect("empty list").is_empty());
    let created = ids(&create_many(&client, 7).await);

    let first = client
        .list_webhooks(None, Some(3), false)
        .await
        .expect("list");
    assert_eq!(ids(&first), created[..3]);
    assert_eq!(
        first[0],
        client.get_webhook(created[0]).await.expect("get"),
        "a listed webhook is the whole object, secret included"
    );
    // Whether startingId is itself included is not documented: either reading passes.
    let next = ids(&client
        .list_webhooks(Some(created[2]), Some(3), false)
        .await
        .expect("list"));
    assert!(
        next == created[2..5] || next == created[3..6],
        "ascending from {}: {next:?}",
        created[2]
    );

    let last = ids(&client
        .list_webhooks(None, Some(3), true)
        .await
        .expect("list"));
    assert_eq!(last, [created[6], created[5], created[4]]);
    let before = ids(&client
        .list_webhooks(Some(created[4]), Some(3), true)
        .await
        .expect("list"));
    assert!(
        before == [created[4], created[3], created[2]]
            || before == [created[3], created[2], created[1]],
        "descending from {}: {before:?}",
        created[4]
    );

    let default_count = client.list_webhooks(None, None, false).await.expect("list");
    assert_eq!(ids(&default_count), created);
}

#[tokio::test]
async fn all_webhooks_reads_every_page() {
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    let mut expected = ids(&create_many(&client, 25).await);
    // Gaps, one of them at a page boundary.
    for id in [expected[4], expected[9], expected[10]] {
        client.delete_webhook(id).await.expect("delete");
        expected.retain(|kept| *kept != id);
    }
    let all = client.all_webhooks().await.expect("all webhooks");
    assert_eq!(ids(&all), expected);
    assert!(all.len() > 2 * millicast_webhook_relay::operator::platform::LIST_PAGE_SIZE as usize);
}

#[tokio::test]
async fn find_by_url_compares_scheme_and_host_without_case() {
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    let created = create_many(&client, 12).await;
    let found = client
        .find_by_url("HTTPS://Relay-11.Example.COM/hook/")
        .await
        .expect("find")
        .expect("the 12th webhook, on the second page");
    assert_eq!(found, created[11]);
    assert_eq!(
        client
            .find_by_url("https://relay-11.example.com/HOOK")
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        client
            .find_by_url("https://elsewhere.example.com/hook")
            .await
            .expect("find"),
        None
    );
}

#[tokio::test]
async fn send_test_delivers_one_signed_event_of_each_type() {
    let receiver = Receiver::ok();
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    let mut secrets = BTreeMap::new();
    for hook in HookType::ALL {
        let url = format!("{}/hook/{}", receiver.url, hook.test_path_name());
        let webhook = client
            .create_webhook(&new_webhook(&url, HookSet::none().with(hook)))
            .await
            .expect("create");
        secrets.insert(format!("/hook/{}", hook.test_path_name()), webhook.secret);
    }
    let delivery = TestDelivery {
        stream_name: Some("client-test-stream".to_owned()),
        transcoder_name: Some("client-test-transcoder".to_owned()),
    };
    for hook in HookType::ALL {
        client.send_test(hook, &delivery).await.expect("send test");
    }

    let mut received = BTreeMap::new();
    for _ in HookType::ALL {
        let request = receiver
            .next(Duration::from_secs(10))
            .expect("a test delivery");
        let previous = received.insert(request.path.clone(), request);
        assert!(previous.is_none(), "two deliveries to one webhook");
    }
    assert!(
        receiver.next(Duration::from_millis(500)).is_none(),
        "more than one delivery per test"
    );

    for hook in HookType::ALL {
        let path = format!("/hook/{}", hook.test_path_name());
        let request = &received[&path];
        assert_eq!(request.method, "POST");
        let key = secrets[&path].decode().expect("secret");
        let signature = Signature::parse(
            request
                .header("x-millicast-signature")
                .expect("signed")
                .as_bytes(),
        )
        .expect("a sha1= signature");
        SignatureVerifier::new(key.bytes(), None)
            .verify(&request.body, &signature)
            .unwrap_or_else(|e| panic!("{hook}: bad signature: {e:?}"));

        if hook == HookType::Thumbnail {
            assert_eq!(request.header("content-type"), Some("image/jpeg"));
            assert!(request.body.starts_with(&[0xff, 0xd8]), "a JPEG");
            assert!(
                request
                    .header("x-millicast-stream-id")
                    .is_some_and(|id| id.ends_with("/client-test-stream"))
            );
            continue;
        }
        assert_eq!(request.header("content-type"), Some("application/json"));
        let event: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON");
        let expected_type = match hook {
            HookType::Feeds => "feeds",
            HookType::Recordings => "recordings",
            HookType::Media => "media",
            HookType::Transcoder => "transcoder",
            HookType::ViewerConnection => "viewerConnection",
            HookType::Thumbnail => unreachable!(),
        };
        assert_eq!(event["type"], expected_type, "{event}");
        let named = match hook {
            HookType::Transcoder => &event["data"]["transcoderName"],
            HookType::Feeds | HookType::ViewerConnection => &event["data"]["name"],
            _ => &event["data"]["streamName"],
        };
        let wanted = if hook == HookType::Transcoder {
            "client-test-transcoder"
        } else {
            "client-test-stream"
        };
        assert_eq!(named, wanted, "{event}");
    }
}

#[tokio::test]
async fn a_wrong_api_secret_is_unauthorized() {
    let platform = LocalPlatform::start(&[]);
    let client = PlatformClient::new(&platform.base_url, "not-the-api-secret").expect("client");
    let errors = [
        client.get_webhook(1).await.unwrap_err(),
        client.list_webhooks(None, None, false).await.unwrap_err(),
        client
            .create_webhook(&new_webhook("https://r.example.com", HookSet::all()))
            .await
            .unwrap_err(),
        client
            .send_test(HookType::Feeds, &TestDelivery::default())
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert!(
            matches!(err, PlatformError::Unauthorized { status: 401, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("the platform refused the API secret (401 Unauthorized")
                && text.ends_with("check MILLICAST_API_SECRET"),
            "{text}"
        );
        assert!(!text.contains("not-the-api-secret") && !text.contains(API_SECRET));
        assert!(!format!("{err:?}").contains("not-the-api-secret"));
    }
}

#[tokio::test]
async fn an_unknown_id_is_not_found() {
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    let errors = [
        client.get_webhook(999).await.unwrap_err(),
        client
            .update_webhook(
                999,
                &WebhookUpdate {
                    refresh_secret: Some(true),
                    ..WebhookUpdate::default()
                },
            )
            .await
            .unwrap_err(),
        client.delete_webhook(999).await.unwrap_err(),
    ];
    for err in errors {
        assert!(
            matches!(err, PlatformError::NotFound { id: Some(999), .. }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "webhook 999 not found");
    }
}

#[tokio::test]
async fn invalid_fields_are_listed() {
    let platform = LocalPlatform::start(&[]);
    let client = platform.client();
    let err = client
        .create_webhook(&NewWebhook {
            url: "not a url".to_owned(),
            hooks: HookSet::all(),
            filter: Some("(".to_owned()),
        })
        .await
        .unwrap_err();
    let PlatformError::Invalid { fields } = &err else {
        panic!("{err:?}");
    };
    let names: Vec<_> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["filter", "url"]);
    assert!(fields.iter().all(|(_, message)| !message.is_empty()));
    let text = err.to_string();
    assert!(
        text.starts_with("the platform rejected the request: filter: ") && text.contains("; url: "),
        "{text}"
    );

    let webhook = client
        .create_webhook(&new_webhook("https://r.example.com/h", HookSet::all()))
        .await
        .expect("create");
    let too_long = client
        .update_webhook(
            webhook.id,
            &WebhookUpdate {
                filter: Some(Some("a".repeat(129))),
                ..WebhookUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&too_long, PlatformError::Invalid { fields } if fields.len() == 1 && fields[0].0 == "filter"),
        "{too_long:?}"
    );
    let bad_count = client
        .list_webhooks(None, Some(0), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&bad_count, PlatformError::Invalid { fields } if fields[0].0 == "itemCount"),
        "{bad_count:?}"
    );
    let bad_stream = client
        .send_test(
            HookType::Feeds,
            &TestDelivery {
                stream_name: Some(String::new()),
                transcoder_name: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&bad_stream, PlatformError::Invalid { fields } if fields[0].0 == "streamName"),
        "{bad_stream:?}"
    );
}

#[tokio::test]
async fn an_unreachable_platform_is_a_network_error() {
    let base_url = format!("http://127.0.0.1:{}", closed_port());
    let client = PlatformClient::new(&base_url, API_SECRET).expect("client");
    let started = Instant::now();
    let err = client.get_webhook(5).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        err,
        PlatformError::Network {
            url: format!("{base_url}/api/webhooks/5"),
            cause: "connection refused".to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        format!("cannot reach {base_url}/api/webhooks/5: connection refused")
    );

    // `.invalid` never resolves (RFC 6761); the cause wording depends on the resolver.
    let nowhere = PlatformClient::new("http://platform.invalid", API_SECRET).expect("client");
    let err = nowhere.delete_webhook(5).await.unwrap_err();
    let PlatformError::Network { url, cause } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(url, "http://platform.invalid/api/webhooks/5");
    assert!(
        !cause.is_empty() && !err.to_string().contains('\n'),
        "{err}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_the_platform_is_a_bad_response() {
    let receiver = Receiver::start(
        "200 OK",
        "text/html",
        "<html>\n<body>Welcome to nginx!</body>\n</html>",
    );
    let client = PlatformClient::new(&receiver.url, API_SECRET).expect("client");

    let err = client.get_webhook(1).await.unwrap_err();
    let PlatformError::BadResponse { url, status, cause } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(url, &format!("{}/api/webhooks/1", receiver.url));
    assert_eq!(*status, 200);
    assert_eq!(
        cause,
        "not JSON: <html> <body>Welcome to nginx!</body> </html>"
    );
    assert!(!err.to_string().contains('\n'));
    assert!(err.to_string().contains("(HTTP 200 OK)"));

    // What went on the wire: bearer auth, and the create body exactly as POST wants it.
    let get = receiver.next(Duration::from_secs(5)).expect("the GET");
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", "/api/webhooks/1")
    );
    assert_eq!(
        get.header("authorization"),
        Some(format!("Bearer {API_SECRET}").as_str())
    );
    assert_eq!(get.header("accept"), Some("application/json"));

    let new = NewWebhook {
        url: "https://relay.example.com/hook".to_owned(),
        hooks: HookSet::none().with(HookType::Thumbnail),
        filter: Some("^cam".to_owned()),
    };
    assert!(matches!(
        client.create_webhook(&new).await,
        Err(PlatformError::BadResponse { .. })
    ));
    let post = receiver.next(Duration::from_secs(5)).expect("the POST");
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/api/webhooks")
    );
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.header("authorization"),
        Some(format!("Bearer {API_SECRET}").as_str())
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&post.body).expect("JSON"),
        serde_json::json!({
            "url": "https://relay.example.com/hook",
            "isFeedHooks": false,
            "isRecordingHooks": false,
            "isThumbnailHooks": true,
            "isTranscoderHooks": false,
            "isMediaHooks": false,
            "isViewerConnectionHooks": false,
            "filter": "^cam"
        })
    );

    let list = client.list_webhooks(Some(3), Some(2), true).await;
    assert!(matches!(list, Err(PlatformError::BadResponse { .. })));
    let get_list = receiver.next(Duration::from_secs(5)).expect("the list GET");
    assert_eq!(
        get_list.path,
        "/api/webhooks/list?startingId=3&itemCount=2&isDescending=true"
    );
}
