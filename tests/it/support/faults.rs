//! Faults over real sockets on 127.0.0.1: a switchable TCP proxy in front of moto, and a
//! black hole that accepts connections and never answers. No mocks: the SDK sees real
//! refused connections and real silence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forward to the upstream.
    Up = 0,
    /// Close every connection at once (like a service that is down).
    Refuse = 1,
    /// Accept and never answer.
    BlackHole = 2,
}

/// A TCP proxy whose mode can be switched while requests flow; a switch also cuts the
/// connections already open, so pooled connections cannot bypass a fault. Beside the mode it
/// can slow every new connection down, and withhold the answer on the next few.
pub struct FaultProxy {
    pub endpoint: String,
    mode: Arc<AtomicU8>,
    switched: watch::Sender<u64>,
    delay_ms: Arc<AtomicU64>,
    answers_to_lose: Arc<AtomicU32>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let (switched, _) = watch::channel(0u64);
        let delay_ms = Arc::new(AtomicU64::new(0));
        let answers_to_lose = Arc::new(AtomicU32::new(0));
        let proxy_mode = mode.clone();
        let proxy_delay = delay_ms.clone();
        let proxy_losses = answers_to_lose.clone();
        let switches = switched.subscribe();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = proxy_mode.load(Ordering::SeqCst);
                let delay = Duration::from_millis(proxy_delay.load(Ordering::SeqCst));
                let lose_answer = proxy_losses
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let mut switches = switches.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    switches.borrow_and_update();
                    if mode == Mode::Refuse as u8 {
                        return; // dropping the socket closes it
                    }
                    if mode == Mode::BlackHole as u8 {
                        let _ = switches.changed().await; // hold it, silent, until the next switch
                        return;
                    }
                    // A slow service: the request reaches it late, and it answers.
                    tokio::time::sleep(delay).await;
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    if lose_answer {
                        withhold_the_answer(client, server).await;
                        return;
                    }
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = switches.changed() => {}
                    }
                });
            }
        });
        Self {
            endpoint,
            mode,
            switched,
            delay_ms,
            answers_to_lose,
        }
    }

    /// Every connection opened from now on reaches the upstream `delay` late.
    pub fn delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// The next `count` connections reach the upstream, which acts on the request, but its
    /// answer never comes back: the connection closes instead (a write whose answer is lost).
    pub fn lose_next_answers(&self, count: u32) {
        self.answers_to_lose.store(count, Ordering::SeqCst);
    }

    pub fn set(&self, mode: Mode) {
        if self.mode.swap(mode as u8, Ordering::SeqCst) != mode as u8 {
            self.switched.send_modify(|generation| *generation += 1);
        }
    }
}

/// Forwards the client's request to the server, waits until the server has answered (so the
/// request took effect), and closes both sides without passing the answer on.
async fn withhold_the_answer(mut client: TcpStream, mut server: TcpStream) {
    let (mut from_client, _) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let mut answer = [0u8; 1];
    tokio::select! {
        _ = tokio::io::copy(&mut from_client, &mut to_server) => {
            // The whole request went up (the client stopped sending): wait for the answer.
            let _ = from_server.read(&mut answer).await;
        }
        _ = from_server.read(&mut answer) => {}
    }
}

/// A listener that accepts connections and never reads or writes; returns its endpoint.
/// It lives as long as the runtime that started it.
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    endpoint
}
