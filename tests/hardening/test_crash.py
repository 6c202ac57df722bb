"""kill -9 mid-render, a full disk, and determinism (jobs=1 vs jobs=2, two uncached renders)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import pytest
from hardening_support import cli

from nyeshc.execute import Cache


def _decoded_hash(path: Path) -> tuple[str, str]:
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    video = subprocess.run([ff, "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
                            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    audio = subprocess.run([ff, "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
                            "-f", "f32le", "-ac", "2", "-ar", "48000", "-"], capture_output=True, check=True).stdout
    assert video and audio
    return hashlib.sha256(video).hexdigest(), hashlib.sha256(audio).hexdigest()


OLD = bytes.fromhex("00000014667479706973736f6d00000200697373 6f6d".replace(" ", "")) + b"\x00\x00\x00\x08mdat"


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")
def test_kill_9_mid_render_leaves_old_film_and_whole_cache(tiny: Path) -> None:
    out = tiny.with_suffix(".mp4")
    out.write_bytes(OLD)
    cache_dir = tiny.parent / ".nyeshc-cache"
    cmd = [sys.executable, "-m", "nyeshc.cli", str(tiny), "-o", str(out), "-q", "-j", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if cache_dir.exists() and any(Cache(cache_dir).entries()):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the render finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert out.read_bytes() == OLD  # the old film intact
    assert not [p for p in tiny.parent.iterdir() if p.name.startswith(f".{out.name}.partial")]
    cache = Cache(cache_dir)
    entries = list(cache.entries())
    assert entries
    for e in entries:  # every visible entry is whole: its checksum matches
        assert cache.verify(e.key), e
    kept = {e.key for e in entries}
    rc, _, err = cli(tiny, "-o", out, "-q", "-j", "1", "-v")
    assert rc == 0, err
    assert out.read_bytes() != OLD
    assert kept <= {e.key for e in Cache(cache_dir).entries()}  # reused, not remade
    _decoded_hash(out)


def test_kill_9_without_old_film_leaves_none(tiny: Path) -> None:
    out = tiny.with_suffix(".mp4")
    cmd = [sys.executable, "-m", "nyeshc.cli", str(tiny), "-o", str(out), "-q", "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.returncode == 0:
        pytest.skip("the render finished within 1.5 s")
    assert not out.exists()


def test_full_disk_during_a_job_is_a_clear_error(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Cache, key: str, *a: object, **k: object) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.root / key[:2]))

    monkeypatch.setattr(Cache, "put", full)
    rc, _, err = cli(tiny, "-o", tiny.with_suffix(".mp4"), "-q", "-j", "1")
    assert rc == 3, err
    assert "the disk is full" in err and ".nyeshc-cache" in err, err
    assert "Traceback" not in err
    assert not tiny.with_suffix(".mp4").exists()


def test_full_disk_in_the_encoder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from nyeshc.render import EncodeError
    from nyeshc.render import encoder

    def full(path: object, *a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(encoder, "write_wav", full)
    with pytest.raises(EncodeError, match="the disk is full"):
        encoder.Encoder(tmp_path / "x.mp4", 16, 16, 12, audio=np.zeros((480, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_two_uncached_renders_are_identical(tiny: Path) -> None:
    a, b = tiny.parent / "a.mp4", tiny.parent / "b.mp4"
    for out in (a, b):
        rc, _, err = cli(tiny, "-o", out, "-q", "-j", "1", "--no-cache")
        assert rc == 0, err
    assert _decoded_hash(a) == _decoded_hash(b)


def test_jobs_1_and_jobs_2_are_identical(tiny: Path) -> None:
    a, b = tiny.parent / "a.mp4", tiny.parent / "b.mp4"
    rc, _, err = cli(tiny, "-o", a, "-q", "-j", "1", "--no-cache")
    assert rc == 0, err
    rc, _, err = cli(tiny, "-o", b, "-q", "-j", "2", "--no-cache")
    assert rc == 0, err
    assert _decoded_hash(a) == _decoded_hash(b)
