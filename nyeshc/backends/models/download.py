"""The one place nyeshc downloads a file from a URL (``nyeshc models pull``; never a build).

A download goes to ``NAME.part`` beside its destination and is renamed onto it only when its
size and SHA-256 are right, so the destination is either absent or whole. An interrupted
transfer (the host closed the connection, a read timed out, Ctrl-C) keeps the ``.part``; the
next attempt asks for the rest with an HTTP ``Range`` request and hashes what it already has.
A host that ignores ``Range`` (a 200 instead of a 206) makes it start again from zero. A wrong
size or hash, or an HTTP error (404, 403 …), removes the ``.part``: nothing is left behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DownloadError", "Fetched", "fetch"]

USER_AGENT = "nyeshc-models"
CHUNK = 1 << 20
ProgressFn = Callable[[int, int | None], None]  # (bytes so far, total or None)


class DownloadError(Exception):
    """Why a download failed, in one line that names the URL; ``kept`` says whether the
    ``.part`` file was kept for a later resume."""

    def __init__(self, message: str, *, kept: bool = False) -> None:
        super().__init__(message)
        self.kept = kept


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int
    resumed_from: int  # bytes of a previous .part that were kept (0: a fresh download)
    attempts: int


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _hash_prefix(part: Path) -> tuple[hashlib._Hash, int]:  # type: ignore[name-defined]
    h = hashlib.sha256()
    n = 0
    with open(part, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            n += len(block)
    return h, n


def _attempt(url: str, part: Path, timeout: float, progress: ProgressFn | None, expected: int) -> tuple[str, int, int]:
    """One HTTP request continuing ``part``; returns (sha256, total bytes, bytes resumed)."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset and expected and offset == expected:
            h, n = _hash_prefix(part)  # the .part is already whole
            return h.hexdigest(), n, offset
        if exc.code == 416:
            part.unlink(missing_ok=True)
            raise _Retry(f"the host refused to resume at byte {offset}; starting again") from exc
        if exc.code >= 500 or exc.code == 429:  # the host is busy or down: try again, keep what we have
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
        part.unlink(missing_ok=True)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    with response:
        status = getattr(response, "status", 200)
        mode = "ab"
        resumed = offset
        if offset and status == 206:
            m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                part.unlink(missing_ok=True)
                raise _Retry(f"the host answered the resume with the wrong range ({response.headers.get('Content-Range')})")
        elif offset:  # 200: the host ignores Range, so the body is the whole file
            mode, resumed = "wb", 0
        length = response.headers.get("Content-Length")
        total = (resumed + int(length)) if length and length.isdigit() else None
        if expected and total is not None and total != expected:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: the host sends {total} bytes, the manifest says {expected}; "
                                "not downloaded (the file there is not the one nyeshc knows)")
        if mode == "ab" and resumed:
            h, done = _hash_prefix(part)
        else:
            h, done = hashlib.sha256(), 0
        if progress:
            progress(done, total or expected or None)
        with open(part, mode) as out:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                h.update(block)
                done += len(block)
                if progress:
                    progress(done, total or expected or None)
                if expected and done > expected:
                    break
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done < total:
            raise _Cut(f"the transfer stopped at byte {done} of {total}")
        return h.hexdigest(), done, resumed


class _Retry(Exception):
    """An attempt failed in a way another attempt may mend (a cut, a timeout, a refused resume)."""


class _Cut(_Retry):
    pass


def fetch(url: str, dest: str | Path, *, size: int = 0, sha256: str = "", timeout: float = 30.0,
          retries: int = 2, progress: ProgressFn | None = None) -> Fetched:
    """Downloads ``url`` to ``dest`` (its folder is created), resuming a ``dest.part`` left by
    an earlier attempt, and checks ``size`` and ``sha256`` when given (0 / "" when not known).
    ``timeout``: seconds without a byte before an attempt gives up; ``retries``: further
    attempts after a cut or a timeout, each resuming where the last stopped."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock(dest)
    try:
        return _fetch(url, dest, size, sha256, timeout, retries, progress)
    finally:
        _unlock(lock)


def _lock(dest: Path) -> Any:
    """An exclusive lock on ``.NAME.lock`` beside ``dest``, so that two pulls of one file at
    once do not write one ``.part`` together: the second is an error saying so."""
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no lock, the hash check still catches a mixed file
        return None
    path = dest.with_name(f".{dest.name}.lock")
    fh = open(path, "a+b")  # noqa: SIM115 - held until _unlock
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise DownloadError(f"another nyeshc models pull is downloading {dest} (its lock {path} is held); "
                            "wait for it to finish", kept=True) from None
    return fh, path


def _unlock(lock: Any) -> None:
    if lock is None:
        return
    fh, path = lock
    Path(path).unlink(missing_ok=True)
    fh.close()


def _fetch(url: str, dest: Path, size: int, sha256: str, timeout: float, retries: int,
           progress: ProgressFn | None) -> Fetched:
    part = _part(dest)
    first = part.stat().st_size if part.exists() else 0
    reason = ""
    for attempt in range(1, retries + 2):
        try:
            digest, n, _ = _attempt(url, part, timeout, progress, size)
        except _Retry as exc:
            reason = str(exc)
            continue
        except TimeoutError:
            reason = f"no data for {timeout:g} s (a slow or stalled host)"
            continue
        except (http.client.IncompleteRead, ConnectionError, http.client.RemoteDisconnected) as exc:
            reason = f"the connection was cut ({type(exc).__name__})"
            continue
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                reason = f"no answer within {timeout:g} s (a slow or stalled host)"
                continue
            if part.exists() and part.stat().st_size == 0:
                part.unlink()
            raise DownloadError(f"{url}: {exc.reason}", kept=part.exists()) from exc
        if size and n != size:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: got {n} bytes, the manifest says {size}; the download was removed")
        if sha256 and digest != sha256:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: SHA-256 {digest} is not the expected {sha256}; the download was removed "
                                "(a changed or corrupted file on the host, or something between you and it)")
        os.replace(part, dest)
        return Fetched(dest, digest, n, first, attempt)
    kept = part.exists() and part.stat().st_size > 0
    if part.exists() and not kept:
        part.unlink()
    where = f"; {part.stat().st_size} bytes kept in {part}, run the same command to resume" if kept else ""
    raise DownloadError(f"{url}: {reason}, after {retries + 1} attempt{'s' * (retries > 0)}{where}", kept=kept)
