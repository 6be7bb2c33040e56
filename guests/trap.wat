;; trap: writes one line, then reaches `unreachable` two calls deep. `waitset run` must print
;; the trap and a wasm backtrace naming these functions on stderr, and exit with status 134.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "before the trap\n")

  (func $deepest_function
    unreachable)

  (func $middle_function
    (call $deepest_function))

  (func (export "_start")
    (i32.store (i32.const 0x10) (i32.const 0x100))
    (i32.store (i32.const 0x14) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0x10) (i32.const 1) (i32.const 0x18)))
    (call $middle_function)))
