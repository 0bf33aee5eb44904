//! CPU cost of the relay with S3/SQS excluded (in-memory adapters): signature verification
//! by body size, and the whole handler per JSON event and per 1 MB thumbnail.
//! Run with `make bench` (or `cargo bench --bench relay`).

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lambda_http::http::Request;
use lambda_http::{Body, Response};
use millicast_webhook_relay::ports::memory::{
    MemoryBus, MemoryQueue, MemorySecretSource, MemoryStore,
};
use millicast_webhook_relay::relay::secrets::{SecretSet, SecretStore};
use millicast_webhook_relay::{Config, Relay};
use millicast_webhooks::samples;
use millicast_webhooks::signature::{Signature, SignatureVerifier, sign};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn config() -> Config {
    Config::from_lookup(|name| match name {
        "WEBHOOK_SECRET" => Some(samples::TEST_SECRET.into()),
        "THUMBNAIL_BUCKET" => Some("bench-bucket".into()),
        "EVENT_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/events".into()),
        _ => None,
    })
    .expect("bench config")
}

fn new_relay() -> Relay<MemoryStore, MemoryQueue> {
    let secrets = SecretSet::parse_value(samples::TEST_SECRET).expect("test secret");
    Relay::new(
        &config(),
        SecretStore::fixed(&secrets),
        MemoryStore::new("bench-bucket"),
        MemoryQueue::default(),
    )
    .with_log_sink(Arc::new(|line: &str| {
        std::hint::black_box(line);
    }))
}

fn signature_verification(c: &mut Criterion) {
    let verifier = SignatureVerifier::new(SECRET, None);
    let mut group = c.benchmark_group("verify");
    for (label, size) in [
        ("1KB", 1 << 10),
        ("100KB", 100 << 10),
        ("1MB", 1 << 20),
        ("6MB", 6 << 20),
    ] {
        let body: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let signature = Signature::parse(sign(SECRET, &body).as_bytes()).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(label, |b| {
            b.iter(|| {
                verifier
                    .verify(std::hint::black_box(&body), &signature)
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// A 1 MB body made of the sample JPEG's bytes.
fn one_megabyte_image() -> Vec<u8> {
    samples::SAMPLE_JPEG
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect()
}

/// Verification with several webhooks held, on a 1 MB thumbnail: the webhook that signed it is
/// the last in the set (the worst order), then the same after it matched once (tried first
/// from then on), then at a path naming it. HMACs per delivery are the secrets tried.
fn several_webhooks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let image = one_megabyte_image();
    let mut group = c.benchmark_group("verify_webhooks_1MB");
    group.throughput(Throughput::Bytes(image.len() as u64));
    for count in [1_i64, 2, 5] {
        // Webhooks 1..=count, each with a current and a previous secret; `count` signs.
        let secret = |id: i64, which: &str| {
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("secret-{which}-of-webhook-{id}"),
            )
        };
        let value = serde_json::json!({
            "webhooks": (1..=count)
                .map(|id| serde_json::json!({
                    "id": id, "current": secret(id, "current"), "previous": secret(id, "previous")
                }))
                .collect::<Vec<_>>()
        });
        let set = SecretSet::parse_value(&value.to_string()).unwrap();
        let signer = secret(count, "current");
        let signer =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signer).unwrap();
        let signature = Signature::parse(sign(&signer, &image).as_bytes()).unwrap();
        for (case, named, warm) in [
            ("worst_order", None, false),
            ("after_a_match", None, true),
            ("path_names_it", Some(count), false),
        ] {
            group.bench_function(format!("{count}_webhooks/{case}"), |b| {
                b.iter_batched(
                    || {
                        let store = SecretStore::fixed(&set);
                        if warm {
                            runtime.block_on(store.verify(&image, &signature));
                        }
                        store
                    },
                    |store| {
                        let verification = runtime.block_on(store.verify_for(
                            std::hint::black_box(&image),
                            &signature,
                            named,
                        ));
                        assert_eq!(verification.result.unwrap().webhook_id, Some(count));
                        store
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

/// A forged 1 MB thumbnail (signed with a secret the relay does not hold) against a relay that
/// reads its secret from a store and re-read it a moment ago: no re-read is due, so the
/// delivery is refused (and kept) after one pass over the secrets held.
fn forged_delivery(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let image = one_megabyte_image();
    let held = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "held-secret");
    let store = runtime.block_on(SecretStore::load(
        Arc::new(MemorySecretSource::new(&held)),
        Duration::from_secs(3600),
    ));
    let forged = Signature::parse(sign(b"another secret", &image).as_bytes()).unwrap();
    let mut group = c.benchmark_group("verify_forged_1MB");
    group.throughput(Throughput::Bytes(image.len() as u64));
    group.bench_function("no_reread_due", |b| {
        b.iter(|| {
            let verification =
                runtime.block_on(store.verify(std::hint::black_box(&image), &forged));
            assert!(verification.result.is_err() && !verification.refreshed);
        })
    });
    group.finish();
}

fn json_request(body: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/json")
        .header("x-millicast-signature", sign(SECRET, body.as_bytes()))
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

fn thumbnail_request(image: &[u8]) -> Request<Body> {
    let mut builder = Request::builder().method("POST").uri("/");
    for (name, value) in samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, 1_638_463_486_489) {
        builder = builder.header(name, value);
    }
    builder
        .header("x-millicast-signature", sign(SECRET, image))
        .body(Body::Binary(image.to_vec()))
        .unwrap()
}

fn expect_ok(response: Response<Body>) {
    assert_eq!(response.status(), 200);
}

fn handler(c: &mut Criterion) {
    // Timers on: every step of a request runs within its deadline (relay/deadline.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("handler");

    // A fresh relay per iteration, returned so that it is dropped outside the timing: the
    // in-memory adapters keep every message, and a heap grown over millions of iterations
    // would time glibc's free-list consolidation rather than the relay.
    let body = samples::json_sample(
        "feeds-started",
        millicast_webhook_relay::relay::clock::now_ms(),
    )
    .unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function("json_event", |b| {
        b.iter_batched(
            || (new_relay(), json_request(&body)),
            |(relay, request)| {
                expect_ok(runtime.block_on(relay.handle(request)));
                relay
            },
            BatchSize::SmallInput,
        )
    });

    // With the event bus output on (an in-memory bus): the sample, and a 200 KB event that
    // still fits SQS — building its bus copy is the part that grows with the body.
    let large = body.replacen(
        r#""data":{"#,
        &format!(r#""data":{{"notes":"{}","#, "n".repeat(200_000)),
        1,
    );
    for (label, body) in [
        ("json_event_bus_on", &body),
        ("json_event_200KB_bus_on", &large),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(label, |b| {
            b.iter_batched(
                || {
                    let relay = new_relay().with_bus(Arc::new(MemoryBus::default()));
                    (relay, json_request(body))
                },
                |(relay, request)| {
                    expect_ok(runtime.block_on(relay.handle(request)));
                    relay
                },
                BatchSize::SmallInput,
            )
        });
    }

    // 1 MB thumbnail: a fresh relay per iteration so each image is new (not a duplicate).
    let image = one_megabyte_image();
    group.throughput(Throughput::Bytes(image.len() as u64));
    group.bench_function("thumbnail_1MB", |b| {
        b.iter_batched(
            || (new_relay(), thumbnail_request(&image)),
            |(relay, request)| {
                expect_ok(runtime.block_on(relay.handle(request)));
                relay
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = signature_verification, several_webhooks, forged_delivery, handler
}
criterion_main!(benches);
