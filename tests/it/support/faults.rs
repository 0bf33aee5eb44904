//! Faults over real sockets on 127.0.0.1: a switchable TCP proxy in front of moto, and a
//! black hole that accepts connections and never answers. No mocks: the SDK sees real
//! refused connections and real silence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

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
/// connections already open, so pooled connections cannot bypass a fault.
pub struct FaultProxy {
    pub endpoint: String,
    mode: Arc<AtomicU8>,
    switched: watch::Sender<u64>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let (switched, _) = watch::channel(0u64);
        let proxy_mode = mode.clone();
        let switches = switched.subscribe();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = proxy_mode.load(Ordering::SeqCst);
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
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
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
        }
    }

    pub fn set(&self, mode: Mode) {
        if self.mode.swap(mode as u8, Ordering::SeqCst) != mode as u8 {
            self.switched.send_modify(|generation| *generation += 1);
        }
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
