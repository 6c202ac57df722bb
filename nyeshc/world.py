"""The one I/O gate: files, the project root and its boundary.

Every stage that needs the outside world (reading an included script, probing an asset) goes
through a :class:`World`, which keeps scripts inside their project (symlinks included) unless
``allow_outside`` is set, and lets tests substitute an in-memory world.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
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
        return str(Path(path).resolve()) in self.overlays or Path(path).is_file()


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
def atomic_output(target: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``target``, renamed over it when the block succeeds.

    Nothing is ever half-written at ``target``: on an exception (Ctrl-C included) the temporary
    file is removed and an existing ``target`` is left as it was. The new file gets the old
    file's permissions, or the usual ones for a new file (``0o666`` less the umask) — not the
    owner-only mode of a bare ``mkstemp``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
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
