"""The one I/O gate: files, the project root and its boundary.

Every stage that needs the outside world (reading an included script, probing an asset) goes
through a :class:`World`, which keeps scripts inside their project (symlinks included) unless
``allow_outside`` is set, and lets tests substitute an in-memory world.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class OutsideProject(ValueError):
    """A path resolves outside the project root."""


@dataclass
class World:
    """File access for one project, rooted at ``root`` (the main script's folder by default)."""

    root: Path
    allow_outside: bool = False
    overlays: dict[str, str] = field(default_factory=dict)  # path → unsaved editor text

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    @classmethod
    def for_script(cls, script: str | os.PathLike[str], *, allow_outside: bool = False) -> "World":
        return cls(Path(script).resolve().parent, allow_outside=allow_outside)

    def resolve(self, relative: str, base: str | os.PathLike[str] | None = None) -> Path:
        """``relative`` (as written in a script in folder ``base``) as a real path, refusing
        to leave the project root unless allowed."""
        folder = Path(base).parent if base is not None else self.root
        path = (folder / relative).resolve()
        if not self.allow_outside and not self.inside(path):
            raise OutsideProject(str(path))
        return path

    def inside(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.root)
            return True
        except ValueError:
            return False

    def display(self, path: str | os.PathLike[str]) -> str:
        """A path as shown in diagnostics: relative to the current folder when possible."""
        p = Path(path)
        try:
            return os.path.relpath(p)
        except ValueError:
            return str(p)

    def read_bytes(self, path: str | os.PathLike[str]) -> bytes:
        key = str(Path(path).resolve())
        if key in self.overlays:
            return self.overlays[key].encode("utf-8")
        return Path(path).read_bytes()

    def head(self, path: str | os.PathLike[str], n: int = 4096) -> bytes:
        with open(path, "rb") as fh:
            return fh.read(n)

    def is_file(self, path: str | os.PathLike[str]) -> bool:
        """False for anything that is not a readable regular file, including names the system
        refuses (too long, a NUL byte, a symlink loop) — never an exception."""
        try:
            return str(Path(path).resolve()) in self.overlays or Path(path).is_file()
        except (OSError, ValueError, RuntimeError):
            return False


# --------------------------------------------------------------------------- atomic files


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _umask_mode()


def publish(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Rename the finished temporary file ``tmp`` over ``target`` with the permissions a
    user expects: the old file's, or ``0o666`` less the umask for a new one (``mkstemp``
    makes owner-only files)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    os.chmod(tmp, mode)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, suffix: str = ".tmp", durable: bool = True) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed over it when the block succeeds.

    Nothing is ever half-written at ``target``: on an exception (Ctrl-C included) the temporary
    file is removed and an existing ``target`` is left as it was. The new file gets the old
    file's permissions, or the usual ones for a new file (``0o666`` less the umask) — not the
    owner-only mode of a bare ``mkstemp``. ``durable``: its data is fsynced before the rename;
    without it a crash of the machine may leave ``target`` torn (for files their reader
    checks, and makes again: the backends' memo)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        publish(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_output(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 with ``\\n`` line ends, atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


# --------------------------------------------------------------------------- a full disk

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})  # no space left / the user's quota used up


def reserve_space(fd: int, size: int) -> None:
    """Allocate ``size`` bytes of disk for the open file ``fd`` now, so a full disk is an
    ``OSError`` (ENOSPC) here rather than a SIGBUS later, when a memory map of the file writes
    into a page the filesystem has no block for. Filesystems that cannot preallocate are left
    as they are."""
    if size <= 0 or not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise


def disk_full_error(exc: BaseException | None) -> OSError | None:
    """The "no space left on device" (or "quota exceeded", or numpy's errno-less short write)
    ``OSError`` that ``exc`` is or was raised from (its ``__cause__``/``__context__`` chain),
    else ``None``."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and (exc.errno in DISK_FULL or _short_write(exc)):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _short_write(exc: OSError) -> bool:
    """numpy's ``tofile``/``save`` to a file object reports a full disk as a short write with
    no errno ("192000 requested and 10208 written")."""
    return exc.errno is None and re.fullmatch(r"\d+ requested and \d+ written", str(exc)) is not None


def mtimes(files: Iterable[Path]) -> dict[Path, int | None]:
    """Each file's modification time in nanoseconds, ``None`` for one that is missing: what
    ``nyeshc watch`` and ``nyeshc studio`` poll to see a save."""
    out: dict[Path, int | None] = {}
    for f in files:
        try:
            out[f] = f.stat().st_mtime_ns
        except OSError:
            out[f] = None
    return out


def free_space(path: str | os.PathLike[str]) -> int | None:
    """Bytes free to this user on the disk holding ``path`` (its nearest existing folder)."""
    p = Path(path).absolute()
    for candidate in (p, *p.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def human_bytes(n: float) -> str:
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def disk_full_message(what: str, where: str | os.PathLike[str], *, gc_command: str = "nyeshc cache gc") -> str:
    """One line for people: what was being written where, the space left, and what to do."""
    free = free_space(where)
    left = f"{human_bytes(free)} free" if free is not None else "free space unknown"
    return (f"the disk is full: writing {what} in {where} failed ({left}); free some space there, "
            f"run '{gc_command}' to drop cache entries the film no longer uses, or put the cache on "
            f"another disk with --cache DIR (--max-disk SIZE makes nyeshc refuse a film whose plan "
            f"needs more than SIZE before it starts)")
