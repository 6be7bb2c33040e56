//! Drives an echo-server guest under `waitset run --listen 127.0.0.1:0` with concurrent TCP
//! clients on loopback, every byte checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;

use super::{guest, waitset, DEADLINE};

/// A deterministic payload for client `i`: sizes from 0 to ~96 KiB, bytes from an LCG.
fn payload(i: usize) -> Vec<u8> {
    let len = (i * 7919) % 98_304;
    let mut x = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

/// What a served run left: the guest's exit code, stdout, stderr (the listening line taken
/// out) and the bytes echoed in all.
pub struct Served {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub total: u64,
}

/// Run `module` with `clients` as its argument, connect `clients` clients at once, each
/// writing its payload while reading the echo (the server applies backpressure), and assert
/// every client got its bytes back.
pub fn serve(module: &str, clients: usize) -> Served {
    let mut child = waitset()
        .args(["run", "--listen", "127.0.0.1:0"])
        .arg(guest(module))
        .arg(clients.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The first stderr line names the port; keep collecting the rest.
    let (port_tx, port_rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut rest = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(addr) = line.strip_prefix("waitset: fd 3 listening on ") {
                let _ = port_tx.send(addr.to_string());
            } else {
                rest.push_str(&line);
                rest.push('\n');
            }
        }
        rest
    });
    let addr = port_rx
        .recv_timeout(DEADLINE)
        .expect("the listening address on stderr");

    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let addr = addr.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let data = payload(i);
                    let stream = TcpStream::connect(&addr).expect("connect");
                    stream.set_read_timeout(Some(DEADLINE)).unwrap();
                    let mut writer = stream.try_clone().unwrap();
                    let sent = data.clone();
                    let w = std::thread::Builder::new()
                        .stack_size(64 * 1024)
                        .spawn(move || {
                            writer.write_all(&sent).unwrap();
                            writer.shutdown(Shutdown::Write).unwrap();
                        })
                        .unwrap();
                    let mut got = Vec::with_capacity(data.len());
                    (&stream).read_to_end(&mut got).expect("read echo");
                    w.join().unwrap();
                    assert!(
                        got == data,
                        "client {i}: {} bytes back, {} sent",
                        got.len(),
                        data.len()
                    );
                    data.len() as u64
                })
                .unwrap()
        })
        .collect();
    let total: u64 = handles.into_iter().map(|c| c.join().unwrap()).sum();

    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = super::wait_deadline(&mut child);
    let stderr = err_thread.join().unwrap();
    Served {
        code: status.code(),
        stdout,
        stderr,
        total,
    }
}
