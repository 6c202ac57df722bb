"""The ``music.generate`` op passes a cue's stated grid (issue #19): params ``"tempo"`` (bpm)
and ``"meter"`` (``[beats, unit]``) reach ``MusicBackend.generate(..., tempo=, meter=)`` only
when present, so backends written before the options existed keep working until a script
states them (then the error names the option)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from nyeshc.backends.base import SAMPLE_RATE, BackendError
from nyeshc.execute import ops
from nyeshc.execute.ops import run_job
from nyeshc.plan.model import Job


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int, progress: Any = None,
                 temperature: float | None = None, tempo: float | None = None,
                 meter: tuple[int, int] | None = None) -> np.ndarray:
        self.calls.append({"temperature": temperature, "tempo": tempo, "meter": meter})
        return np.zeros((round(seconds * SAMPLE_RATE), 2), np.float32)


class OldBackend:
    def __init__(self) -> None:
        self.calls = 0

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int, progress: Any = None,
                 temperature: float | None = None) -> np.ndarray:
        self.calls += 1
        return np.zeros((round(seconds * SAMPLE_RATE), 2), np.float32)


def _music(monkeypatch: pytest.MonkeyPatch, backend: object, params: dict[str, Any]) -> Any:
    monkeypatch.setattr(ops, "_backend", lambda job: backend)
    job = Job(key="k" * 64, kind="music.generate", backend="fake.recorder", backend_version="", settings={},
              params={"seconds": 0.1, "genre": "ambient", **params}, inputs=(), seed=3, output="audio",
              name="a / b")  # type: ignore[arg-type]
    return run_job(job, [])


def test_the_op_passes_tempo_and_meter_only_when_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    _music(monkeypatch, rec, {"tempo": 72, "meter": [3, 4]})
    _music(monkeypatch, rec, {"tempo": 140.5})
    _music(monkeypatch, rec, {"meter": [6, 8], "temperature": 0.5})
    _music(monkeypatch, rec, {})
    assert rec.calls == [{"temperature": None, "tempo": 72.0, "meter": (3, 4)},
                         {"temperature": None, "tempo": 140.5, "meter": None},
                         {"temperature": 0.5, "tempo": None, "meter": (6, 8)},
                         {"temperature": None, "tempo": None, "meter": None}]
    assert type(rec.calls[0]["tempo"]) is float and type(rec.calls[0]["meter"]) is tuple


@pytest.mark.parametrize(("params", "message"), [({"tempo": "fast"}, "parameter 'tempo' must be a number"),
                                                 ({"tempo": True}, "parameter 'tempo' must be a number"),
                                                 ({"meter": "3/4"}, r"parameter 'meter' must be \[beats"),
                                                 ({"meter": [3, 4.0]}, r"parameter 'meter' must be \[beats"),
                                                 ({"meter": [3]}, r"parameter 'meter' must be \[beats")])
def test_bad_params_are_errors_naming_them(monkeypatch: pytest.MonkeyPatch, params: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        _music(monkeypatch, Recorder(), params)


def test_a_backend_without_the_keywords_works_until_a_script_states_a_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    old = OldBackend()
    _music(monkeypatch, old, {"temperature": 1.0})
    assert old.calls == 1
    with pytest.raises(BackendError, match=r"sets `source: generate, tempo Nbpm`, but backend fake.recorder"):
        _music(monkeypatch, old, {"tempo": 90})
    with pytest.raises(BackendError, match=r"sets `source: generate, meter A/B`, but backend fake.recorder"):
        _music(monkeypatch, old, {"meter": [3, 4]})
    assert old.calls == 1


def test_the_real_op_follows_a_stated_tempo() -> None:
    def cue(**params: Any) -> np.ndarray:
        job = Job(key="k" * 64, kind="music.generate", backend="music.procedural", backend_version="2",
                  settings={}, params={"seconds": 1.0, "genre": "electronic", **params}, inputs=(), seed=2,
                  output="audio", name="theme")
        return run_job(job, [])

    plain, stated = cue(), cue(tempo=120.0, meter=[4, 4])
    assert plain.shape == stated.shape == (SAMPLE_RATE, 2) and plain.tobytes() != stated.tobytes()


def test_preflight_names_the_option_before_any_job_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    old = OldBackend()
    monkeypatch.setattr(ops, "_backend", lambda job: old)
    job = Job(key="k" * 64, kind="music.generate", backend="fake.recorder", backend_version="", settings={},
              params={"seconds": 0.1, "genre": "ambient", "tempo": 90}, inputs=(), seed=3, output="audio",
              name="a / b")  # type: ignore[arg-type]
    with pytest.raises(BackendError, match=r"sets `source: generate, tempo Nbpm`, but backend fake.recorder"):
        ops.preflight([job])
    assert old.calls == 0  # nothing was generated
    ops.preflight([dataclasses.replace(job, params={"seconds": 0.1, "temperature": 0.9})])  # supported: fine


def test_a_build_stops_before_its_jobs_when_the_music_backend_cannot_follow_a_tempo(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cue with ``tempo 120bpm`` on a backend without tempo (as JukeBox): ``nyeshc build``
    and ``nyeshc plan`` stop at once with the option named, exit 3, and no job has run."""
    import contextlib
    import io

    from nyeshc.backends import registry
    from nyeshc.backends.procedural.music import AmbientMusic
    from nyeshc.cli import main
    from nyeshc.store.cache import Cache

    class NoTempo(AmbientMusic):
        """The animatic's music without a tempo keyword, as JukeBox is."""

        id = "music.notempo"

        def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,  # type: ignore[override]
                     progress: Any = None, temperature: float | None = None) -> np.ndarray:
            raise AssertionError("no job may run")

    real = registry.resolve_class
    monkeypatch.setattr(registry, "resolve_class", lambda bid: NoTempo if bid == "music.notempo" else real(bid))
    registry._load_cached.cache_clear()
    (tmp_path / "nysh.toml").write_text('[profile.old]\nmusic = "music.notempo"\n', encoding="utf-8")
    script = tmp_path / "film.nysh"
    script.write_text('title: "T"\ncanvas: 64x36, 12fps\nsoundtrack: S\n\nmusic S:\n'
                      '    source: generate, genre "pop", tempo 120bpm, length 2s\n\nSCENE 1, 2s:\n'
                      '    caption: "x"\n', encoding="utf-8")
    for argv in (["plan", str(script), "--profile", "old"],
                 [str(script), "-o", str(tmp_path / "f.mp4"), "--profile", "old", "-q", "-j", "1"]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(argv)
        assert rc == 3, err.getvalue()
        assert "the script sets `source: generate, tempo Nbpm`, but backend music.notempo" in err.getvalue()
    assert not list(Cache(tmp_path / ".nyeshc-cache").entries())
    assert not (tmp_path / "f.mp4").exists()
    registry._load_cached.cache_clear()
