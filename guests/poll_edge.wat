;; poll_edge: the poll_oneoff cases C cannot express — pointers outside memory, misaligned
;; pointers, a huge nsubscriptions, an invalid tag, in/out overlapping. Prints one line per
;; case, `name: value`, where value is the errno returned (or a 0/1 check, or a count).
;;
;; Memory is exactly one page (65536 bytes), so "just past the end" is easy to name.
;; Layout: 0x10 iovec, 0x18 nwritten, 0x20..0x40 digits, 0x50 ": ", 0x53 "\n",
;; 0x200.. names (NUL-terminated, 32 bytes apart), 0x1000 subscriptions, 0x2000 events,
;; 0x3000 nevents.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  (data (i32.const 0x50) ": \00\n")
  (data (i32.const 0x200) "nsubscriptions_0\00")
  (data (i32.const 0x220) "in_out_of_bounds\00")
  (data (i32.const 0x240) "in_ends_at_memory_end\00")
  (data (i32.const 0x260) "out_out_of_bounds\00")
  (data (i32.const 0x280) "nevents_out_of_bounds\00")
  (data (i32.const 0x2a0) "nevents_oob_and_misaligned\00")
  (data (i32.const 0x2c0) "nevents_at_4g_minus_4\00")
  (data (i32.const 0x2e0) "in_misaligned\00")
  (data (i32.const 0x300) "out_misaligned\00")
  (data (i32.const 0x320) "nevents_misaligned\00")
  (data (i32.const 0x340) "nsubscriptions_2_pow_28\00")
  (data (i32.const 0x360) "nsubscriptions_u32_max\00")
  (data (i32.const 0x380) "in_fits_out_does_not\00")
  (data (i32.const 0x3a0) "invalid_tag\00")
  (data (i32.const 0x3c0) "invalid_tag_nothing_written\00")
  (data (i32.const 0x3e0) "overlap_same\00")
  (data (i32.const 0x400) "overlap_same_nevents\00")
  (data (i32.const 0x420) "overlap_same_userdata_sum\00")
  (data (i32.const 0x440) "overlap_shifted\00")
  (data (i32.const 0x460) "overlap_shifted_userdata_sum\00")
  (data (i32.const 0x480) "event_bytes_8_to_32_zero\00")
  (data (i32.const 0x4a0) "ok_nevents\00")

  ;; ---- output ----
  (func $write (param $p i32) (param $len i32)
    (i32.store (i32.const 0x10) (local.get $p))
    (i32.store (i32.const 0x14) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0x10) (i32.const 1) (i32.const 0x18))))

  (func $strlen (param $p i32) (result i32)
    (local $q i32)
    (local.set $q (local.get $p))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $q) (local.get $p)))

  (func $write_u32 (param $n i32)
    (local $i i32)
    (local.set $i (i32.const 0x40))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i)
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $write (local.get $i) (i32.sub (i32.const 0x40) (local.get $i))))

  ;; name: value\n
  (func $report (param $name i32) (param $value i32)
    (call $write (local.get $name) (call $strlen (local.get $name)))
    (call $write (i32.const 0x50) (i32.const 2))
    (call $write_u32 (local.get $value))
    (call $write (i32.const 0x53) (i32.const 1)))

  ;; ---- subscriptions ----
  ;; A relative MONOTONIC clock subscription at $at (48 bytes, every byte written).
  (func $clock_sub (param $at i32) (param $userdata i64) (param $timeout i64)
    (memory.fill (local.get $at) (i32.const 0) (i32.const 48))
    (i64.store (local.get $at) (local.get $userdata))
    (i32.store8 offset=8 (local.get $at) (i32.const 0))      ;; tag: clock
    (i32.store offset=16 (local.get $at) (i32.const 1))      ;; id: monotonic
    (i64.store offset=24 (local.get $at) (local.get $timeout))
    (i64.store offset=32 (local.get $at) (i64.const 0))      ;; precision
    (i32.store16 offset=40 (local.get $at) (i32.const 0)))   ;; flags: relative

  (func $reset
    (call $clock_sub (i32.const 0x1000) (i64.const 1) (i64.const 0))
    (memory.fill (i32.const 0x2000) (i32.const 0xAA) (i32.const 0x100))
    (i32.store (i32.const 0x3000) (i32.const 0x12345678)))

  (func $poll (param $in i32) (param $out i32) (param $n i32) (param $nevents i32) (result i32)
    (call $poll_oneoff (local.get $in) (local.get $out) (local.get $n) (local.get $nevents)))

  (func (export "_start")
    (local $e i32)

    (call $reset)
    (call $report (i32.const 0x200)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 0) (i32.const 0x3000)))

    ;; 65496 + 48 = 65544 > 65536
    (call $reset)
    (call $report (i32.const 0x220)
      (call $poll (i32.const 65496) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000)))

    ;; 65488 + 48 = 65536: the last byte of memory is the last byte of the subscription
    (call $reset)
    (call $clock_sub (i32.const 65488) (i64.const 1) (i64.const 0))
    (call $report (i32.const 0x240)
      (call $poll (i32.const 65488) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000)))

    ;; 65512 + 32 = 65544
    (call $reset)
    (call $report (i32.const 0x260)
      (call $poll (i32.const 0x1000) (i32.const 65512) (i32.const 1) (i32.const 0x3000)))

    (call $reset)
    (call $report (i32.const 0x280)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 65536)))

    ;; out of bounds and misaligned: bounds are checked first
    (call $reset)
    (call $report (i32.const 0x2a0)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 65534)))

    ;; 0xfffffffc + 4 overflows u32: still EFAULT, never wraps to address 0
    (call $reset)
    (call $report (i32.const 0x2c0)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 0xfffffffc)))

    (call $reset)
    (call $report (i32.const 0x2e0)
      (call $poll (i32.const 0x1004) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000)))

    (call $reset)
    (call $report (i32.const 0x300)
      (call $poll (i32.const 0x1000) (i32.const 0x2004) (i32.const 1) (i32.const 0x3000)))

    (call $reset)
    (call $report (i32.const 0x320)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 0x3002)))

    ;; 48 * 2^28 bytes = 12 GiB: EFAULT before any allocation
    (call $reset)
    (call $report (i32.const 0x340)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 0x10000000) (i32.const 0x3000)))

    (call $reset)
    (call $report (i32.const 0x360)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const -1) (i32.const 0x3000)))

    ;; 1000 subscriptions at 0: 48000 bytes fit; 1000 events at 40000: 72000 > 65536
    (call $reset)
    (call $report (i32.const 0x380)
      (call $poll (i32.const 0) (i32.const 40000) (i32.const 1000) (i32.const 0x3000)))

    ;; second subscription has tag 3: EINVAL, and neither events nor nevents are written
    (call $reset)
    (call $clock_sub (i32.const 0x1030) (i64.const 2) (i64.const 0))
    (i32.store8 (i32.const 0x1038) (i32.const 3))
    (call $report (i32.const 0x3a0)
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 2) (i32.const 0x3000)))
    (call $report (i32.const 0x3c0)
      (i32.and
        (i32.and
          (i64.eq (i64.load (i32.const 0x2000)) (i64.const 0xAAAAAAAAAAAAAAAA))
          (i64.eq (i64.load (i32.const 0x2038)) (i64.const 0xAAAAAAAAAAAAAAAA)))
        (i32.eq (i32.load (i32.const 0x3000)) (i32.const 0x12345678))))

    ;; in == out: two subscriptions (userdata 5 and 6) become two events in the same bytes
    (call $reset)
    (call $clock_sub (i32.const 0x1000) (i64.const 5) (i64.const 0))
    (call $clock_sub (i32.const 0x1030) (i64.const 6) (i64.const 0))
    (call $report (i32.const 0x3e0)
      (call $poll (i32.const 0x1000) (i32.const 0x1000) (i32.const 2) (i32.const 0x3000)))
    (call $report (i32.const 0x400) (i32.load (i32.const 0x3000)))
    (call $report (i32.const 0x420)
      (i32.wrap_i64 (i64.add (i64.load (i32.const 0x1000)) (i64.load (i32.const 0x1020)))))

    ;; out = in + 16: events overwrite the subscriptions' middle
    (call $reset)
    (call $clock_sub (i32.const 0x1000) (i64.const 20) (i64.const 0))
    (call $clock_sub (i32.const 0x1030) (i64.const 22) (i64.const 0))
    (call $report (i32.const 0x440)
      (call $poll (i32.const 0x1000) (i32.const 0x1010) (i32.const 2) (i32.const 0x3000)))
    (call $report (i32.const 0x460)
      (i32.wrap_i64 (i64.add (i64.load (i32.const 0x1010)) (i64.load (i32.const 0x1030)))))

    ;; a clock event: bytes 8..32 (error, type, padding, nbytes, flags, padding) all zero,
    ;; although the buffer was filled with 0xAA
    (call $reset)
    (local.set $e
      (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000)))
    (call $report (i32.const 0x480)
      (i32.and
        (i32.eqz (local.get $e))
        (i64.eqz
          (i64.or
            (i64.or (i64.load (i32.const 0x2008)) (i64.load (i32.const 0x2010)))
            (i64.load (i32.const 0x2018))))))
    (call $report (i32.const 0x4a0) (i32.load (i32.const 0x3000)))))
