//! Guest-memory range checks: overflow-safe, bounds before alignment, never a panic.

use waitset_wasi::abi::{self, Errno};

#[test]
fn range_inside_and_at_the_end() {
    assert_eq!(abi::range(100, 0, 100), Ok(0..100));
    assert_eq!(abi::range(100, 10, 20), Ok(10..30));
    assert_eq!(
        abi::range(100, 100, 0),
        Ok(100..100),
        "empty range at the end is valid"
    );
    assert_eq!(abi::range(0, 0, 0), Ok(0..0));
}

#[test]
fn range_past_the_end_is_fault() {
    assert_eq!(abi::range(100, 0, 101), Err(Errno::FAULT));
    assert_eq!(abi::range(100, 99, 2), Err(Errno::FAULT));
    assert_eq!(
        abi::range(100, 101, 0),
        Err(Errno::FAULT),
        "empty range past the end"
    );
    assert_eq!(abi::range(0, 0, 1), Err(Errno::FAULT));
}

#[test]
fn range_arithmetic_never_overflows() {
    assert_eq!(
        abi::range(usize::MAX, u32::MAX, u64::MAX),
        Err(Errno::FAULT)
    );
    assert_eq!(abi::range(1 << 16, u32::MAX, 1), Err(Errno::FAULT));
    assert_eq!(abi::range(1 << 16, u32::MAX - 3, 4), Err(Errno::FAULT));
    assert_eq!(abi::range(1 << 16, 0, u64::MAX), Err(Errno::FAULT));
    // 4 GiB memory: the last 4 bytes are addressable.
    let four_gib = 1usize << 32;
    assert_eq!(
        abi::range(four_gib, u32::MAX - 3, 4),
        Ok((four_gib - 4)..four_gib)
    );
}

#[test]
fn array_range_checks_the_multiplication() {
    assert_eq!(abi::array_range(65536, 0, 1000, 48), Ok(0..48000));
    assert_eq!(
        abi::array_range(65536, 0, 0x1000_0000, 48),
        Err(Errno::FAULT)
    );
    assert_eq!(abi::array_range(65536, 0, u32::MAX, 48), Err(Errno::FAULT));
    assert_eq!(
        abi::array_range(usize::MAX, 0, u32::MAX, usize::MAX),
        Err(Errno::FAULT)
    );
    assert_eq!(abi::array_range(65536, 65536, 0, 48), Ok(65536..65536));
}

#[test]
fn alignment() {
    assert_eq!(abi::check_align(0, 8), Ok(()));
    assert_eq!(abi::check_align(16, 8), Ok(()));
    assert_eq!(abi::check_align(4, 8), Err(Errno::INVAL));
    assert_eq!(abi::check_align(2, 4), Err(Errno::INVAL));
    assert_eq!(abi::check_align(3, 1), Ok(()));
    assert_eq!(abi::check_align(u32::MAX, 2), Err(Errno::INVAL));
}

#[test]
fn scalar_access_checks_bounds_then_alignment() {
    let mut mem = vec![0u8; 64];
    assert_eq!(abi::write_u32(&mut mem, 60, 7), Ok(()));
    assert_eq!(abi::read_u32(&mem, 60), Ok(7));
    assert_eq!(abi::write_u32(&mut mem, 64, 7), Err(Errno::FAULT));
    assert_eq!(
        abi::write_u32(&mut mem, 62, 7),
        Err(Errno::FAULT),
        "oob and misaligned: FAULT"
    );
    assert_eq!(abi::write_u32(&mut mem, 2, 7), Err(Errno::INVAL));
    assert_eq!(abi::write_u64(&mut mem, 56, 1), Ok(()));
    assert_eq!(abi::write_u64(&mut mem, 60, 1), Err(Errno::FAULT));
    assert_eq!(abi::write_u64(&mut mem, 4, 1), Err(Errno::INVAL));
    assert_eq!(abi::write_u16(&mut mem, 1, 1), Err(Errno::INVAL));
    assert_eq!(abi::read_u32(&mem, u32::MAX), Err(Errno::FAULT));
    assert_eq!(abi::slice(&mem, 0, 65).map(<[u8]>::len), Err(Errno::FAULT));
    assert_eq!(abi::slice_mut(&mut mem, 64, 0).map(|s| s.len()), Ok(0));
}

#[test]
fn iovec_reads_are_checked() {
    let mut mem = vec![0u8; 32];
    mem[8..12].copy_from_slice(&4u32.to_le_bytes());
    mem[12..16].copy_from_slice(&5u32.to_le_bytes());
    let iov = abi::read_iovec(&mem, 8, 0).unwrap();
    assert_eq!((iov.buf, iov.buf_len), (4, 5));
    assert_eq!(abi::read_iovec(&mem, 8, 3), Err(Errno::FAULT));
    assert_eq!(abi::read_iovec(&mem, 10, 0), Err(Errno::INVAL));
    assert_eq!(abi::read_iovec(&mem, u32::MAX - 7, 1), Err(Errno::FAULT));
}
