//! `relayctl wall`: every stream's newest frame on a local web page, live first.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::wall::server::{AllowedHosts, serve};
use millicast_webhook_relay::operator::wall::{
    Advice, Adviser, DEFAULT_QUIET_AFTER, Wall, WallSettings,
};
use millicast_webhook_relay::relay::clock::now_ms;
use tokio::net::TcpListener;

use crate::aws_clients::s3_client;
use crate::error::{Error, HINTS, hint_for};
use crate::target::{StackArgs, path_settings, pick};

#[derive(Args)]
pub struct WallArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The relay's bucket (the stack's BucketName).
    #[arg(long, env = "THUMBNAIL_BUCKET")]
    bucket: Option<String>,
    /// The address to listen on. Anything but a loopback address shows every stream, read with
    /// your AWS credentials, to whoever can reach it.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8130)]
    port: u16,
    /// Open the page in a browser ($BROWSER, else xdg-open, or open on macOS).
    #[arg(long)]
    open: bool,
    /// Seconds between two looks at the bucket (one ListObjectsV2, plus a HeadObject per
    /// latest.jpg that changed), made only while a page is open.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    refresh: u64,
    /// A tile goes quiet when its newest frame is older than this (default: three of the
    /// platform's 30-second thumbnail intervals).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_QUIET_AFTER.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    quiet_after: u64,
}

/// relayctl's hints, for the page's notices: the SDK's words first, then a bare 403 (a
/// HeadObject's refusal has no body to name AccessDenied in).
fn advise(error: &OperatorError) -> Option<Advice> {
    let hint = hint_for(&error.one_line()).or_else(|| match error {
        OperatorError::Aws {
            status: Some(403), ..
        } => HINTS
            .iter()
            .find(|hint| hint.markers.contains(&"AccessDenied")),
        _ => None,
    })?;
    Some(Advice {
        says: hint.says.to_owned(),
        see: hint.see.map(str::to_owned),
    })
}

impl WallArgs {
    pub async fn run(self) -> Result<(), Error> {
        let outputs = self.stack.outputs().await?;
        let bucket = pick(
            self.bucket.as_ref(),
            outputs.as_ref(),
            "BucketName",
            "--bucket",
        )?;
        // The queue plays no part: only the thumbnail settings are read.
        let paths = path_settings(outputs.as_ref(), "")?;
        let s3 = s3_client().await?;
        let settings = WallSettings {
            bucket,
            prefix: paths.thumbnail_prefix,
            thumbnail_latest: paths.thumbnail_latest,
            refresh: Duration::from_secs(self.refresh),
            quiet_after: Duration::from_secs(self.quiet_after),
            relay_args: self.stack.as_args(),
        };
        let adviser: Adviser = Arc::new(advise);
        let wall = Arc::new(Wall::new(s3, settings, adviser));
        let source = wall.source();

        let address = SocketAddr::new(self.bind, self.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| OperatorError::io(format!("cannot listen on {address}"), e))?;
        let address = listener
            .local_addr()
            .map_err(|e| OperatorError::io("cannot read the address listened on", e))?;
        let url = page_url(address);
        if !address.ip().is_loopback() {
            eprintln!(
                "warning: listening on {address}: whoever can reach it sees every stream's \
                 newest frame, read with your AWS credentials"
            );
        }
        let server = tokio::spawn(serve(
            wall.clone(),
            listener,
            AllowedHosts::for_address(address),
        ));
        out!("wall: {url} ({source}; Ctrl-C stops)");

        // A first look, so that the terminal says what the page will.
        let snapshot = wall.snapshot().await;
        for notice in &snapshot.notices {
            let see = notice
                .see
                .as_ref()
                .map(|see| format!(" (see {see})"))
                .unwrap_or_default();
            eprintln!("{}: {}{see}", notice.title, notice.text);
        }
        let requests = wall.requests();
        let live = snapshot.live_count(now_ms());
        eprintln!(
            "{} stream(s): {live} live, {} quiet ({} ListObjectsV2, {} HeadObject in {} ms)",
            snapshot.tiles.len(),
            snapshot.tiles.len() - live,
            requests.list,
            requests.head,
            snapshot.last_look.ms
        );
        if self.open
            && let Err(error) = open_in_browser(&url)
        {
            eprintln!("relayctl: {}", error.one_line());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server => {}
        }
        Ok(())
    }
}

/// The page's address: the one listened on, or 127.0.0.1 when that is every address.
fn page_url(address: SocketAddr) -> String {
    let shown = if address.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
    } else {
        address
    };
    format!("http://{shown}/")
}

/// Starts the browser on `url` and leaves it running.
fn open_in_browser(url: &str) -> Result<(), OperatorError> {
    let program = std::env::var("BROWSER")
        .ok()
        .and_then(|list| list.split(':').next().map(str::trim).map(str::to_owned))
        .filter(|program| !program.is_empty())
        .unwrap_or_else(|| {
            if cfg!(target_os = "macos") {
                "open".to_owned()
            } else {
                "xdg-open".to_owned()
            }
        });
    let mut child = std::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| OperatorError::io(format!("cannot open the page with {program}"), e))?;
    // Reaped when it exits, whenever that is.
    std::thread::spawn(move || child.wait());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_at_the_address_listened_on() {
        assert_eq!(
            page_url("127.0.0.1:8130".parse().unwrap()),
            "http://127.0.0.1:8130/"
        );
        assert_eq!(
            page_url("0.0.0.0:9000".parse().unwrap()),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(
            page_url("[::1]:8130".parse().unwrap()),
            "http://[::1]:8130/"
        );
    }

    #[test]
    fn a_refused_head_object_points_at_the_operator_policy() {
        // What the SDK reports for a refused HeadObject: the status, and no code to read.
        let refused = OperatorError::Aws {
            action: "s3 HeadObject".to_owned(),
            status: Some(403),
            source: "service error: unhandled error (Forbidden)".into(),
        };
        let advice = advise(&refused).unwrap();
        assert_eq!(advice.says, "access denied");
        assert_eq!(
            advice.see.as_deref(),
            Some(crate::error::OPERATOR_POLICY_DOC)
        );
        assert_eq!(advise(&OperatorError::usage("nothing to say")), None);
    }
}
