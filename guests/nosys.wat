;; nosys: imports two preview1 functions (fd_tell, path_open) and functions of a module nobody
;; defines ("env") with several signatures. By default the module does not link: the unknown
;; import is a link error naming it (status 2). With `waitset run --stub-unknown-imports` the
;; `env` functions link to stubs and each call returns without trapping: integer results are
;; NOSYS (52), a function without results just returns. fd_tell on stdout (a pipe) is SPIPE
;; (70) and path_open on fd 3 (not open) BADF (8). Prints `name: value` lines, then exits with
;; 7 through proc_exit.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_tell" (func $fd_tell (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "env" "mystery_i64" (func $mystery_i64 (param i64) (result i64)))
  (import "env" "mystery_void" (func $mystery_void (param i32)))
  (memory (export "memory") 1)

  (data (i32.const 0x50) ": \00\n")
  (data (i32.const 0x200) "fd_tell\00")
  (data (i32.const 0x220) "path_open\00")
  (data (i32.const 0x240) "env_mystery_i64\00")
  (data (i32.const 0x260) "env_mystery_void\00")

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

  (func $report (param $name i32) (param $value i32)
    (call $write (local.get $name) (call $strlen (local.get $name)))
    (call $write (i32.const 0x50) (i32.const 2))
    (call $write_u32 (local.get $value))
    (call $write (i32.const 0x53) (i32.const 1)))

  (func (export "_start")
    (call $report (i32.const 0x200) (call $fd_tell (i32.const 1) (i32.const 0x100)))
    (call $report (i32.const 0x220)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 0x100) (i32.const 1)
        (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0x100)))
    (call $report (i32.const 0x240) (i32.wrap_i64 (call $mystery_i64 (i64.const 1))))
    (call $mystery_void (i32.const 1))
    (call $report (i32.const 0x260) (i32.const 1))
    (call $proc_exit (i32.const 7))
    unreachable))
