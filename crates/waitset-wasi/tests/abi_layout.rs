//! The preview1 byte layouts: every offset, every byte written, decode/encode round trips.

use waitset_wasi::abi::{
    clockid, eventrwflags, eventtype, filetype, subclockflags, Errno, Event, EventFdReadwrite,
    FdFlags, Fdstat, Filestat, Iovec, Rights, Subscription, SubscriptionClock,
    SubscriptionFdReadwrite, SubscriptionKind,
};

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn sizes_and_alignments_match_witx() {
    assert_eq!(Subscription::SIZE, 48);
    assert_eq!(Subscription::ALIGN, 8);
    assert_eq!(Event::SIZE, 32);
    assert_eq!(Event::ALIGN, 8);
    assert_eq!(Fdstat::SIZE, 24);
    assert_eq!(Filestat::SIZE, 64);
    assert_eq!(Iovec::SIZE, 8);
}

#[test]
fn clock_subscription_decodes_from_witx_offsets() {
    let mut b = [0xEEu8; 48]; // padding full of garbage must be ignored
    b[0..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    b[8] = eventtype::CLOCK;
    b[16..20].copy_from_slice(&clockid::REALTIME.to_le_bytes());
    b[24..32].copy_from_slice(&123_456_789u64.to_le_bytes());
    b[32..40].copy_from_slice(&1_000u64.to_le_bytes());
    b[40..42].copy_from_slice(&subclockflags::SUBSCRIPTION_CLOCK_ABSTIME.to_le_bytes());
    let s = Subscription::decode(&b).unwrap();
    assert_eq!(s.userdata, 0x1122_3344_5566_7788);
    let SubscriptionKind::Clock(c) = s.kind else {
        panic!("not a clock: {s:?}")
    };
    assert_eq!(c.id, clockid::REALTIME);
    assert_eq!(c.timeout, 123_456_789);
    assert_eq!(c.precision, 1_000);
    assert!(c.is_absolute());
}

#[test]
fn fd_subscriptions_decode_fd_at_16() {
    for (tag, write) in [(eventtype::FD_READ, false), (eventtype::FD_WRITE, true)] {
        let mut b = [0u8; 48];
        b[0..8].copy_from_slice(&7u64.to_le_bytes());
        b[8] = tag;
        b[16..20].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
        let s = Subscription::decode(&b).unwrap();
        let expected = SubscriptionFdReadwrite { fd: 0xDEAD_BEEF };
        let kind = if write {
            SubscriptionKind::FdWrite(expected)
        } else {
            SubscriptionKind::FdRead(expected)
        };
        assert_eq!(s, Subscription { userdata: 7, kind });
    }
}

#[test]
fn unknown_tag_is_inval() {
    for tag in [3u8, 4, 0x80, 0xFF] {
        let mut b = [0u8; 48];
        b[8] = tag;
        assert_eq!(Subscription::decode(&b), Err(Errno::INVAL), "tag {tag}");
    }
}

#[test]
fn short_subscription_is_fault() {
    assert_eq!(Subscription::decode(&[0u8; 47]), Err(Errno::FAULT));
    assert_eq!(Subscription::decode(&[]), Err(Errno::FAULT));
    // Extra bytes after the 48 are ignored.
    assert!(Subscription::decode(&[0u8; 100]).is_ok());
}

#[test]
fn subscription_encode_round_trips_and_zeroes_padding() {
    let subs = [
        Subscription {
            userdata: u64::MAX,
            kind: SubscriptionKind::Clock(SubscriptionClock {
                id: clockid::MONOTONIC,
                timeout: u64::MAX - 1,
                precision: 5,
                flags: 0,
            }),
        },
        Subscription {
            userdata: 0,
            kind: SubscriptionKind::FdWrite(SubscriptionFdReadwrite { fd: u32::MAX }),
        },
    ];
    for s in subs {
        let mut b = [0xAAu8; 48];
        s.encode(&mut b);
        assert_eq!(Subscription::decode(&b), Ok(s));
        // tag padding (9..16) is zero
        assert!(b[9..16].iter().all(|&x| x == 0), "{b:?}");
        match s.kind {
            SubscriptionKind::Clock(_) => {
                assert!(b[20..24].iter().all(|&x| x == 0));
                assert!(b[42..48].iter().all(|&x| x == 0));
            }
            _ => assert!(b[20..48].iter().all(|&x| x == 0)),
        }
    }
}

#[test]
fn event_encode_writes_all_32_bytes() {
    let ev = Event {
        userdata: 0x0102_0304_0506_0708,
        error: Errno::NOTCAPABLE,
        type_: eventtype::FD_WRITE,
        fd_readwrite: EventFdReadwrite {
            nbytes: 0x1122_3344_5566_7788,
            flags: eventrwflags::FD_READWRITE_HANGUP,
        },
    };
    let mut b = [0xAAu8; 32];
    ev.encode(&mut b);
    assert_eq!(le64(&b, 0), 0x0102_0304_0506_0708);
    assert_eq!(le16(&b, 8), 76);
    assert_eq!(b[10], eventtype::FD_WRITE);
    assert_eq!(&b[11..16], &[0; 5], "padding after type");
    assert_eq!(le64(&b, 16), 0x1122_3344_5566_7788);
    assert_eq!(le16(&b, 24), 1);
    assert_eq!(&b[26..32], &[0; 6], "tail padding");
    assert_eq!(Event::decode(&b), Ok(ev));
}

#[test]
fn clock_event_is_zero_past_userdata() {
    let sub = Subscription {
        userdata: 42,
        kind: SubscriptionKind::Clock(SubscriptionClock {
            id: 1,
            timeout: 0,
            precision: 0,
            flags: 0,
        }),
    };
    let mut b = [0xFFu8; 32];
    Event::for_subscription(&sub).encode(&mut b);
    assert_eq!(le64(&b, 0), 42);
    assert!(b[8..].iter().all(|&x| x == 0), "{b:?}");
    let mut b = [0xFFu8; 32];
    Event::error(&sub, Errno::NOTSUP).encode(&mut b);
    assert_eq!(le16(&b, 8), 58);
}

#[test]
fn errno_table_is_complete_and_named() {
    assert_eq!(Errno::ALL.len(), 77);
    for (i, e) in Errno::ALL.iter().enumerate() {
        assert_eq!(e.raw() as usize, i, "errno values are 0..=76 in order");
        assert!(e.name().is_some());
    }
    assert_eq!(Errno::TOOBIG.name(), Some("2big"));
    assert_eq!(Errno::FAULT.raw(), 21);
    assert_eq!(Errno::INVAL.raw(), 28);
    assert_eq!(Errno::NOSYS.raw(), 52);
    assert_eq!(Errno::NOTSUP.raw(), 58);
    assert_eq!(Errno::NOTCAPABLE.name(), Some("notcapable"));
    assert_eq!(Errno(77).name(), None);
    assert_eq!(format!("{}", Errno::BADF), "badf (8)");
}

#[test]
fn host_errnos_map_to_preview1() {
    use rustix::io::Errno as H;
    assert_eq!(Errno::from_host(H::AGAIN), Errno::AGAIN);
    assert_eq!(Errno::from_host(H::PIPE), Errno::PIPE);
    assert_eq!(Errno::from_host(H::BADF), Errno::BADF);
    assert_eq!(Errno::from_host(H::CONNRESET), Errno::CONNRESET);
    assert_eq!(
        Errno::from(std::io::Error::from_raw_os_error(libc_einval())),
        Errno::INVAL
    );
}

fn libc_einval() -> i32 {
    rustix::io::Errno::INVAL.raw_os_error()
}

#[test]
fn rights_and_flags_bits() {
    assert_eq!(Rights::FD_READ.bits(), 1 << 1);
    assert_eq!(Rights::FD_WRITE.bits(), 1 << 6);
    assert_eq!(Rights::FD_FILESTAT_GET.bits(), 1 << 21);
    assert_eq!(Rights::POLL_FD_READWRITE.bits(), 1 << 27);
    assert_eq!(Rights::SOCK_ACCEPT.bits(), 1 << 29);
    assert_eq!(Rights::all().bits(), (1 << 30) - 1);
    assert_eq!(FdFlags::NONBLOCK.bits(), 4);
    assert_eq!(FdFlags::all().bits(), 0x1F);
}

#[test]
fn fdstat_and_filestat_layouts() {
    let st = Fdstat {
        filetype: filetype::SOCKET_STREAM,
        flags: FdFlags::NONBLOCK,
        rights_base: Rights::SOCK_ACCEPT,
        rights_inheriting: Rights::FD_READ,
    };
    let mut b = [0xAAu8; 24];
    st.encode(&mut b);
    assert_eq!(b[0], 6);
    assert_eq!(b[1], 0);
    assert_eq!(le16(&b, 2), 4);
    assert_eq!(&b[4..8], &[0; 4]);
    assert_eq!(le64(&b, 8), 1 << 29);
    assert_eq!(le64(&b, 16), 1 << 1);

    let fs = Filestat {
        dev: 1,
        ino: 2,
        filetype: filetype::REGULAR_FILE,
        nlink: 3,
        size: 4,
        atim: 5,
        mtim: 6,
        ctim: 7,
    };
    let mut b = [0xAAu8; 64];
    fs.encode(&mut b);
    assert_eq!(
        [le64(&b, 0), le64(&b, 8), le64(&b, 24), le64(&b, 32)],
        [1, 2, 3, 4]
    );
    assert_eq!(b[16], 4);
    assert_eq!(&b[17..24], &[0; 7]);
    assert_eq!([le64(&b, 40), le64(&b, 48), le64(&b, 56)], [5, 6, 7]);
}

#[test]
fn iovec_layout() {
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&0x100u32.to_le_bytes());
    b[4..8].copy_from_slice(&0x20u32.to_le_bytes());
    assert_eq!(
        Iovec::decode(&b),
        Ok(Iovec {
            buf: 0x100,
            buf_len: 0x20
        })
    );
    assert_eq!(le32(&b, 0), 0x100);
    assert_eq!(Iovec::decode(&b[..7]), Err(Errno::FAULT));
}
