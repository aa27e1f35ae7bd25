"""One executor for all parallel work: local cores or a Dask cluster, with progress and Ctrl-C.

:func:`map_chunks` splits a list of items (usually one per series) into chunks,
runs ``fn(chunk) -> list`` on each chunk and returns the per-item results in
input order. Where it runs:

* ``n_jobs=1``, a single chunk or a tiny input: inline, in this process;
* otherwise on this machine's cores, in a :class:`~concurrent.futures.ProcessPoolExecutor`
  (never more processes than cores). ``fn`` must be a module-level function or
  a :func:`functools.partial` of one, so that it also works where workers
  start fresh (``spawn``: macOS, Windows). On Linux workers are forked (fast,
  and a user's script needs no ``if __name__ == "__main__":`` guard); choose
  ``configure(mp_context="forkserver")`` or ``"spawn"`` if the process runs
  threads that must not be forked. The pool is kept between calls (workers
  start once) until :func:`shutdown` or exit;
* on a Dask cluster when a scheduler is given (``"tcp://host:8786"`` or a
  ``distributed.Client``), per call or once for all with :func:`configure`.

A tqdm progress bar (``tqdm.auto``: a widget in notebooks) counts items. Ctrl-C
cancels the pending chunks, stops the workers and re-raises
:class:`KeyboardInterrupt`; the next call starts fresh workers.

>>> map_chunks(_double_all, [1, 2, 3], n_jobs=1, progress=False)
[2, 4, 6]
>>> with options(n_jobs=1):
...     effective_n_jobs()
1
"""
from __future__ import annotations

import atexit
import contextlib
import math
import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterator, Sequence

from .errors import ConfigError

_UNSET = object()
_CONFIG: dict[str, Any] = {
    "n_jobs": None,          # None: all cores
    "scheduler": None,       # None: local processes; else a Dask address or Client
    "progress": True,        # show progress bars where a caller asks for them
    "chunks_per_job": 4,     # chunks per worker: balances load and feeds the progress bar
    "inline_below": 2,       # fewer items than this always run inline
    "mp_context": None,      # None: fork on Linux, spawn elsewhere
}
_POOL: dict[str, Any] = {"executor": None, "key": None}
_STATS = {"worker_cpu_s": 0.0}
_POOL_LOCK = threading.RLock()


# ------------------------------------------------------------------ settings
def configure(n_jobs=_UNSET, scheduler=_UNSET, progress=_UNSET, chunks_per_job=_UNSET,
              inline_below=_UNSET, mp_context=_UNSET) -> dict:
    """Set the defaults of every later :func:`map_chunks` call; returns the previous settings.

    Parameters
    ----------
    n_jobs : int or None
        Worker processes; ``None`` = all cores, ``1`` = inline, ``-1`` = all cores,
        ``-2`` = all but one. Never more than the cores available.
    scheduler : str, distributed.Client or None
        A Dask scheduler address (``"tcp://127.0.0.1:8786"``) or client; ``None`` = this machine.
    progress : bool
        ``False`` silences all progress bars.
    chunks_per_job : int
        How many chunks per worker the items are split into.
    inline_below : int
        Inputs with fewer items run inline (starting processes would cost more).
    mp_context : {"forkserver", "spawn", "fork"} or None

    Raises
    ------
    ConfigError
        For an ``n_jobs`` of 0, a non-positive ``chunks_per_job`` or an unknown ``mp_context``.

    >>> old = configure(n_jobs=1); configure(**old)["n_jobs"]
    1
    """
    prev = dict(_CONFIG)
    new = {k: v for k, v in dict(n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                                  chunks_per_job=chunks_per_job, inline_below=inline_below,
                                  mp_context=mp_context).items() if v is not _UNSET}
    if "n_jobs" in new and new["n_jobs"] is not None:
        _check_n_jobs(new["n_jobs"])
    if "chunks_per_job" in new and (not isinstance(new["chunks_per_job"], int) or new["chunks_per_job"] < 1):
        raise ConfigError(f"chunks_per_job must be a positive whole number, got {new['chunks_per_job']!r}.")
    if new.get("mp_context") not in (None, "forkserver", "spawn", "fork"):
        raise ConfigError(f"mp_context {new['mp_context']!r}: use 'forkserver', 'spawn', 'fork' or None.")
    _CONFIG.update(new)
    return prev


def get_config() -> dict:
    """The current settings (see :func:`configure`)."""
    return dict(_CONFIG)


@contextlib.contextmanager
def options(**settings) -> Iterator[dict]:
    """Change the settings of :func:`configure` inside a ``with`` block only."""
    prev = configure(**settings)
    try:
        yield get_config()
    finally:
        _CONFIG.clear()
        _CONFIG.update(prev)


def available_cores() -> int:
    """Cores this process may run on (CPU affinity where the OS tells it)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(os.cpu_count() or 1, 1)


def _check_n_jobs(n_jobs) -> None:
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ConfigError(f"n_jobs must be a non-zero whole number or None (all cores), got {n_jobs!r}.")


def effective_n_jobs(n_jobs: int | None = None) -> int:
    """Worker processes a call with ``n_jobs`` uses: between 1 and the number of cores.

    >>> effective_n_jobs(10_000) == available_cores()
    True
    """
    if n_jobs is None:
        n_jobs = _CONFIG["n_jobs"]
    cores = available_cores()
    if n_jobs is None:
        return cores
    _check_n_jobs(n_jobs)
    if n_jobs < 0:
        n_jobs = cores + 1 + n_jobs
    return int(min(max(n_jobs, 1), cores))


def split(items: Sequence, n_chunks: int | None = None, chunk_size: int | None = None) -> list[list]:
    """Contiguous chunks of ``items``: ``n_chunks`` of near-equal size, or of ``chunk_size``.

    >>> split(list(range(5)), n_chunks=2)
    [[0, 1, 2], [3, 4]]
    >>> split(list(range(5)), chunk_size=2)
    [[0, 1], [2, 3], [4]]
    """
    items = list(items)
    n = len(items)
    if not n:
        return []
    if chunk_size is None:
        n_chunks = max(1, min(int(n_chunks or 1), n))
        chunk_size = math.ceil(n / n_chunks)
    chunk_size = max(int(chunk_size), 1)
    return [items[i:i + chunk_size] for i in range(0, n, chunk_size)]


# ------------------------------------------------------------------ the map
def map_chunks(fn: Callable[[list], list], items: Sequence, n_jobs: int | None = None, scheduler=None,
               desc: str | None = None, progress: bool = True, chunk_size: int | None = None,
               inline_below: int | None = None, unit: str = "series") -> list:
    """Apply ``fn`` to chunks of ``items`` in parallel; per-item results in input order.

    Parameters
    ----------
    fn : callable
        ``fn(chunk: list) -> list`` with one result per item of the chunk. A
        module-level function (or a ``functools.partial`` of one) so that
        worker processes can import it.
    items : sequence
        The work, usually one entry per series; sent to workers by pickling.
    n_jobs : int, optional
        Worker processes (default: :func:`configure`'s, else all cores); 1 runs inline.
    scheduler : str or distributed.Client, optional
        Run on this Dask cluster instead of local processes.
    desc : str, optional
        Label of the progress bar.
    progress : bool
        Show a progress bar (also off when ``configure(progress=False)``).
    chunk_size : int, optional
        Items per chunk (default: the items spread over ``chunks_per_job`` chunks per worker).
    inline_below : int, optional
        Run inline when there are fewer items than this (default from :func:`configure`).
    unit : str
        Unit name shown by the progress bar.

    Returns
    -------
    list
        ``[r for chunk in chunks for r in fn(chunk)]``, in the order of ``items``.

    Raises
    ------
    ConfigError
        For a bad ``n_jobs``.
    KeyboardInterrupt
        On Ctrl-C, after pending chunks are cancelled and workers stopped.
    RuntimeError
        When ``fn`` returns a result list of the wrong length.
    """
    items = list(items)
    if not items:
        return []
    if n_jobs is not None:
        _check_n_jobs(n_jobs)
    scheduler = _CONFIG["scheduler"] if scheduler is None else scheduler
    progress = bool(progress and _CONFIG["progress"])
    inline_below = _CONFIG["inline_below"] if inline_below is None else int(inline_below)
    if scheduler is not None:
        with _progress_bar(len(items), desc, progress, unit) as bar:
            return _run_dask(fn, items, scheduler, chunk_size, bar, desc)
    jobs = effective_n_jobs(n_jobs)
    chunks = split(items, n_chunks=jobs * _CONFIG["chunks_per_job"], chunk_size=chunk_size)
    if jobs == 1 or len(chunks) == 1 or len(items) < inline_below:
        with _progress_bar(len(items), desc, progress, unit) as bar:
            return _run_inline(fn, chunks, bar)
    ex = _executor(jobs)  # workers fork before the progress bar starts its monitor thread
    with _progress_bar(len(items), desc, progress, unit) as bar:
        return _run_pool(ex, fn, chunks, bar)


def _progress_bar(total: int, desc, enabled: bool, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, unit=unit, leave=False, dynamic_ncols=True)


def _checked(chunk: list, out) -> list:
    out = list(out)
    if len(out) != len(chunk):
        raise RuntimeError(f"a chunk function returned {len(out)} results for {len(chunk)} items; "
                           "it must return one result per item.")
    return out


def _run_inline(fn, chunks: list[list], bar) -> list:
    results: list = []
    for chunk in chunks:
        results.extend(_checked(chunk, fn(chunk)))
        bar.update(len(chunk))
    return results


def _timed(fn, chunk):
    """Run ``fn(chunk)`` in a worker and measure the CPU time of this thread."""
    import time

    t0 = time.thread_time()
    out = fn(chunk)
    return out, time.thread_time() - t0


def _untimed(pair):
    out, cpu = pair
    _STATS["worker_cpu_s"] += cpu
    return out


def worker_cpu_seconds() -> float:
    """CPU seconds spent in chunk functions by worker processes (local or Dask) so far.

    Worker processes are kept alive between calls, so the operating system's
    accounting of finished children misses them; benchmarks add this to the
    parent's ``time.process_time()``. Inline runs count in the parent.
    """
    return float(_STATS["worker_cpu_s"])


def cpu_seconds() -> float:
    """CPU seconds used so far by this process, its finished child processes and fc_core's worker
    processes (which outlive each call, so the operating system's accounting of finished children
    misses them). The difference of two readings is the CPU a block of work used."""
    import time

    total = time.process_time() + worker_cpu_seconds()
    try:
        import resource  # not on Windows
    except ImportError:  # pragma: no cover
        return total
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + r.ru_utime + r.ru_stime


# ------------------------------------------------------------ local processes
def _mp_context():
    import multiprocessing as mp

    name = _CONFIG["mp_context"]
    if name is None:
        name = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = mp.get_context(name)
    if name == "forkserver":
        # workers fork from a server that has these loaded already
        ctx.set_forkserver_preload(["numpy", "pandas", "fc_core.parallel"])
    return ctx


def _worker_init() -> None:
    """Worker start: leave Ctrl-C to the parent and use one BLAS/OpenMP thread per process."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - optional
        pass


def _executor(jobs: int) -> ProcessPoolExecutor:
    """A process pool of ``jobs`` workers, kept alive between calls (workers start once)."""
    key = (jobs, _CONFIG["mp_context"])
    with _POOL_LOCK:
        ex = _POOL["executor"]
        if ex is not None and (_POOL["key"] != key or getattr(ex, "_broken", False)):
            _stop(ex)
            ex = None
        if ex is None:
            ex = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(), initializer=_worker_init)
            _POOL.update(executor=ex, key=key)
            if ex._mp_context.get_start_method() == "fork":  # start every worker now
                for f in [ex.submit(_noop, None) for _ in range(jobs)]:
                    f.result()
        return ex


def _stop(ex: ProcessPoolExecutor, kill: bool = False) -> None:
    """Shut ``ex`` down; with ``kill`` stop its running workers too (Ctrl-C)."""
    procs = list((getattr(ex, "_processes", None) or {}).values()) if kill else []
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)
            if p.is_alive():  # SIGTERM not acted on in time: SIGKILL
                p.kill()
                p.join(timeout=5)
    with _POOL_LOCK:
        if _POOL["executor"] is ex:
            _POOL.update(executor=None, key=None)


def shutdown() -> None:
    """Stop the worker processes kept for later calls (they also stop at exit)."""
    with _POOL_LOCK:
        ex = _POOL["executor"]
    if ex is not None:
        _stop(ex)
        ex.shutdown(wait=True)


atexit.register(shutdown)


def _run_pool(ex: ProcessPoolExecutor, fn, chunks: list[list], bar) -> list:
    futures = {}
    try:
        futures = {ex.submit(_timed, fn, chunk): i for i, chunk in enumerate(chunks)}
        out: list = [None] * len(chunks)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for f in done:
                i = futures[f]
                out[i] = _checked(chunks[i], _untimed(f.result()))
                bar.update(len(chunks[i]))
        return [r for part in out for r in part]
    except BaseException as exc:
        for f in futures:
            f.cancel()
        # a worker may be deep inside a long fit: stop the pool for Ctrl-C or a broken pool
        from concurrent.futures.process import BrokenProcessPool

        _stop(ex, kill=isinstance(exc, (KeyboardInterrupt, BrokenProcessPool, SystemExit)))
        raise


# ------------------------------------------------------------------- Dask
def scheduler_label(scheduler) -> str | None:
    """A readable name of a Dask scheduler (its address) or None for this machine.

    >>> scheduler_label("tcp://10.0.0.5:8786"), scheduler_label(None)
    ('tcp://10.0.0.5:8786', None)
    """
    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        return scheduler
    try:
        return str(scheduler.scheduler.address)
    except Exception:  # noqa: BLE001 - a closed client or another object
        return repr(scheduler)


def task_prefix(desc: str | None) -> str:
    """The Dask task-key prefix of a map call: ``fc_`` and the start of its description, so that
    the scheduler's task stream and dashboard name the work (``fc_ETS``, ``fc_NPTS``).

    >>> task_prefix("ETS (120 series)")
    'fc_ETS'
    """
    head = (desc or "map").split(" (")[0]
    return "fc_" + ("".join(ch if ch.isalnum() or ch in "+." else "_" for ch in head) or "map")


def _run_dask(fn, items: list, scheduler, chunk_size, bar, desc=None) -> list:
    import uuid

    from .errors import require

    distributed = require("distributed", "running on a Dask cluster", "dask[distributed]")
    own = not isinstance(scheduler, distributed.Client)
    client = distributed.Client(scheduler, set_as_default=False) if own else scheduler
    futures = []
    try:
        threads = max(sum(client.nthreads().values()), 1)
        chunks = split(items, n_chunks=threads * _CONFIG["chunks_per_job"], chunk_size=chunk_size)
        prefix, run = task_prefix(desc), uuid.uuid4().hex
        futures = [client.submit(_timed, fn, chunk, key=f"{prefix}-{run}-{i}") for i, chunk in enumerate(chunks)]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list = [None] * len(chunks)
        for f in distributed.as_completed(futures, loop=client.loop):
            i = index[f.key]
            out[i] = _checked(chunks[i], _untimed(f.result()))
            bar.update(len(chunks[i]))
        return [r for part in out for r in part]
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(futures)
        raise
    finally:
        if own:
            with contextlib.suppress(Exception):
                client.close()


def _noop(x):
    return x


def _double_all(chunk: list) -> list:  # used by the doctest above
    return [2 * x for x in chunk]
