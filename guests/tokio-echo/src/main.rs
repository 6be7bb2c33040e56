//! A tokio TCP echo server for wasm32-wasip1 (`--cfg tokio_unstable`, tokio `net`): tokio and
//! mio are the most common real clients of `poll_oneoff`. tokio registers every I/O object, the
//! listener included, for both reading and writing.
//!
//! The listening socket is the one the host preopened at fd 3 (`waitset run --listen
//! HOST:PORT`). Every connection is its own task, echoing until the client closes. With an
//! argument N the server exits (status 0) once N connections have been served; a failure of
//! the runtime or of an accept is status 1 with a message.

use std::os::fd::FromRawFd;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let limit: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    // SAFETY: fd 3 is the listener the host preopened for this program; nothing else owns it.
    let std_listener = unsafe { std::net::TcpListener::from_raw_fd(3) };
    std_listener.set_nonblocking(true).expect("set_nonblocking");
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("from_std");
    let mut tasks = Vec::new();
    let mut served = 0usize;
    while limit.is_none_or(|n| served < n) {
        let (mut stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tokio_echo: accept: {e}");
                std::process::exit(1);
            }
        };
        served += 1;
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("tokio_echo: read: {e}");
                        return;
                    }
                };
                if let Err(e) = stream.write_all(&buf[..n]).await {
                    eprintln!("tokio_echo: write: {e}");
                    return;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    println!("tokio_echo: served {served} connections");
}
