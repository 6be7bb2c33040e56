//! The echo server guest (poll + accept on a preopened listener) driven by 200 real TCP clients
//! on 127.0.0.1 at once; every byte is checked.

mod common;

const CLIENTS: usize = 200;

#[test]
fn two_hundred_clients_at_once_get_their_bytes_back() {
    let served = common::echo::serve("echo_server.wasm", CLIENTS);
    assert_eq!(served.code, Some(0), "stderr: {}", served.stderr);
    assert_eq!(
        served.stdout,
        format!(
            "echo_server: served {CLIENTS} connections, {} bytes\n",
            served.total
        )
    );
    assert_eq!(served.stderr, "");
}
