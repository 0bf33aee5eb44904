//! The Lambda's TLS trust (src/aws/sdk.rs): only the Amazon Trust Services roots, compiled in.
//! - the roots are exactly the five Amazon publishes, checked by their SHA-256 fingerprints;
//! - a TLS connection to a local HTTPS endpoint whose certificate chains to none of them is
//!   refused, while the same endpoint is reached once its (private) root is trusted (so the
//!   refusal is about trust, not about reaching the server).

use std::process::Child;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::config::Credentials;
use aws_smithy_http_client::tls::TrustStore;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use millicast_webhook_relay::aws::sdk as aws;
use sha2::{Digest, Sha256};

/// SHA-256 fingerprints of the Amazon Trust Services roots, as published at
/// <https://www.amazontrust.com/repository/>.
const PUBLISHED_FINGERPRINTS: [(&str, &str); 5] = [
    (
        "Amazon Root CA 1",
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
    ),
    (
        "Amazon Root CA 2",
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
    ),
    (
        "Amazon Root CA 3",
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
    ),
    (
        "Amazon Root CA 4",
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
    ),
    (
        "Starfield Services Root Certificate Authority - G2",
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
    ),
];

fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    pem.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|rest| {
            let body: String = rest
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap()
                .split_whitespace()
                .collect();
            STANDARD.decode(body).unwrap()
        })
        .collect()
}

#[test]
fn the_compiled_in_roots_are_the_five_amazon_trust_services_roots() {
    let mut fingerprints: Vec<String> = pem_certificates(aws::AMAZON_ROOTS_PEM)
        .iter()
        .map(|der| hex::encode(Sha256::digest(der)))
        .collect();
    fingerprints.sort();
    let mut published: Vec<String> = PUBLISHED_FINGERPRINTS
        .iter()
        .map(|(_, fingerprint)| fingerprint.to_string())
        .collect();
    published.sort();
    assert_eq!(fingerprints, published);
}

/// scripts/tls_server.py: HTTPS on a free loopback port, its certificate from a new private root.
struct UntrustedEndpoint {
    _process: Child,
    url: String,
    root_pem: String,
}

fn start_untrusted_endpoint() -> UntrustedEndpoint {
    let (process, line) = crate::support::start_script("tls_server.py", std::iter::empty::<&str>());
    let setup: serde_json::Value = serde_json::from_str(&line).unwrap();
    UntrustedEndpoint {
        url: format!("https://127.0.0.1:{}", setup["port"]),
        root_pem: setup["root_pem"].as_str().unwrap().to_owned(),
        _process: process,
    }
}

/// An SQS SendMessage to `endpoint` through the Lambda's HTTPS client trusting `trust_store`:
/// `Ok(status)` when an HTTP response came back, `Err(cause chain)` when none did.
async fn send_through(trust_store: TrustStore, endpoint: &str) -> Result<u16, String> {
    let sdk = aws::with_relay_defaults(aws_config::defaults(BehaviorVersion::latest()))
        .http_client(aws::https_client(trust_store).unwrap())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let result = aws::sqs_client(&sdk)
        .send_message()
        .queue_url(format!("{endpoint}/123456789012/q"))
        .message_body("{}")
        .send()
        .await;
    match result {
        Ok(_) => Ok(200),
        Err(error) => match error.raw_response() {
            Some(response) => Ok(response.status().as_u16()),
            None => {
                let mut chain = String::new();
                let mut source: Option<&dyn std::error::Error> = Some(&error);
                while let Some(cause) = source {
                    chain.push_str(&format!("{cause}; "));
                    source = cause.source();
                }
                Err(chain)
            }
        },
    }
}

#[tokio::test]
async fn an_endpoint_whose_certificate_chains_to_no_amazon_root_is_refused() {
    let endpoint = start_untrusted_endpoint();

    let refused = send_through(aws::amazon_trust_store(), &endpoint.url).await;
    let cause = refused.expect_err("the Amazon roots must not accept a private root's certificate");
    assert!(
        cause.contains("invalid peer certificate: UnknownIssuer"),
        "refused for the wrong reason: {cause}"
    );

    // Control: the same endpoint, its root trusted, answers (400 from the test server).
    let trusted = TrustStore::empty().with_pem_certificate(endpoint.root_pem.clone());
    assert_eq!(send_through(trusted, &endpoint.url).await, Ok(400));
}
