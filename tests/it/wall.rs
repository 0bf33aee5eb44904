//! `relayctl wall` against moto holding what the relay itself wrote (thumbnails sent through
//! the relay library, which holds two webhooks' secrets and one without id):
//! - over HTTP: the listing (streams and accounts named with the delimiter's digit, a capture
//!   time the delimiter does not roll up), the webhook id of each newest frame, the S3 requests per look counted by a proxy in front
//!   of S3 and by relayctl itself, a new capture of the same bytes, the images and their
//!   caching, the refusals (another Host, POST, paths that are not a tile's), `--open`;
//! - in a real browser (Debian's /usr/bin/chromium driven by tests/wall/wall.test.mjs with
//!   playwright-core): the empty state, tiles in three states (live, quiet, never seen →
//!   absent) in order with their webhook ids, the keyboard, 200 % zoom, a new frame from
//!   another webhook picked up without a reload or a blank, a screenshot kept in target/wall/; then a hundred streams (the page's weight) and
//!   three hundred (what a refresh costs the page and S3).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::support::wall::{WallProcess, send_thumbnail, unique_jpeg};
use crate::support::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// S3 requests seen on the wire, by kind: `list` (GET with list-type=2), `head`, `get`.
#[derive(Clone, Default)]
struct Counted(Arc<Mutex<BTreeMap<&'static str, u64>>>);

impl Counted {
    fn get(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, request_line: &str) {
        let mut words = request_line.split_whitespace();
        let kind = match (words.next(), words.next()) {
            (Some("HEAD"), _) => "head",
            (Some("GET"), Some(target)) if target.contains("list-type=2") => "list",
            (Some("GET"), _) => "get",
            _ => "other",
        };
        *self.0.lock().unwrap().entry(kind).or_default() += 1;
    }
}

/// A TCP proxy in front of moto's S3 that counts the HTTP requests passing through it (their
/// request lines; the wall's S3 requests carry no body).
async fn counting_proxy(upstream: &str) -> (String, Counted) {
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let counted = Counted::default();
    let counter = counted.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, counter) = (upstream.clone(), counter.clone());
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = async {
                    let mut pending = Vec::new();
                    let mut buffer = [0u8; 16 * 1024];
                    while let Ok(n) = from_client.read(&mut buffer).await {
                        if n == 0 || to_server.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        pending.extend_from_slice(&buffer[..n]);
                        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                            counter.count(head.lines().next().unwrap_or_default());
                            pending.drain(..end + 4);
                        }
                    }
                    let _ = to_server.shutdown().await;
                };
                let down = tokio::io::copy(&mut from_server, &mut to_client);
                let _ = tokio::join!(up, down);
            });
        }
    });
    (endpoint, counted)
}

/// A bucket and queue, the relay over them (reading [`webhooks_secret`] from Secrets Manager,
/// as deployed: [`SECRET`] is [`WEBHOOK`]'s, [`PREVIOUS_SECRET`] [`OTHER_WEBHOOK`]'s,
/// [`OTHER_SECRET`] held without id), and a stack naming the bucket (`--stack`).
struct Scene {
    fixture: Fixture,
    relay: MotoRelay,
    stack: String,
}

impl Scene {
    async fn new() -> Self {
        let fixture = Fixture::new(false).await;
        let relay = fixture.relay_holding(&webhooks_secret()).await;
        let stack = fixture
            .create_stack(&[
                ("BucketName", &fixture.bucket),
                ("QueueUrl", &fixture.queue_url),
                (
                    "RelaySettings",
                    r#"{"THUMBNAIL_PREFIX":"thumbnails/","THUMBNAIL_LATEST":"true"}"#,
                ),
            ])
            .await;
        Self {
            fixture,
            relay,
            stack,
        }
    }

    /// `relayctl wall --stack` over this scene (S3 through `s3_endpoint` when given).
    fn wall(
        &self,
        args: &[&str],
        s3_endpoint: Option<&str>,
        extra: &[(&str, &str)],
    ) -> WallProcess {
        let mut all = vec!["--stack", self.stack.as_str()];
        all.extend_from_slice(args);
        let mut env = vec![
            ("AWS_ENDPOINT_URL", self.fixture.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ];
        if let Some(s3) = s3_endpoint {
            env.push(("AWS_ENDPOINT_URL_S3", s3));
        }
        env.extend_from_slice(extra);
        WallProcess::start(&all, &env)
    }

    /// A thumbnail delivered by [`WEBHOOK`].
    async fn thumbnail(&self, stream_id: &str, captured_ms: i64, label: &str) {
        self.thumbnail_signed(stream_id, captured_ms, label, SECRET)
            .await;
    }

    /// A thumbnail signed with `secret` (of which webhook: [`Scene`]).
    async fn thumbnail_signed(&self, stream_id: &str, captured_ms: i64, label: &str, secret: &str) {
        send_thumbnail(
            &self.relay,
            stream_id,
            captured_ms,
            &unique_jpeg(label),
            secret,
        )
        .await;
    }

    /// `count` streams `{account}/{prefix}-NNN`, captured `age_ms` ago, eight at a time.
    async fn streams(
        &self,
        account: &str,
        prefix: &str,
        range: std::ops::Range<usize>,
        age_ms: i64,
    ) {
        let now = now_ms();
        futures_util::stream::iter(range)
            .map(|n| async move {
                let id = format!("{account}/{prefix}-{n:03}");
                self.thumbnail(&id, now - age_ms, &id).await;
            })
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
    }
}

/// Each tile's webhook id, by tile id (`None`: shown as "—").
fn webhook_ids(streams: &Value) -> BTreeMap<String, Option<String>> {
    streams["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tile| {
            let id = tile["webhookId"].as_str().map(str::to_owned);
            assert!(id.is_some() || tile["webhookId"].is_null(), "{tile}");
            (tile["id"].as_str().unwrap().to_owned(), id)
        })
        .collect()
}

fn tile_ids(streams: &Value) -> Vec<String> {
    streams["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tile| tile["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The next look (polls past the refresh interval until the look number changes).
async fn next_look(wall: &WallProcess, after: u64) -> Value {
    for _ in 0..100 {
        let streams = wall.streams().await;
        if streams["looks"].as_u64().unwrap() > after {
            return streams;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no new look after look {after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_over_http_lists_every_latest_jpg_cheaply() {
    let scene = Scene::new().await;
    let now = now_ms();
    // Named with the delimiter's digit (a stream "1", an account "1ACME", a stream "1lobby"),
    // an ordinary one, and one whose capture time does not start with 1 (not rolled up); one
    // verified by the secret held without id, the others by webhook 4242's.
    for (id, captured, secret) in [
        ("LOCAL1/cam-1", now - 1_000, SECRET),
        ("LOCAL1/1lobby", now - 2_000, OTHER_SECRET),
        ("1ACME/1", now - 3_000, SECRET),
        ("LOCAL1/old-clock", 999, SECRET),
    ] {
        scene.thumbnail_signed(id, captured, id, secret).await;
    }
    // A stream that only ever sent an event: no tile.
    let event = millicast_webhooks::samples::json_sample("feeds-started", now).unwrap();
    assert_eq!(
        status_and_body(&scene.relay.handle(json_webhook(&event, SECRET)).await).0,
        200
    );
    let (proxy, counted) = counting_proxy(&scene.fixture.endpoint).await;
    let opened = std::env::temp_dir().join(format!("relayctl-wall-opened-{}", std::process::id()));
    let browser =
        std::env::temp_dir().join(format!("relayctl-wall-browser-{}.sh", std::process::id()));
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$@\" > {}\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let wall = scene.wall(
        &["--refresh", "1", "--open"],
        Some(&proxy),
        &[("BROWSER", browser.to_str().unwrap())],
    );
    assert!(wall.url.starts_with("http://127.0.0.1:"), "{}", wall.url);
    let said = wall.wait_for_stderr("stream(s)").await;
    assert!(
        said.contains("4 stream(s): 3 live, 1 quiet (3 ListObjectsV2, 4 HeadObject"),
        "{said}"
    );
    // --open started $BROWSER with the page's address.
    for _ in 0..100 {
        if opened.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read_to_string(&opened).unwrap().trim(), wall.url);
    let _ = std::fs::remove_file(&opened);
    let _ = std::fs::remove_file(&browser);

    // The first look: every latest.jpg, one listing plus one for each account with a name
    // starting with the digit (two here), and a HEAD per latest.jpg.
    let first = wall.streams().await;
    assert_eq!(
        tile_ids(&first),
        [
            "1ACME/1",
            "LOCAL1/1lobby",
            "LOCAL1/cam-1",
            "LOCAL1/old-clock"
        ]
    );
    assert_eq!(first["notices"], json!([]));
    // Each newest frame's webhook, as the relay recorded it on latest.jpg.
    let webhook = Some(WEBHOOK.to_string());
    assert_eq!(
        webhook_ids(&first),
        BTreeMap::from([
            ("1ACME/1".to_owned(), webhook.clone()),
            ("LOCAL1/1lobby".to_owned(), None),
            ("LOCAL1/cam-1".to_owned(), webhook.clone()),
            ("LOCAL1/old-clock".to_owned(), webhook.clone()),
        ])
    );
    assert_eq!(first["lastLook"]["list"], 3);
    // The HEADs were the first look's: nothing changed since.
    assert_eq!(first["requests"]["head"], 4);
    let tiles = first["tiles"].as_array().unwrap();
    let old_clock = tiles
        .iter()
        .find(|t| t["id"] == "LOCAL1/old-clock")
        .unwrap();
    assert_eq!(
        (old_clock["captureMs"].as_i64(), &old_clock["captureKnown"]),
        (Some(999), &json!(true))
    );
    // Asked again within the interval: the same look, no S3 request.
    let before = counted.get();
    let again = wall.streams().await;
    assert_eq!(again["looks"], first["looks"]);
    assert_eq!(counted.get(), before);

    // Nothing changed: a look is its listings alone.
    let quiet = next_look(&wall, first["looks"].as_u64().unwrap()).await;
    assert_eq!(
        (
            quiet["lastLook"]["list"].as_u64(),
            quiet["lastLook"]["head"].as_u64()
        ),
        (Some(3), Some(0))
    );
    // A new capture with the very same bytes (same ETag), delivered by the other webhook: its
    // write time changed, so it is read, and the tile names the other webhook.
    let cam = tiles
        .iter()
        .find(|t| t["id"] == "LOCAL1/cam-1")
        .unwrap()
        .clone();
    tokio::time::sleep(Duration::from_millis(1_100)).await; // S3's times are in whole seconds
    let recaptured = now_ms();
    send_thumbnail(
        &scene.relay,
        "LOCAL1/cam-1",
        recaptured,
        &unique_jpeg("LOCAL1/cam-1"),
        PREVIOUS_SECRET,
    )
    .await;
    let changed = next_look(&wall, quiet["looks"].as_u64().unwrap()).await;
    assert_eq!(changed["lastLook"]["head"], 1, "{changed}");
    let cam_now = changed["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "LOCAL1/cam-1")
        .unwrap();
    assert_eq!(cam_now["captureMs"].as_i64(), Some(recaptured));
    assert_eq!(
        cam_now["webhookId"],
        json!(OTHER_WEBHOOK.to_string()),
        "{cam_now}"
    );
    assert_eq!(
        cam_now["image"], cam["image"],
        "same bytes, same image address"
    );

    // The image, through relayctl: cached for good under its ETag's address, once per ETag.
    let image_path = cam_now["image"].as_str().unwrap();
    let stored = scene
        .fixture
        .object("thumbnails/LOCAL1/cam-1/latest.jpg")
        .await;
    for _ in 0..2 {
        let answer = wall.get(image_path).await;
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "image/jpeg");
        assert_eq!(
            answer.headers()["cache-control"],
            "private, max-age=86400, immutable"
        );
        assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            answer.bytes().await.unwrap().as_ref(),
            stored.body.as_slice()
        );
    }
    let stale = wall
        .get("/img/LOCAL1/cam-1/latest.jpg?v=not-this-one")
        .await;
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["cache-control"], "no-store");
    assert_eq!(
        counted.get().get("get").copied(),
        Some(1),
        "one GetObject for two requests of the same ETag: {:?}",
        counted.get()
    );
    // Only a tile's latest.jpg: not another object, not another stream.
    let key = stored.key.replace("latest.jpg", "");
    assert_eq!(stored.metadata["webhook-id"], OTHER_WEBHOOK.to_string());
    // Each capture's own image keeps the webhook that delivered it, too (by key: in capture
    // order).
    let delivered_by: BTreeMap<String, String> = scene
        .fixture
        .objects_under(&key)
        .await
        .into_iter()
        .filter(|image| !image.key.ends_with("latest.jpg"))
        .map(|image| (image.key, image.metadata["webhook-id"].clone()))
        .collect();
    assert_eq!(
        delivered_by.into_values().collect::<Vec<_>>(),
        [WEBHOOK.to_string(), OTHER_WEBHOOK.to_string()]
    );
    let images = scene.fixture.keys().await;
    let other = images
        .iter()
        .find(|k| k.starts_with(&key) && !k.ends_with("latest.jpg"))
        .unwrap();
    for refused in [
        format!("/img/{}", other.trim_start_matches("thumbnails/")),
        "/img/LOCAL1/never-seen/latest.jpg".to_owned(),
        "/img/LOCAL1/../quarantine/latest.jpg".to_owned(),
        "/nothing".to_owned(),
    ] {
        assert_eq!(wall.get(&refused).await.status(), 404, "{refused}");
    }
    let client = reqwest::Client::new();
    let posted = client.post(&wall.url).send().await.unwrap();
    assert_eq!(posted.status(), 405);
    assert_eq!(posted.headers()["allow"], "GET, HEAD");
    // A page elsewhere whose name was rebound to 127.0.0.1 is not answered.
    let rebound = client
        .get(format!("{}api/streams", wall.url))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    let page = wall.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'; script-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<script type=\"module\" src=\"/wall.js\"></script>"));
    for asset in ["/wall.js", "/wall.css"] {
        assert_eq!(wall.get(asset).await.status(), 200, "{asset}");
    }

    // relayctl's own count of its S3 requests is what crossed the wire.
    let reported = wall.streams().await["requests"].clone();
    let seen = counted.get();
    assert_eq!(
        (
            reported["list"].as_u64(),
            reported["head"].as_u64(),
            reported["get"].as_u64()
        ),
        (
            seen.get("list").copied(),
            seen.get("head").copied(),
            seen.get("get").copied()
        ),
        "{seen:?}"
    );
    assert_eq!(seen.get("other"), None, "{seen:?}");
}

#[tokio::test]
async fn with_nothing_to_show_the_wall_says_what_to_do() {
    let scene = Scene::new().await;
    let wall = scene.wall(&[], None, &[]);
    let said = wall.wait_for_stderr("stream(s)").await;
    assert!(said.contains("No thumbnails yet"), "{said}");
    let streams = wall.streams().await;
    let notice = &streams["notices"][0];
    assert_eq!(notice["kind"], "empty");
    assert_eq!(
        notice["commands"][0],
        format!(
            "relayctl register --stack {} --hooks feeds,recordings,media,thumbnails,transcoder,viewer-connection",
            scene.stack
        )
    );
    assert_eq!(notice["see"], "docs/operate.md#the-wall");

    // Thumbnails, but the relay writes no latest.jpg (THUMBNAIL_LATEST=false).
    let config = scene.fixture.config(&[("THUMBNAIL_LATEST", "false")]);
    let relay = scene.fixture.relay(&config);
    send_thumbnail(
        &relay,
        "LOCAL1/cam-1",
        now_ms(),
        &unique_jpeg("no latest"),
        SECRET,
    )
    .await;
    drop(wall);
    let wall = scene.wall(&[], None, &[]);
    wall.wait_for_stderr("stream(s)").await;
    let notice = &wall.streams().await["notices"][0];
    assert_eq!(notice["title"], "No latest.jpg to show");
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .starts_with("1 stream(s) have thumbnails under s3://"),
        "{notice}"
    );

    // A bucket that is not there: the failure, on the page and in the terminal.
    let missing = scene.wall(&["--bucket", "no-such-bucket-for-the-wall"], None, &[]);
    let said = missing.wait_for_stderr("stream(s)").await;
    assert!(
        said.contains("Cannot list s3://no-such-bucket-for-the-wall/thumbnails/"),
        "{said}"
    );
    let notice = &missing.streams().await["notices"][0];
    assert_eq!(notice["kind"], "problem");
    assert!(
        notice["detail"].as_str().unwrap().contains("NoSuchBucket"),
        "{notice}"
    );
}

/// `node tests/wall/wall.test.mjs`, talking over its standard input and output: it prints
/// `STEP <name> <json>` and waits for one JSON line, then `RESULT <json>` at the end.
struct Browser {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stdin: tokio::process::ChildStdin,
    log: Vec<String>,
}

impl Browser {
    fn start(scenario: &str, url: &str) -> Self {
        let root = project_dir();
        assert!(
            PathBuf::from(CHROMIUM).exists(),
            "{CHROMIUM} is missing: run `make wall-test-deps` (make test does), which installs Debian's chromium"
        );
        assert!(
            root.join("tests/wall/node_modules/playwright-core")
                .is_dir(),
            "tests/wall/node_modules is missing: run `make wall-test-deps` (make test does)"
        );
        let artifacts = root.join("target/wall");
        std::fs::create_dir_all(&artifacts).unwrap();
        let mut child = tokio::process::Command::new("node")
            .arg(root.join("tests/wall/wall.test.mjs"))
            .args([scenario, url])
            .arg(&artifacts)
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdin = child.stdin.take().unwrap();
        Self {
            child,
            lines,
            stdin,
            log: Vec::new(),
        }
    }

    /// The next step the browser asks for, or its result (`("RESULT", …)`).
    async fn next(&mut self) -> (String, Value) {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(120), self.lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!("the browser test went silent:\n{}", self.log.join("\n"))
                })
                .unwrap();
            let Some(line) = line else {
                let status = self.child.wait().await.unwrap();
                panic!(
                    "the browser test ended ({status}):\n{}",
                    self.log.join("\n")
                );
            };
            println!("browser: {line}");
            if let Some(rest) = line.strip_prefix("STEP ") {
                let (name, json) = rest.split_once(' ').unwrap_or((rest, "{}"));
                return (name.to_owned(), serde_json::from_str(json).unwrap());
            }
            if let Some(json) = line.strip_prefix("RESULT ") {
                return ("RESULT".to_owned(), serde_json::from_str(json).unwrap());
            }
            self.log.push(line);
        }
    }

    async fn expect_step(&mut self, name: &str) -> Value {
        let (step, value) = self.next().await;
        assert_eq!(step, name, "{value}\n{}", self.log.join("\n"));
        value
    }

    async fn reply(&mut self, value: Value) {
        self.stdin
            .write_all(format!("{value}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn finish(mut self) -> Value {
        let (step, result) = self.next().await;
        assert_eq!(step, "RESULT", "{result}");
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "{status}\n{}", self.log.join("\n"));
        result
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_in_a_real_browser() {
    let started = Instant::now();
    let scene = Scene::new().await;
    let wall = scene.wall(&["--refresh", "1"], None, &[]);
    let mut browser = Browser::start("states", &wall.url);

    // The page first finds nothing and says what to do; then the streams come.
    browser.expect_step("empty-state-seen").await;
    let now = now_ms();
    let live = [
        ("LOCAL1/cam-1", now - 2_000),
        ("LOCAL1/live-main", now - 40_000),
    ];
    let quiet = ("LOCAL1/studio-a", now - 10 * 60_000);
    // The live ones delivered by webhook 4242, the quiet one verified by the secret held without
    // id: no webhook id to show.
    for (id, captured) in live {
        scene.thumbnail(id, captured, id).await;
    }
    scene
        .thumbnail_signed(quiet.0, quiet.1, quiet.0, OTHER_SECRET)
        .await;
    // Never seen: the stream started (an event on the queue) but no thumbnail came.
    let started_event = millicast_webhooks::samples::json_sample("feeds-started", now)
        .unwrap()
        .replace("ZG6NWV/sample_stream", "LOCAL1/never-seen");
    assert_eq!(
        status_and_body(
            &scene
                .relay
                .handle(json_webhook(&started_event, SECRET))
                .await
        )
        .0,
        200
    );
    let tile = |(id, captured): (&str, i64), state: &str, webhook: Option<i64>| json!({"id": id, "captureMs": captured, "state": state, "webhookId": webhook.map(|id| id.to_string())});
    browser
        .reply(json!({
            "stack": scene.stack,
            "tiles": [
                tile(live[0], "live", Some(WEBHOOK)),
                tile(live[1], "live", Some(WEBHOOK)),
                tile(quiet, "quiet", None),
            ],
            "absent": ["LOCAL1/never-seen"],
        }))
        .await;

    // A new frame of a live stream, delivered by the other webhook, while the page watches its
    // tile.
    browser.expect_step("new-frame").await;
    let captured = now_ms();
    scene
        .thumbnail_signed(
            "LOCAL1/cam-1",
            captured,
            "LOCAL1/cam-1 again",
            PREVIOUS_SECRET,
        )
        .await;
    browser
        .reply(json!({"id": "LOCAL1/cam-1", "captureMs": captured, "webhookId": OTHER_WEBHOOK.to_string()}))
        .await;
    let result = browser.finish().await;
    println!("browser test result: {result:#}");
    assert!(
        result["chromium"]
            .as_str()
            .unwrap()
            .starts_with("Chromium "),
        "{result}"
    );
    assert!(project_dir().join("target/wall/wall.png").is_file());
    println!("the_wall_in_a_real_browser took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_then_three_hundred_streams() {
    let scene = Scene::new().await;
    let setup = Instant::now();
    scene.streams("SCALE", "cam", 0..100, 5_000).await;
    println!("100 thumbnails through the relay in {:?}", setup.elapsed());
    let (proxy, counted) = counting_proxy(&scene.fixture.endpoint).await;
    let wall = scene.wall(&["--refresh", "2"], Some(&proxy), &[]);
    let mut browser = Browser::start("scale", &wall.url);
    browser.expect_step("hundred-measured").await;

    // Two hundred streams more, and a new frame for ten of the first hundred.
    let looks_before = wall.streams().await["looks"].as_u64().unwrap();
    let setup = Instant::now();
    scene.streams("SCALE", "cam", 100..300, 5_000).await;
    println!("200 thumbnails through the relay in {:?}", setup.elapsed());
    let changed: Vec<String> = (0..10)
        .map(|n| format!("SCALE/cam-{:03}", n * 10))
        .collect();
    let captured = now_ms();
    for id in &changed {
        scene.thumbnail(id, captured, &format!("{id} again")).await;
    }
    browser
        .reply(json!({"total": 300, "changed": changed, "captureMs": captured}))
        .await;
    let result = browser.finish().await;
    println!("browser test result: {result:#}");

    // What S3 saw: every look a single ListObjectsV2 (300 streams are 600 entries of a page of
    // 1,000), a HeadObject per new or changed latest.jpg, each once.
    let streams = wall.streams().await;
    let looks = streams["looks"].as_u64().unwrap();
    let seen = counted.get();
    assert_eq!(seen.get("list").copied(), Some(looks), "{seen:?}");
    assert_eq!(
        seen.get("head").copied(),
        Some(300 + 10),
        "a HeadObject per latest.jpg, and per changed one: {seen:?}"
    );
    assert_eq!(
        streams["requests"]["get"].as_u64(),
        seen.get("get").copied()
    );
    let images = seen.get("get").copied().unwrap_or(0);
    assert!(
        images < 300,
        "the browser asked only for the images it showed: {images} GetObject"
    );
    println!(
        "S3: {looks} looks ({} after the first hundred were shown), {seen:?}",
        looks - looks_before
    );
}
