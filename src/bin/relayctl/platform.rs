//! What `register`, `rotate`, `unregister` and `webhooks` share: the platform's client from the
//! environment, progress lines, the round trip's line.

use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::lifecycle::RoundTrip;
use millicast_webhook_relay::operator::platform::PlatformClient;

use crate::error::Error;

/// The platform's API client, from MILLICAST_API_SECRET (and MILLICAST_API_URL).
pub fn platform() -> Result<PlatformClient, OperatorError> {
    PlatformClient::from_env()
        .map_err(|e| OperatorError::platform("cannot set up the platform's API client", e))
}

/// Progress goes to standard error; the result line to standard output.
pub fn progress(line: &str) {
    eprintln!("{line}");
}

/// The line that says how the round trip went: `Err` when it was not proven.
pub fn round_trip_line(round_trip: &RoundTrip) -> Result<String, Error> {
    match round_trip {
        RoundTrip::Proven { elapsed, key } => Ok(format!(
            "round trip proven in {:.2} s (platform → relay → s3: {key})",
            elapsed.as_secs_f64()
        )),
        RoundTrip::NotTried(why) => Ok(format!("round trip not tried: {why}")),
        RoundTrip::Failed(why) => Err(Error::failed(format!("round trip not proven: {why}"))),
    }
}
