//! A WaitSet nested in a tokio program, beside tokio's own sockets.
//!
//! tokio runs a TCP echo server on loopback and holds the client's socket. The WaitSet holds
//! what tokio knows nothing about: a pipe written by a plain thread (say, a legacy component's
//! output), an Event that thread raises when it is done, and a periodic Timer. One `select!`
//! loop serves both worlds: each line from the pipe is sent through the echo server, and the
//! echo is printed when it comes back.
//!
//! ```sh
//! cargo run -p waitset --features tokio --example tokio_nested
//! ```
//!
//! It ends by itself once the thread is done, every line has come back and the timer has
//! ticked three times; it checks that every byte sent came back.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use waitset::runtime::tokio::AsyncWaitSet;
use waitset::{
    BackendKind, Deadline, Event, Handle, Signals, Source, Status, Timer, WaitResult, WaitSet,
};

const PIPE: u64 = 1;
const DONE: u64 = 2;
const TICK: u64 = 3;
const TICK_EVERY: Duration = Duration::from_millis(100);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // tokio's own sockets: an echo server on loopback, and a client connected to it.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut rd, mut wr) = conn.split();
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
            });
        }
    });
    let (mut from_echo, mut to_echo) = TcpStream::connect(addr).await?.into_split();

    // The wait set: a pipe, an Event and a Timer. It must be on epoll, the backend whose
    // descriptor stands for the whole set (tokio watches that descriptor).
    let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
    let (pipe_r, pipe_w) = rustix::pipe::pipe()?;
    let pipe_r = Handle::new(pipe_r);
    let done = Event::new();
    let tick = Timer::new();
    set.add(PIPE, Source::from(&pipe_r), Signals::READABLE)?;
    set.add(DONE, Source::from(&done), Signals::USER_0)?;
    set.add(TICK, Source::from(&tick), Signals::TIMER)?;
    tick.set(Deadline::after(TICK_EVERY), Duration::ZERO);
    let set = AsyncWaitSet::new(&set)?;

    // The component outside tokio: three lines on the pipe, then the Event.
    let component = {
        let done = done.clone();
        std::thread::spawn(move || {
            for line in ["alpha\n", "beta\n", "gamma\n"] {
                std::thread::sleep(Duration::from_millis(150));
                rustix::io::write(&pipe_w, line.as_bytes()).expect("pipe write");
            }
            drop(pipe_w); // end of file on the pipe
            done.signal(Signals::empty(), Signals::USER_0)
                .expect("raise done");
        })
    };

    let mut out = [WaitResult::default(); 8];
    let mut echo = [0u8; 256];
    let (mut sent, mut echoed, mut ticks, mut finished) = (0usize, 0usize, 0u32, false);
    while !(finished && echoed == sent && ticks >= 3) {
        tokio::select! {
            // Both branches are cancel-safe: the one that loses the race has taken nothing.
            n = set.wait_async(&mut out) => {
                for r in &out[..n?] {
                    match (r.cookie, r.status) {
                        (PIPE, Status::Satisfied) => {
                            let fd = pipe_r.fd().expect("open");
                            let mut buf = [0u8; 256];
                            let len = rustix::io::read(&fd, &mut buf)?;
                            drop(fd);
                            if len == 0 {
                                println!("set: the pipe reached end of file");
                                set.remove(PIPE)?;
                                continue;
                            }
                            let text = String::from_utf8_lossy(&buf[..len]);
                            println!("set: pipe gave {:?}; sending it through tokio", text.trim_end());
                            to_echo.write_all(&buf[..len]).await?;
                            sent += len;
                        }
                        (DONE, _) => {
                            println!("set: the component raised its Event");
                            set.remove(DONE)?;
                            finished = true;
                        }
                        (TICK, _) => {
                            ticks += 1;
                            println!("set: timer tick {ticks}");
                            tick.set(Deadline::after(TICK_EVERY), Duration::ZERO);
                        }
                        (cookie, status) => println!("set: entry {cookie}: {status:?}"),
                    }
                }
            }
            n = from_echo.read(&mut echo) => {
                let n = n?;
                if n == 0 {
                    return Err("the echo server hung up".into());
                }
                println!("tokio: echo server returned {:?}", String::from_utf8_lossy(&echo[..n]).trim_end());
                echoed += n;
            }
        }
    }
    component.join().expect("component thread");
    assert_eq!(echoed, sent, "every byte sent came back");
    assert!(sent > 0);
    println!("done: {sent} bytes through the echo server, {ticks} timer ticks");
    Ok(())
}
