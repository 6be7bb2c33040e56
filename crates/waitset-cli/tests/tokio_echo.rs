//! A real tokio program (guests/tokio-echo, built for wasm32-wasip1 with `--cfg tokio_unstable`
//! and tokio `net`) as an echo server under `waitset run --listen`, driven by concurrent TCP
//! clients on 127.0.0.1; every byte is checked. tokio registers its listener for reading *and*
//! writing: the write interest must simply never fire (it used to be an event with error
//! NOTCAPABLE, which mio treats as fatal: "Capabilities insufficient").

mod common;

const CLIENTS: usize = 64;

#[test]
fn tokio_echo_server_serves_concurrent_clients_every_byte_checked() {
    let served = common::echo::serve("tokio_echo.wasm", CLIENTS);
    assert!(served.total > 0);
    assert_eq!(served.code, Some(0), "stderr: {}", served.stderr);
    assert_eq!(
        served.stdout,
        format!("tokio_echo: served {CLIENTS} connections\n")
    );
    assert_eq!(served.stderr, "");
}
