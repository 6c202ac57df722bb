"""``nyeshc import`` on public Fountain screenplays: the reference implementation's own test
scripts (``tests/data/fountain``, MIT). Each imports to a script that checks clean, keeps every
word that is not in the boneyard (dialogue, action, notes, sections... nothing dropped silently),
and two of them render at a tiny canvas."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from nyeshc.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "fountain"
FILES = sorted(SAMPLES.glob("*.fountain"))


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = int(main([str(a) for a in args]))
    return rc, out.getvalue(), err.getvalue()


def words(text: str) -> set[str]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)  # the boneyard is meant to vanish
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z']{2,}", text)}


def test_the_samples_are_there() -> None:
    assert len(FILES) >= 15 and (SAMPLES / "LICENSE").is_file()


@pytest.mark.parametrize("src", FILES, ids=lambda p: p.stem)
def test_imports_check_clean_and_keep_every_word(src: Path, tmp_path: Path) -> None:
    out = tmp_path / (src.stem.replace("-", "_") + ".nysh")
    rc, _, err = cli("import", src, "-o", out, "-q")
    assert rc == 0, err
    rc, stdout, err = cli("check", out, "--format", "short")
    assert rc == 0 and "warning" not in (stdout + err), stdout + err
    text = out.read_text(encoding="utf-8").lower()
    kept = {w for w in words(src.read_text(encoding="utf-8")) if w not in text}
    assert not kept, f"dropped from {src.name}: {sorted(kept)}"


def test_boneyard_vanishes_and_a_spaced_cut_to_is_action(tmp_path: Path) -> None:
    out = tmp_path / "simple.nysh"
    assert cli("import", SAMPLES / "Simple.fountain", "-o", out, "-q")[0] == 0
    text = out.read_text(encoding="utf-8")
    assert "boneyard" not in text.lower()
    # "CUT TO: " ends in spaces: Fountain's way of writing it as action, not a transition
    assert "[[ CUT TO: ]]" in text and "transition: CUT TO:" not in text
    for note in ("[[ page break ]]", "[[ synopsis: Synopsis ]]", "[[ section: Section 1 ]]",
                 "[[ section: Section 1-1 ]]", "[[ centred: THE END ]]", "[[ Comment ]]"):
        assert note in text, note
    assert 'SCENE "FORCED SCENE HEADING"' in text and "(passionately)" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Simple", "Dialogue"])
def test_imported_samples_render(name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.nysh"
    rc, _, err = cli("import", SAMPLES / f"{name}.fountain", "-o", script, "--canvas", "96x54, 8fps", "-q")
    assert rc == 0, err
    movie = tmp_path / f"{name}.mp4"
    rc, _, err = cli(script, "-o", movie, "-q", "--cache", tmp_path / "cache")
    assert rc == 0, err
    import subprocess

    import imageio_ffmpeg

    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(movie)],
                          capture_output=True, text=True).stderr
    assert re.search(r"Video: h264.*, 96x54", info) and re.search(r"Audio: aac.*, 48000 Hz", info), info
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    assert int(h) * 3600 + int(m) * 60 + float(s) > 2.0
