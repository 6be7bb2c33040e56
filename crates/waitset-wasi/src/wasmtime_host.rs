//! The wasmtime adapter: links the engine-agnostic host functions into a [`wasmtime::Linker`]
//! under `wasi_snapshot_preview1`, and runs a command module.
//!
//! Every function import the host does not provide — other preview1 functions such as
//! `path_open`, or imports from any other module — is defined as a function that returns
//! `NOSYS` (52) without trapping, so a module never fails to link for a function it may never
//! call. Imports of other kinds (memories, tables, globals) cannot be faked and fail to link.

use std::path::Path;

use wasmtime::{
    Caller, Config, Engine, Extern, ExternType, Linker, Module, Store, Trap, Val, ValType,
};

use crate::abi::Errno;
use crate::ctx::WasiCtx;
use crate::host::{self, ProcExit};
use crate::poll;

/// The import module name of WASI preview1.
/// The wasmtime crate this adapter is built on, re-exported so embedders use the same version.
pub use wasmtime;

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The preview1 functions this host implements, by import name.
pub const IMPLEMENTED: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_read",
    "fd_write",
    "fd_close",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_seek",
    "fd_filestat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "poll_oneoff",
    "proc_exit",
    "random_get",
    "sched_yield",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// Runs `f` with the guest's memory (its export `memory`) and context. A module without a
/// memory export cannot pass pointers: that is a trap, not an errno.
fn with_memory(
    caller: &mut Caller<'_, WasiCtx>,
    f: impl FnOnce(&mut WasiCtx, &mut [u8]) -> Errno,
) -> wasmtime::Result<i32> {
    // The instance's memory, resolved once after instantiation (a name lookup per host call
    // cost a quarter of a poll(NULL, 0, 0)); during instantiation (a start function) by name.
    let memory = match caller.data().memory {
        Some(m) => m,
        None => match caller.get_export("memory") {
            Some(Extern::Memory(m)) => m,
            _ => wasmtime::bail!("the module does not export a memory named `memory`"),
        },
    };
    let (mem, ctx) = memory.data_and_store_mut(caller);
    let r = f(ctx, mem);
    // A termination request ends the run at the host call that notices it.
    if let Some(signal) = ctx.interrupted() {
        return Err(wasmtime::Error::new(Signaled(signal)));
    }
    Ok(i32::from(r.raw()))
}

/// The run was ended by a termination signal (SIGINT, SIGTERM), raised on the context's
/// [`Interrupt`](crate::Interrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("terminated by signal {0}")]
pub struct Signaled(pub i32);

/// A guest `i32` as the pointer/size `u32` it encodes.
fn u(x: i32) -> u32 {
    x as u32
}

/// A guest `i32` carrying a `u8`/`u16` ABI value; out-of-range is INVAL (as wiggle does).
fn small<T: TryFrom<u32>>(x: i32) -> Result<T, Errno> {
    T::try_from(x as u32).map_err(|_| Errno::INVAL)
}

/// Adds every preview1 function this host implements to `linker`.
pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> wasmtime::Result<()> {
    type C<'a> = Caller<'a, WasiCtx>;
    let m = MODULE;
    linker.func_wrap(m, "args_get", |mut c: C<'_>, a: i32, b: i32| {
        with_memory(&mut c, |ctx, mem| host::args_get(ctx, mem, u(a), u(b)))
    })?;
    linker.func_wrap(m, "args_sizes_get", |mut c: C<'_>, a: i32, b: i32| {
        with_memory(&mut c, |ctx, mem| {
            host::args_sizes_get(ctx, mem, u(a), u(b))
        })
    })?;
    linker.func_wrap(m, "environ_get", |mut c: C<'_>, a: i32, b: i32| {
        with_memory(&mut c, |ctx, mem| host::environ_get(ctx, mem, u(a), u(b)))
    })?;
    linker.func_wrap(m, "environ_sizes_get", |mut c: C<'_>, a: i32, b: i32| {
        with_memory(&mut c, |ctx, mem| {
            host::environ_sizes_get(ctx, mem, u(a), u(b))
        })
    })?;
    linker.func_wrap(m, "clock_res_get", |mut c: C<'_>, id: i32, p: i32| {
        with_memory(&mut c, |ctx, mem| {
            host::clock_res_get(ctx, mem, u(id), u(p))
        })
    })?;
    linker.func_wrap(
        m,
        "clock_time_get",
        |mut c: C<'_>, id: i32, precision: i64, p: i32| {
            with_memory(&mut c, |ctx, mem| {
                host::clock_time_get(ctx, mem, u(id), precision as u64, u(p))
            })
        },
    )?;
    linker.func_wrap(
        m,
        "fd_read",
        |mut c: C<'_>, fd: i32, iovs: i32, len: i32, nread: i32| {
            with_memory(&mut c, |ctx, mem| {
                host::fd_read(ctx, mem, u(fd), u(iovs), u(len), u(nread))
            })
        },
    )?;
    linker.func_wrap(
        m,
        "fd_write",
        |mut c: C<'_>, fd: i32, iovs: i32, len: i32, nwritten: i32| {
            with_memory(&mut c, |ctx, mem| {
                host::fd_write(ctx, mem, u(fd), u(iovs), u(len), u(nwritten))
            })
        },
    )?;
    linker.func_wrap(m, "fd_close", |mut c: C<'_>, fd: i32| {
        with_memory(&mut c, |ctx, mem| host::fd_close(ctx, mem, u(fd)))
    })?;
    linker.func_wrap(m, "fd_fdstat_get", |mut c: C<'_>, fd: i32, p: i32| {
        with_memory(&mut c, |ctx, mem| {
            host::fd_fdstat_get(ctx, mem, u(fd), u(p))
        })
    })?;
    linker.func_wrap(
        m,
        "fd_fdstat_set_flags",
        |mut c: C<'_>, fd: i32, flags: i32| {
            with_memory(&mut c, |ctx, mem| match small::<u16>(flags) {
                Ok(flags) => host::fd_fdstat_set_flags(ctx, mem, u(fd), flags),
                Err(e) => e,
            })
        },
    )?;
    linker.func_wrap(
        m,
        "fd_seek",
        |mut c: C<'_>, fd: i32, offset: i64, whence: i32, p: i32| {
            with_memory(&mut c, |ctx, mem| match small::<u8>(whence) {
                Ok(whence) => host::fd_seek(ctx, mem, u(fd), offset, whence, u(p)),
                Err(e) => e,
            })
        },
    )?;
    linker.func_wrap(m, "fd_filestat_get", |mut c: C<'_>, fd: i32, p: i32| {
        with_memory(&mut c, |ctx, mem| {
            host::fd_filestat_get(ctx, mem, u(fd), u(p))
        })
    })?;
    linker.func_wrap(m, "fd_prestat_get", |mut c: C<'_>, fd: i32, p: i32| {
        with_memory(&mut c, |ctx, mem| {
            host::fd_prestat_get(ctx, mem, u(fd), u(p))
        })
    })?;
    linker.func_wrap(
        m,
        "fd_prestat_dir_name",
        |mut c: C<'_>, fd: i32, p: i32, len: i32| {
            with_memory(&mut c, |ctx, mem| {
                host::fd_prestat_dir_name(ctx, mem, u(fd), u(p), u(len))
            })
        },
    )?;
    linker.func_wrap(
        m,
        "poll_oneoff",
        |mut c: C<'_>, in_: i32, out: i32, nsubs: i32, nevents: i32| {
            with_memory(&mut c, |ctx, mem| {
                poll::poll_oneoff(ctx, mem, u(in_), u(out), u(nsubs), u(nevents))
            })
        },
    )?;
    linker.func_wrap(
        m,
        "proc_exit",
        |mut c: C<'_>, code: i32| -> wasmtime::Result<()> {
            let exit = host::proc_exit(c.data_mut(), u(code));
            Err(wasmtime::Error::new(exit))
        },
    )?;
    linker.func_wrap(m, "random_get", |mut c: C<'_>, p: i32, len: i32| {
        with_memory(&mut c, |ctx, mem| host::random_get(ctx, mem, u(p), u(len)))
    })?;
    linker.func_wrap(m, "sched_yield", |mut c: C<'_>| {
        Ok(i32::from(host::sched_yield(c.data_mut()).raw()))
    })?;
    linker.func_wrap(
        m,
        "sock_accept",
        |mut c: C<'_>, fd: i32, flags: i32, ro_fd: i32| {
            with_memory(&mut c, |ctx, mem| match small::<u16>(flags) {
                Ok(flags) => host::sock_accept(ctx, mem, u(fd), flags, u(ro_fd)),
                Err(e) => e,
            })
        },
    )?;
    linker.func_wrap(
        m,
        "sock_recv",
        |mut c: C<'_>, fd: i32, ri: i32, ri_len: i32, ri_flags: i32, ro_len: i32, ro_flags: i32| {
            with_memory(&mut c, |ctx, mem| match small::<u16>(ri_flags) {
                Ok(flags) => host::sock_recv(
                    ctx,
                    mem,
                    u(fd),
                    u(ri),
                    u(ri_len),
                    flags,
                    u(ro_len),
                    u(ro_flags),
                ),
                Err(e) => e,
            })
        },
    )?;
    linker.func_wrap(
        m,
        "sock_send",
        |mut c: C<'_>, fd: i32, si: i32, si_len: i32, si_flags: i32, so_len: i32| {
            with_memory(&mut c, |ctx, mem| match small::<u16>(si_flags) {
                Ok(flags) => host::sock_send(ctx, mem, u(fd), u(si), u(si_len), flags, u(so_len)),
                Err(e) => e,
            })
        },
    )?;
    linker.func_wrap(m, "sock_shutdown", |mut c: C<'_>, fd: i32, how: i32| {
        with_memory(&mut c, |ctx, mem| match small::<u8>(how) {
            Ok(how) => host::sock_shutdown(ctx, mem, u(fd), how),
            Err(e) => e,
        })
    })?;
    Ok(())
}

/// Defines every function import of `module` that `linker` cannot resolve as a trap-free
/// function returning NOSYS: integer results are 52 (`ENOSYS`), other results their zero/null
/// value. Non-function imports are left alone (they fail at instantiation with a clear error).
pub fn define_unresolved_as_nosys(
    linker: &mut Linker<WasiCtx>,
    store: &mut Store<WasiCtx>,
    module: &Module,
) -> wasmtime::Result<()> {
    for import in module.imports() {
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if linker.get_by_import(&mut *store, &import).is_some() {
            continue;
        }
        let results: Vec<Val> = ty
            .results()
            .map(|t| match t {
                ValType::I32 => Some(Val::I32(i32::from(Errno::NOSYS.raw()))),
                ValType::I64 => Some(Val::I64(i64::from(Errno::NOSYS.raw()))),
                other => Val::default_for_ty(&other),
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                wasmtime::format_err!(
                    "import `{}::{}` returns a type with no default value",
                    import.module(),
                    import.name()
                )
            })?;
        tracing::debug!(
            module = import.module(),
            name = import.name(),
            "import defined as NOSYS"
        );
        linker.func_new(
            import.module(),
            import.name(),
            ty,
            move |_caller, _args, out| {
                for (slot, v) in out.iter_mut().zip(results.iter()) {
                    *slot = *v;
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The guest called `proc_exit(code)`, or `_start` returned (code 0).
    Exited(u32),
    /// A termination signal ended the run (the CLI exits with 128 + the signal).
    Signaled(i32),
    /// The guest trapped (or a host function failed fatally). The error's `Debug` form carries
    /// the trap message and the wasm backtrace.
    Trapped(wasmtime::Error),
}

/// Why a module could not be run at all (the CLI's status 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The module file could not be read, or is not valid wasm / wat.
    #[error("cannot load module {path}: {source:#}")]
    Module {
        /// The path given.
        path: String,
        /// The underlying error.
        source: wasmtime::Error,
    },
    /// Linking or instantiation failed (an import that cannot be satisfied, ...).
    #[error("cannot instantiate module: {0:#}")]
    Instantiate(wasmtime::Error),
    /// The module exports no `_start: [] -> []` (it is not a WASI command).
    #[error("module has no `_start` function of type [] -> [] (not a WASI command): {0:#}")]
    NoStart(wasmtime::Error),
    /// The engine could not be created.
    #[error("cannot create the wasm engine: {0}")]
    Engine(wasmtime::Error),
}

/// The engine configuration the host uses: Cranelift, wasm backtraces on.
pub fn engine() -> Result<Engine, LoadError> {
    // Cranelift, wasm backtraces captured on traps, and epoch interruption so a termination
    // request can stop a guest that never calls the host.
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).map_err(LoadError::Engine)
}

/// Loads a module from a `.wasm` (binary) or `.wat` (text) file.
pub fn load_module(engine: &Engine, path: &Path) -> Result<Module, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Module {
        path: path.display().to_string(),
        source: wasmtime::Error::new(e),
    })?;
    Module::new(engine, &bytes).map_err(|e| LoadError::Module {
        path: path.display().to_string(),
        source: e,
    })
}

/// Instantiates `module` with `ctx` and runs its `_start`.
pub fn run(engine: &Engine, module: &Module, ctx: WasiCtx) -> Result<Outcome, LoadError> {
    let mut store = Store::new(engine, ctx);
    // A termination request interrupts compiled code through the epoch (see `engine`): the
    // latch's hook bumps it, and the next epoch check traps. Set before instantiation, since a
    // wasm start function already runs guest code.
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();
    let mut linker = Linker::new(engine);
    add_to_linker(&mut linker).map_err(LoadError::Instantiate)?;
    define_unresolved_as_nosys(&mut linker, &mut store, module).map_err(LoadError::Instantiate)?;
    let instance = match linker.instantiate(&mut store, module) {
        Ok(i) => i,
        // A wasm start function runs guest code during instantiation: its exit or trap is the
        // outcome of the run. Anything else (an unsatisfiable import) means it never ran.
        Err(e) if e.is::<ProcExit>() || e.is::<Trap>() || e.is::<Signaled>() => {
            return Ok(outcome(e, store.data()))
        }
        Err(e) => return Err(LoadError::Instantiate(e)),
    };
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(LoadError::NoStart)?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(Outcome::Exited(0)),
        Err(e) => Ok(outcome(e, store.data())),
    }
}

/// Turns an error from guest execution into an outcome: `proc_exit`, or a trap.
fn outcome(e: wasmtime::Error, ctx: &WasiCtx) -> Outcome {
    if let Some(exit) = e.downcast_ref::<ProcExit>() {
        return Outcome::Exited(exit.0);
    }
    if let Some(Signaled(sig)) = e.downcast_ref::<Signaled>() {
        return Outcome::Signaled(*sig);
    }
    // An epoch trap caused by the termination latch.
    match ctx.interrupted() {
        Some(sig) => Outcome::Signaled(sig),
        None => Outcome::Trapped(e),
    }
}
