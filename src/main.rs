//! The Lambda binary: read config, build the AWS clients and read the secret once, serve the
//! function URL.

use lambda_http::{Error, Request, run, service_fn, tracing};
use std::sync::Arc;

use millicast_webhook_relay::aws::eventbridge::EventBridgeBus;
use millicast_webhook_relay::aws::s3::S3ObjectStore;
use millicast_webhook_relay::aws::sdk;
use millicast_webhook_relay::aws::secretsmanager::secret_store;
use millicast_webhook_relay::aws::sqs::SqsEventQueue;
use millicast_webhook_relay::relay::allocator;
use millicast_webhook_relay::{Config, Relay};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    allocator::return_large_buffers_to_the_system();
    tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|error| tracing::error!("{error}"))?;
    let sdk_config = sdk::load_lambda_sdk_config()
        .await
        .inspect_err(|error| tracing::error!("{error}"))?;
    let store = S3ObjectStore::new(
        sdk::s3_client(&sdk_config, config.s3_force_path_style),
        &config.thumbnail_bucket,
    );
    let queue = SqsEventQueue::new(sdk::sqs_client(&sdk_config), &config.event_queue_url);
    // An unreadable secret does not stop the relay: it quarantines and re-reads (relay::secrets).
    let secrets = secret_store(&config.secrets, || sdk::secrets_client(&sdk_config)).await;
    let mut relay = Relay::new(&config, secrets, store, queue);
    // The bus client is built only when the bus output is on.
    if let Some(bus) = &config.event_bus {
        let client = sdk::eventbridge_client(&sdk_config);
        relay = relay.with_bus(Arc::new(EventBridgeBus::new(client, bus)));
    }
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(relay.handle(request).await)
    }))
    .await
}
