//! The platform's webhooks crate (`crates/millicast-webhooks`) stays pure: no async runtime,
//! no HTTP stack or client, no AWS. Read from `cargo tree` (offline, from Cargo.lock), so a
//! dependency that pulls one of them in fails here, not in a user's build.

use std::process::Command;

/// Crates that would mean I/O, a runtime or a cloud SDK (names, or prefixes ending in `-`).
const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "hyper",
    "h2",
    "http",
    "http-body",
    "reqwest",
    "rustls",
    "aws-",
    "lambda_",
    "lambda-",
    "futures-",
];

fn normal_dependencies(package: &str, features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "tree",
        "--offline",
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--package",
        package,
    ]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn is_forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|forbidden| {
        if forbidden.ends_with('-') || forbidden.ends_with('_') {
            name.starts_with(forbidden)
        } else {
            name == *forbidden
        }
    })
}

#[test]
fn the_domain_crate_has_no_runtime_http_or_aws_dependency() {
    for features in [&[][..], &["samples"][..]] {
        let crates = normal_dependencies("millicast-webhooks", features);
        assert!(
            crates.iter().any(|name| name == "hmac"),
            "cargo tree listed {crates:?}: not the domain crate's tree?"
        );
        let forbidden: Vec<&String> = crates.iter().filter(|name| is_forbidden(name)).collect();
        assert!(
            forbidden.is_empty(),
            "millicast-webhooks (features {features:?}) depends on {forbidden:?}"
        );
    }
}

#[test]
fn the_check_would_catch_the_relays_own_tree() {
    // The control: the relay itself does pull in tokio, hyper and the AWS SDK.
    let crates = normal_dependencies("millicast-webhook-relay", &[]);
    for expected in ["tokio", "hyper", "aws-sdk-sqs"] {
        assert!(
            crates.iter().any(|name| name == expected),
            "{expected} not in {crates:?}"
        );
        assert!(is_forbidden(expected));
    }
}
