"""Keep memory-mapped artifacts from piling up in a process's resident memory.

The cache hands out artifacts as memory maps (``np.load(mmap_mode="r")``) and jobs write large
outputs through memory maps (``Cache.writer``). Every page of a map that is read or written
stays *mapped* — counted in the process's RSS (``RssFile``) — until the map is closed, even long
after it was last used: rendering a 3,000-frame portrait sequence kept 2.7 GB of it resident in
the render process, and a lip-sync job writing one kept 3 GB in its worker (measured on an
imported screenplay, ``benchmarks/RESULTS.md`` §2). The pages are the page cache's (clean, or
written back), so dropping them from the process's page tables loses nothing: the next access
maps them again from the page cache, or reads them from disk.

* :func:`release`: drop the resident pages of the memory maps under some arrays, through the
  map's own ``mmap`` object (``MADV_DONTNEED``: the page cache keeps them, so a frame shown
  again costs a minor fault, not a read). Anything that is not a memory map is left alone.
* :func:`trimming`: a context manager for code that writes or reads through maps it does not
  own (a backend filling ``out``): a thread that, every ``interval`` seconds, pages out this
  process's shared file mappings under a folder (``MADV_PAGEOUT``). It finds them in
  ``/proc/self/maps``, so a mapping may vanish and its addresses be reused between the read
  and the call: ``MADV_PAGEOUT`` is only a hint to reclaim and never changes the contents of
  any memory, so that race costs at most a page fault. (``MADV_DONTNEED`` would zero an
  anonymous mapping that took the place: never used by address.)

* :func:`heap_trim`: give the C heap's free pages back to the system (glibc's
  ``malloc_trim``). A worker calls it after each job: numpy's and Pillow's large temporaries are
  freed to the heap, and without it a worker's RSS kept the peak of the largest job it ever ran.
* :func:`forking`: around making worker processes by ``fork``: every object the parent holds
  (the plan, the timeline, the parsers' tables, the imported modules) is out of the garbage
  collector's reach while the children are made (``gc.freeze``, as Python's documentation
  advises before a fork), so a child's collections walk only what the child makes: its first
  collection otherwise walked the parent's whole heap, writing to every object's header and so
  copying every page of it (18 ms and the copies, before a dialogue edit's subtitle job had
  read its input). The parent's objects are given back to its collector after the fork.

Linux only; elsewhere (and on kernels without ``MADV_PAGEOUT``, before 5.4) they do nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import mmap
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["release", "trimming", "trim", "heap_trim", "forking", "MADV_PAGEOUT"]

MADV_PAGEOUT = 21  # <linux/mman.h>; Python's mmap module names it from 3.12 on
_LINUX = sys.platform.startswith("linux")


def _maps_of(value: Any) -> Iterator[mmap.mmap]:
    """The ``mmap`` objects under ``value``: a ``np.memmap`` (or a view of one) or an array
    whose base chain reaches an ``mmap`` (``np.frombuffer(mm)``)."""
    seen = 0
    base = value
    while base is not None and seen < 32:
        mm = getattr(base, "_mmap", None)
        if isinstance(mm, mmap.mmap):
            yield mm
            return
        if isinstance(base, mmap.mmap):
            yield base
            return
        base = getattr(base, "base", None)
        seen += 1


def release(*arrays: Any) -> None:
    """Drop this process's resident pages of the memory maps under ``arrays`` (see the module
    docstring). The arrays stay valid: their pages come back from the page cache when read.
    ``None`` and arrays that are not memory maps are skipped; errors are ignored (a hint)."""
    if not _LINUX:
        return
    for value in arrays:
        if value is None:
            continue
        for mm in _maps_of(value):
            with contextlib.suppress(Exception):  # closed map, old kernel: only a hint
                mm.madvise(mmap.MADV_DONTNEED)


_libc: Any = None
_madvise_fn: Any = None


def _lib() -> Any:
    """The C library, loaded once: the symbols of this process itself (Python links it), where
    ``madvise`` is found (``malloc_trim`` too, with glibc); else ``find_library``'s (which runs
    ``ldconfig -p``: a process start in every worker)."""
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "madvise"):  # pragma: no cover - a Python not linked against its libc
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc = libc
    return _libc


def _madvise() -> Any:
    global _madvise_fn
    if _madvise_fn is None:
        fn = _lib().madvise
        fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        fn.restype = ctypes.c_int
        _madvise_fn = fn
    return _madvise_fn


def _shared_maps_under(root: str) -> list[tuple[int, int]]:
    """Address ranges of this process's shared file mappings whose file is under ``root``
    (deleted temporary files included)."""
    out = []
    prefix = root.rstrip("/") + "/"
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.split(maxsplit=5)
            if len(parts) < 6 or "s" not in parts[1]:
                continue
            path = parts[5].rstrip("\n")
            if path.endswith(" (deleted)"):
                path = path[:-10]
            if not path.startswith(prefix):
                continue
            lo, _, hi = parts[0].partition("-")
            out.append((int(lo, 16), int(hi, 16)))
    return out


def trim(root: str | os.PathLike[str]) -> int:
    """Page out this process's shared file mappings under ``root`` once; returns how many
    ranges were advised (0 where that is not possible)."""
    if not _LINUX:
        return 0
    try:
        ranges = _shared_maps_under(os.fspath(Path(root).resolve()))
        advise = _madvise()
    except (OSError, AttributeError):
        return 0
    for lo, hi in ranges:
        advise(lo, hi - lo, MADV_PAGEOUT)  # EINVAL (old kernel) or ENOMEM (gone): a hint, ignored
    return len(ranges)


@contextlib.contextmanager
def trimming(root: str | os.PathLike[str], interval: float = 0.25) -> Iterator[None]:
    """While the block runs, :func:`trim` the mappings under ``root`` every ``interval``
    seconds from a daemon thread (and once at the end)."""
    if not _LINUX:
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            trim(root)

    thread = threading.Thread(target=loop, name="nyeshc-trim", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        trim(root)


def heap_trim() -> None:
    """Return the free pages of glibc's heap to the system (nothing elsewhere)."""
    if not _LINUX:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        _lib().malloc_trim(0)


@contextlib.contextmanager
def forking() -> Iterator[None]:
    """Fork worker processes inside this block: the objects alive now stay out of the children's
    garbage collections (``gc.freeze``); this process collects them again after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
