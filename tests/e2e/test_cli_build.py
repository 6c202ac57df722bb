"""The build command end to end: parts of a film, refusals, failures, the lock, interruption.

Scripts are the examples at a tiny canvas (128x72, 12 fps) and a few small ones written here;
renders share the session's artifact cache where they can.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from e2e_support import (
    EXAMPLES_DIR,
    SAMPLE_RATE,
    TINY_FPS,
    TINY_H,
    TINY_W,
    cli_capture,
    decode_audio,
    decode_video,
    ms,
    parse_srt,
    probe,
    read_png,
    timeline_of,
    write_tiny,
)

# --------------------------------------------------------------------------- parts of a film


@pytest.mark.slow
def test_scene_renders_only_that_scene(render, tmp_path: Path, shared_cache: Path) -> None:
    full = render("nyeshkerh.nysh")
    tl = full.timeline
    scene = tl.scenes[1]  # INT. CATHEDRAL - NIGHT: 18 s .. 40 s
    assert (scene["start"], scene["end"]) == (18 * TINY_FPS, 40 * TINY_FPS)
    out = tmp_path / "scene2.mp4"
    rc, _, err = cli_capture(full.script, "-o", out, "-q", "--cache", shared_cache, "--scene", "2")
    assert rc == 0, err
    frames = decode_video(out, TINY_W, TINY_H)
    n = scene["end"] - scene["start"]
    assert len(frames) == n == 22 * TINY_FPS
    assert decode_audio(out).shape == (n * SAMPLE_RATE // TINY_FPS, 2)
    # the very frames of the film (up to H.264 noise: the two are encoded separately)
    diff = np.abs(frames.astype(np.int16) - full.frames[scene["start"]:scene["end"]].astype(np.int16))
    assert diff.mean() < 6, f"scene 2 differs from frames {scene['start']}..{scene['end']} of the film"
    # the subtitles are restamped to the part: NARRATOR, at 14s of the scene
    cues = parse_srt(out.with_suffix(".srt"))
    assert [c.text for c in cues] == ["She sang in a language nobody spoke.", "Nobody but her."]
    assert cues[0].start_ms == 14_000


@pytest.mark.slow
def test_scene_by_heading_and_unknown_scene(tiny_nyeshkerh: Path, tmp_path: Path, shared_cache: Path) -> None:
    out = tmp_path / "decodex.mp4"
    rc, _, err = cli_capture(tiny_nyeshkerh, "-o", out, "-q", "--cache", shared_cache, "--scene", "Decodex")
    assert rc == 0, err
    assert len(decode_video(out, TINY_W, TINY_H)) == 20 * TINY_FPS
    bad = tmp_path / "bad.mp4"
    rc, _, err = cli_capture(tiny_nyeshkerh, "-o", bad, "-q", "--cache", shared_cache, "--scene", "9")
    assert rc == 2
    assert "no scene" in err
    assert not bad.exists()


@pytest.mark.slow
def test_from_to_renders_that_range(tiny_nyeshkerh: Path, tmp_path: Path, shared_cache: Path) -> None:
    out = tmp_path / "range.mp4"
    rc, _, err = cli_capture(tiny_nyeshkerh, "-o", out, "-q", "--cache", shared_cache, "--from", "12s", "--to", "0:22")
    assert rc == 0, err
    assert len(decode_video(out, TINY_W, TINY_H)) == 10 * TINY_FPS
    assert decode_audio(out).shape == (10 * SAMPLE_RATE, 2)
    # "The names are gone." plays across 12 s: its cue is cut to the range and restamped
    tl = timeline_of(tiny_nyeshkerh)
    crossing = [s for s in tl.subtitles if Fraction(s["start"]) < 12 < Fraction(s["end"])]
    assert len(crossing) == 1
    cues = parse_srt(out.with_suffix(".srt"))
    assert len(cues) == 1
    assert (cues[0].start_ms, cues[0].end_ms) == (0, ms(Fraction(crossing[0]["end"]) - 12))
    assert cues[0].text == crossing[0]["text"]


def test_bad_ranges_are_usage_errors(tiny_nyeshkerh: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    for args in (["--from", "20s", "--to", "10s"], ["--from", "soon"], ["--from", "2:00"]):
        rc, _, err = cli_capture(tiny_nyeshkerh, "-o", out, "-q", "--cache", tmp_path / "cache", *args)
        assert rc == 2, (args, err)
        assert not out.exists()


@pytest.mark.slow
def test_preview_and_the_default_output(tmp_path: Path, shared_cache: Path) -> None:
    """``--preview`` renders at half size, the same frames; without ``-o`` the film is
    FILM.mp4 beside the script."""
    script = _copy("tour-captions.nysh", tmp_path)
    rc, _, err = cli_capture(script, "-q", "--cache", shared_cache, "--preview")
    assert rc == 0, err
    out = script.with_suffix(".mp4")
    s = probe(out)
    assert (s.width, s.height) == (TINY_W // 2, TINY_H // 2)
    assert len(decode_video(out, TINY_W // 2, TINY_H // 2)) == timeline_of(script).frames == 8 * TINY_FPS
    assert {out.with_suffix(".srt").name, out.with_suffix(".vtt").name} <= _written(tmp_path)


def _x264_options(path: Path) -> dict[str, str]:
    """The settings x264 wrote into the stream (its SEI: ``... subme=2 ... crf=18.0 ...``)."""
    data = path.read_bytes()
    at = data.index(b"x264 - core")
    text = data[at:data.index(b"\0", at)].decode("ascii")
    return dict(part.split("=", 1) for part in text.split(" options: ", 1)[1].split() if "=" in part)


def test_encoder_settings_default_and_asked(tmp_path: Path, shared_cache: Path) -> None:
    """By default x264 ``veryfast`` at crf 18 (docs/rendering.md); ``--preset``/``--crf`` reach
    the file: the options x264 records in the stream say which encoder made it."""
    script = _copy("tour-captions.nysh", tmp_path)
    default, asked = tmp_path / "default.mp4", tmp_path / "asked.mp4"
    for out, extra in ((default, ()), (asked, ("--preset", "medium", "--crf", "23"))):
        rc, _, err = cli_capture(script, "-o", out, "-q", "--cache", shared_cache, *extra)
        assert rc == 0, err
    got, slow = _x264_options(default), _x264_options(asked)
    # veryfast: one reference frame, sub-pixel refinement 2, no trellis; medium: 3, 7, 1
    assert (got["crf"], got["ref"], got["subme"], got["trellis"]) == ("18.0", "1", "2", "0")
    assert (slow["crf"], slow["ref"], slow["subme"], slow["trellis"]) == ("23.0", "3", "7", "1")


# --------------------------------------------------------------------------- refusals


def _copy(name: str, folder: Path, file_name: str | None = None) -> Path:
    return write_tiny(EXAMPLES_DIR / name, folder, file_name)


def _written(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_output_must_not_be_the_script(tmp_path: Path) -> None:
    script = _copy("tour-captions.nysh", tmp_path)
    text = script.read_bytes()
    rc, _, err = cli_capture(script, "-o", script, "-q")
    assert rc == 2
    assert script.read_bytes() == text
    # a script that happens to be called .mp4, built onto itself
    odd = _copy("tour-captions.nysh", tmp_path / "odd", "film.mp4")
    rc, _, err = cli_capture(odd, "-o", odd, "-q")
    assert rc == 2
    assert "overwrite the script" in err
    assert odd.read_bytes() == text
    assert _written(tmp_path / "odd") == {"film.mp4"}


def test_output_refuses_an_existing_non_media_file(tmp_path: Path) -> None:
    script = _copy("tour-captions.nysh", tmp_path)
    out = tmp_path / "out.mp4"
    notes = b"my notes for the film, not a video\n"
    out.write_bytes(notes)
    rc, _, err = cli_capture(script, "-o", out, "-q")
    assert rc == 2
    assert "not a video" in err
    assert out.read_bytes() == notes
    assert _written(tmp_path) == {script.name, "out.mp4"}  # no .srt, .vtt, lock or cache
    rc, _, err = cli_capture(script, "-o", tmp_path / "out.txt", "-q")
    assert rc == 2
    assert not (tmp_path / "out.txt").exists()


def test_output_refuses_a_short_non_media_file(tmp_path: Path, shared_cache: Path) -> None:
    script = _copy("tour-captions.nysh", tmp_path)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"todo\n")
    rc, _, _ = cli_capture(script, "-o", out, "-q", "--cache", shared_cache)
    assert out.read_bytes() == b"todo\n"
    assert rc == 2


def test_script_with_errors_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    script = _copy("tour-voices.nysh", tmp_path)
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace("    ORACLE, at 3s", "    ORACEL, at 3s"), encoding="utf-8")
    out = tmp_path / "out" / "film.mp4"
    rc, _, err = cli_capture(script, "-o", out, "-q")
    assert rc == 1
    assert "ORACEL" in err
    assert "ORACLE" in err  # the did-you-mean hint
    assert not out.parent.exists() or not any(out.parent.iterdir())
    assert _written(tmp_path) == {script.name}  # no lock, no cache


# --------------------------------------------------------------------------- still and rosetta


def test_still_writes_a_png_of_the_canvas(tiny_nyeshkerh: Path, tmp_path: Path, shared_cache: Path) -> None:
    png = tmp_path / "frame.png"
    rc, _, err = cli_capture("still", tiny_nyeshkerh, "--at", "0:05", "-o", png, "-q", "--cache", shared_cache)
    assert rc == 0, err
    image = read_png(png)
    assert image.shape == (TINY_H, TINY_W, 3)
    assert image.mean() > 10  # 5 s in: past the fade in
    half = tmp_path / "half.png"
    rc, _, err = cli_capture("still", tiny_nyeshkerh, "--at", "5s", "-o", half, "-q", "--cache", shared_cache,
                             "--preview")
    assert rc == 0, err
    assert read_png(half).shape == (TINY_H // 2, TINY_W // 2, 3)
    rc, _, _ = cli_capture("still", tiny_nyeshkerh, "--at", "5s", "-o", tmp_path / "frame.jpg", "-q")
    assert rc == 2
    rc, _, _ = cli_capture("still", tiny_nyeshkerh, "--at", "whenever", "-o", png, "-q")
    assert rc == 2


def test_rosetta_chart_and_a_misspelt_alphabet(tmp_path: Path, shared_cache: Path) -> None:
    script = EXAMPLES_DIR / "nyeshkerh.nysh"  # the example itself: rosetta draws no frame
    chart = tmp_path / "chart.png"
    rc, _, err = cli_capture("rosetta", "NYESH", script, "-o", chart, "-q", "--cache", shared_cache)
    assert rc == 0, err
    image = read_png(chart)
    assert image.shape[0] > 8 and image.shape[1] > 8
    assert image.std() > 5  # glyphs on paper, not a blank
    rc, _, err = cli_capture("rosetta", "NYSEH", script, "-o", tmp_path / "typo.png", "-q", "--cache", shared_cache)
    assert rc == 2
    assert "did you mean NYESH" in err
    assert not (tmp_path / "typo.png").exists()


# --------------------------------------------------------------------------- backend failures


def test_unknown_backend_exits_3_naming_it(tmp_path: Path) -> None:
    script = _copy("tour-voices.nysh", tmp_path)
    (tmp_path / "nysh.toml").write_text('[profile.broken.music]\nbackend = "music.nonexistent"\n', encoding="utf-8")
    out = tmp_path / "out.mp4"
    rc, _, err = cli_capture(script, "-o", out, "-q", "--profile", "broken")
    assert rc == 3, err
    assert "music.nonexistent" in err
    assert not out.exists()
    rc, _, err = cli_capture(script, "-o", out, "-q", "--profile", "nope")
    assert rc == 2
    assert "nope" in err


def test_failing_job_exits_3_naming_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend that raises while the jobs run (``-j 1`` runs them in this process)."""
    from nyeshc.backends.procedural.music import AmbientMusic

    def broken(self, **kwargs):  # noqa: ANN001, ANN003, ANN202
        raise RuntimeError("the synthesiser caught fire")

    monkeypatch.setattr(AmbientMusic, "generate", broken)
    script = _copy("tour-voices.nysh", tmp_path)
    out = tmp_path / "out.mp4"
    rc, _, err = cli_capture(script, "-o", out, "-q", "-j", "1", "--cache", tmp_path / "cache")
    assert rc == 3, err
    assert "music HUM" in err  # the job
    assert "music.procedural" in err  # its backend
    assert "caught fire" in err  # the cause
    assert not out.exists()
    assert not (tmp_path / (script.name + ".lock")).exists()


# --------------------------------------------------------------------------- the lock


@pytest.mark.slow
def test_lock_is_written_and_stable(tmp_path: Path, shared_cache: Path) -> None:
    script = _copy("tour-captions.nysh", tmp_path)
    lock = tmp_path / (script.name + ".lock")
    locks = []
    for i in (1, 2):
        rc, _, err = cli_capture(script, "-o", tmp_path / "out" / "film.mp4", "-q", "--cache", shared_cache)
        assert rc == 0, err
        assert lock.is_file()
        locks.append(lock.read_bytes())
    assert locks[0] == locks[1]
    text = locks[0].decode("utf-8")
    assert 'script = "tour-captions.nysh"' in text
    assert 'profile = "animatic"' in text
    # the second build replaced the first film with a complete one
    assert probe(tmp_path / "out" / "film.mp4").video_codec == "h264"


# --------------------------------------------------------------------------- interruption

LONG = """\
title: "Drift"
canvas: 128x72, 12fps
seed: 1

look FOG:
    image: generate, seed 5, truncation 0.5

SCENE 1 "Drift", 1:00:
    backdrop: FOG, zoom 1.0 -> 1.3, pan left
"""


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, command name, state) of every process."""
    table = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        table[int(d.name)] = (int(fields[1]), name, fields[0])
    return table


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process below ``pid``."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for p, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(p)
    found, stack = [], [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            found.append((c, table[c][1]))
            stack.append(c)
    return found


def _cpu_ticks(pid: int) -> int:
    """User + system CPU of a process so far, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


INTERRUPTS = {
    # Ctrl-C in a terminal: SIGINT to the whole process group (ffmpeg gets it too), while
    # the film is being encoded
    "ctrl-c while encoding": dict(script="long", group=True, sig=signal.SIGINT, extra=(), when="ffmpeg"),
    # Ctrl-C while the model jobs run in the worker pool (nothing cached yet)
    "ctrl-c while running jobs": dict(script="voices", group=True, sig=signal.SIGINT, extra=("-j", "2"),
                                      when="workers"),
    # a service manager's SIGTERM to nyeshc alone while its composing processes encode segments
    "sigterm while encoding segments": dict(script="long", group=False, sig=signal.SIGTERM, extra=("-j", "2"),
                                            when="ffmpeg"),
    # a service manager's SIGTERM to nyeshc alone, rendering without a cache
    "sigterm while encoding, no cache": dict(script="long", group=False, sig=signal.SIGTERM, extra=("--no-cache",),
                                             when="ffmpeg"),
    # the same while the jobs run: the workers must not outlive nyeshc
    "sigterm while running jobs": dict(script="voices", group=False, sig=signal.SIGTERM, extra=("-j", "2"),
                                       when="workers"),
}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the child processes")
@pytest.mark.parametrize("case", list(INTERRUPTS))
def test_interrupted_render_leaves_nothing_and_a_rerun_succeeds(tmp_path: Path, case: str) -> None:
    c = INTERRUPTS[case]
    sig, extra = c["sig"], list(c["extra"])
    folder, outdir = tmp_path / "film", tmp_path / "out"
    outdir.mkdir()
    if c["script"] == "long":
        folder.mkdir()
        script = folder / "drift.nysh"
        script.write_text(LONG, encoding="utf-8")
        duration = "00:01:00.00"
    else:
        script = _copy("tour-voices.nysh", folder, "drift.nysh")
        duration = None
    out = outdir / "drift.mp4"
    cmd = [sys.executable, "-m", "nyeshc.cli", str(script), "-o", str(out), "-q", *extra]
    log = tmp_path / "stderr.txt"  # a file, not a pipe: orphaned children would hold a pipe open
    seen: set[tuple[int, str]] = set()
    with open(log, "wb") as err_fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_fh, start_new_session=True)
    try:
        started = time.monotonic()
        fired = False
        while time.monotonic() < started + 90 and proc.poll() is None:
            below = _descendants(proc.pid)
            seen.update(below)
            if c["when"] == "ffmpeg" and any(name.startswith("ffmpeg") for _, name in below):
                fired = True
            elif c["when"] == "workers" and any(_cpu_ticks(p) >= 5 for p, n in below if n.startswith("python")) \
                    and len([n for _, n in below if n.startswith("python")]) >= 2:
                # a worker has run for 50 ms: it is in a job (a fixed wait was longer than the
                # whole build on a fast machine, and the render finished before the signal)
                seen.update(_descendants(proc.pid))
                fired = True
            if fired:
                break
            time.sleep(0.02)
        assert fired, "the render never reached the point to interrupt"
        if c["group"]:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        proc.wait(timeout=60)
        time.sleep(0.3)
        survivors = sorted(p for p in seen if _alive(p[0]))
    finally:
        # whatever is left of the process group (nyeshc, its workers, ffmpeg) goes now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait()
    err = log.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode != 0, "the render finished before the signal"
    # the encoder and the workers were stopped and reaped
    assert survivors == [], err
    # nothing in the output folder: no film, no partial file, no segments, no subtitles
    assert sorted(p.name for p in outdir.iterdir()) == [], err
    # the script's folder: the script, and with a cache only the cache (no scratch cache, no lock)
    assert _written(folder) == ({script.name} if "--no-cache" in extra else {script.name, ".nyeshc-cache"})
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "interrupted" in err
    else:
        assert proc.returncode == 143, err
        assert "terminated" in err and "Traceback" not in err
    # a re-run succeeds
    rc, _, err2 = cli_capture(script, "-o", out, "-q", *extra)
    assert rc == 0, err2
    assert probe(out).video_codec == "h264"
    if duration:
        assert f"Duration: {duration}" in probe(out).text
    assert sorted(p.name for p in outdir.iterdir()) == ["drift.mp4", "drift.srt", "drift.vtt"]


def test_output_files_are_not_private(tmp_path: Path, shared_cache: Path) -> None:
    """The film and its subtitles get the ordinary permissions of new files (the umask), not
    the 0600 of a temporary file."""
    script = _copy("tour-captions.nysh", tmp_path)
    out = tmp_path / "film.mp4"
    old = os.umask(0o022)
    try:
        rc, _, err = cli_capture(script, "-o", out, "-q", "--cache", shared_cache)
    finally:
        os.umask(old)
    assert rc == 0, err
    modes = {p.name: p.stat().st_mode & 0o777 for p in (out, out.with_suffix(".srt"), out.with_suffix(".vtt"))}
    assert all(m == 0o644 for m in modes.values()), modes


def test_cache_gc_keeps_what_the_current_film_uses(tmp_path: Path) -> None:
    """``cache gc`` removes what no current plan references, never the film's own scene
    segments: an unchanged re-render after gc re-encodes nothing."""
    from nyeshc.cli import main
    from nyeshc.store.cache import Cache

    script = _copy("tour-captions.nysh", tmp_path)
    cache_dir = tmp_path / "cache"
    out = tmp_path / "film.mp4"
    rc, _, err = cli_capture(script, "-o", out, "-q", "--cache", cache_dir)
    assert rc == 0, err
    cache = Cache(cache_dir)
    stale = "f" * 64
    cache.put(stale, np.zeros(3, np.uint8), kind="image.render")
    before = {e.key: e.record.get("kind") for e in cache.entries()}
    assert main(["cache", "gc", str(script), "--cache", str(cache_dir)]) == 0
    after = {e.key: e.record.get("kind") for e in cache.entries()}
    assert stale not in after
    assert {k: v for k, v in before.items() if k != stale} == after
    assert any(kind == "render.segment" for kind in after.values())
