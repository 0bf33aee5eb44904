//! The wall's HTTP server (hyper 1, HTTP/1.1): the page, its script and style (embedded in the
//! binary, no build step, nothing fetched from elsewhere), the snapshot as JSON and the images.
//!
//! | path | answer |
//! |---|---|
//! | `/` | the page |
//! | `/wall.css`, `/wall.js` | its style and script |
//! | `/api/streams` | the [`Snapshot`](super::Snapshot) as JSON (a look at the bucket when due) |
//! | `/img/{account}/{stream}/latest.jpg?v={etag}` | a tile's image, read through relayctl |
//!
//! Only `GET` and `HEAD`. Bound to a loopback address, it answers only requests whose `Host`
//! names that address (or `localhost`) and its port, so a web page elsewhere cannot reach it by
//! rebinding a name of its own to 127.0.0.1. Every answer forbids framing, sniffing and any
//! resource from another origin.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::{Method, Request, Response, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::listing::LATEST;
use super::{Wall, etag_version};
use crate::relay::thumbnail::is_safe_segment;

const INDEX_HTML: &str = include_str!("assets/index.html");
const WALL_CSS: &str = include_str!("assets/wall.css");
const WALL_JS: &str = include_str!("assets/wall.js");

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The `Host` values the server answers (empty: any, when bound beyond loopback).
#[derive(Debug, Clone)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// For a server listening on `address`.
    pub fn for_address(address: SocketAddr) -> Self {
        if !address.ip().is_loopback() {
            return Self(Vec::new());
        }
        let port = address.port();
        Self(vec![
            address.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ])
    }

    fn allows(&self, host: Option<&str>) -> bool {
        self.0.is_empty()
            || host.is_some_and(|host| {
                self.0
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(host))
            })
    }
}

/// Serves `wall` on `listener` until the task is dropped.
pub async fn serve(wall: Arc<Wall>, listener: TcpListener, hosts: AllowedHosts) {
    let hosts = Arc::new(hosts);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors and the like: wait, and take the next one.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (wall, hosts) = (wall.clone(), hosts.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (wall, hosts) = (wall.clone(), hosts.clone());
                async move { Ok::<_, Infallible>(answer(&wall, &hosts, request).await) }
            });
            // A client that stops mid-request or goes away only ends its own connection.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", format!("{message}\n"))
}

/// The answer to one request.
pub async fn answer(
    wall: &Wall,
    hosts: &AllowedHosts,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    if !hosts.allows(host) {
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "this wall answers only at the address relayctl printed",
        );
    }
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        let mut refused = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only");
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    let path = request.uri().path();
    let mut answer = match path {
        "/" | "/index.html" => page(INDEX_HTML, "text/html; charset=utf-8"),
        "/wall.css" => page(WALL_CSS, "text/css; charset=utf-8"),
        "/wall.js" => page(WALL_JS, "text/javascript; charset=utf-8"),
        "/api/streams" => {
            let snapshot = wall.snapshot().await;
            let mut body = serde_json::to_value(&*snapshot).unwrap_or_default();
            body["serverNow"] = serde_json::json!(crate::relay::clock::now_ms());
            body["requests"] = serde_json::json!(wall.requests());
            response(StatusCode::OK, "application/json", body.to_string())
        }
        // Browsers ask for it; there is none.
        "/favicon.ico" => response(StatusCode::NO_CONTENT, "text/plain", Bytes::new()),
        _ => match image_path(path) {
            Some((account, stream)) => {
                let wanted = request
                    .uri()
                    .query()
                    .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("v=")));
                image(wall, account, stream, wanted).await
            }
            None => text(StatusCode::NOT_FOUND, "no such page"),
        },
    };
    if head {
        *answer.body_mut() = Full::new(Bytes::new());
    }
    answer
}

fn page(body: &'static str, content_type: &str) -> Response<Full<Bytes>> {
    let mut page = response(StatusCode::OK, content_type, body);
    // Embedded in this relayctl: the same bytes until it is rebuilt.
    page.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    page
}

/// `/img/{account}/{stream}/latest.jpg`: the account and stream, when both are segments the
/// relay could have written.
fn image_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/img/")?;
    let mut parts = rest.split('/');
    let (account, stream, file) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none()
        && file == LATEST
        && is_safe_segment(account)
        && is_safe_segment(stream))
    .then_some((account, stream))
}

async fn image(
    wall: &Wall,
    account: &str,
    stream: &str,
    wanted: Option<&str>,
) -> Response<Full<Bytes>> {
    match wall.image(account, stream).await {
        None => text(StatusCode::NOT_FOUND, "no such stream on the wall"),
        Some(Err(error)) => text(StatusCode::BAD_GATEWAY, &error.one_line()),
        Some(Ok(image)) => {
            let version = etag_version(&image.etag);
            let mut answer = response(StatusCode::OK, &image.content_type, image.body);
            let headers = answer.headers_mut();
            if wanted == Some(version.as_str()) {
                // The URL names these bytes: the browser keeps them as long as it likes.
                headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=86400, immutable"),
                );
            }
            if let Ok(etag) = HeaderValue::from_str(&image.etag) {
                headers.insert(header::ETAG, etag);
            }
            answer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_relays_latest_jpg_paths_are_images() {
        assert_eq!(
            image_path("/img/LOCAL1/cam-1/latest.jpg"),
            Some(("LOCAL1", "cam-1"))
        );
        for refused in [
            "/img/LOCAL1/cam-1/1796087523690-8766a1d97c2424d1.jpg",
            "/img/LOCAL1/../latest.jpg",
            "/img/LOCAL1/cam-1/latest.jpg/x",
            "/img/LOCAL1/latest.jpg",
            "/img//cam-1/latest.jpg",
            "/img/LOCAL1/cam%201/latest.jpg",
            "/images/LOCAL1/cam-1/latest.jpg",
        ] {
            assert_eq!(image_path(refused), None, "{refused}");
        }
    }

    #[test]
    fn on_loopback_only_its_own_host_names_are_answered() {
        let hosts = AllowedHosts::for_address("127.0.0.1:8130".parse().unwrap());
        for host in [
            "127.0.0.1:8130",
            "localhost:8130",
            "LOCALHOST:8130",
            "[::1]:8130",
        ] {
            assert!(hosts.allows(Some(host)), "{host}");
        }
        for host in [
            "evil.example:8130",
            "127.0.0.1:80",
            "localhost",
            "127.0.0.1.nip.io:8130",
        ] {
            assert!(!hosts.allows(Some(host)), "{host}");
        }
        assert!(!hosts.allows(None));
        let anywhere = AllowedHosts::for_address("0.0.0.0:8130".parse().unwrap());
        assert!(anywhere.allows(Some("wall.lan:8130")) && anywhere.allows(None));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for asset in [INDEX_HTML, WALL_CSS, WALL_JS] {
            for elsewhere in ["http://", "https://", "//cdn", "@import"] {
                assert!(!asset.contains(elsewhere), "{elsewhere} in an asset");
            }
        }
        assert!(INDEX_HTML.contains(r#"src="/wall.js""#));
        assert!(INDEX_HTML.contains(r#"href="/wall.css""#));
    }
}
