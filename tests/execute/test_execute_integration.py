"""A small real job set through the procedural backends (skipped while they are missing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import execute_fakes
from execute_fakes import plan_of

from nyeshc.backends.base import Alphabet, Portrait
from nyeshc.execute import Cache, execute

for _module in ("image", "puppet", "voice", "music", "glyphs"):
    pytest.importorskip(f"nyeshc.backends.procedural.{_module}")


def _settings(backend_id: str) -> dict:
    from nyeshc.backends import registry

    return dict(registry.load(backend_id).settings)


def job(kind: str, backend: str, *args: object, **kwargs: object):  # noqa: ANN202
    """A job stamped with the installed backend's real version."""
    from nyeshc.backends import registry

    version = str(registry.load(backend).version) if backend else ""
    return execute_fakes.job(kind, backend, *args, version=version, **kwargs)  # type: ignore[arg-type]


def test_procedural_job_set(tmp_path: Path) -> None:
    img, por, mot = _settings("image.procedural"), _settings("portrait.procedural"), _settings("motion.procedural")
    voi, mus, gly = _settings("voice.procedural"), _settings("music.procedural"), _settings("glyphs.procedural")
    la = job("image.latent", "image.procedural", {"truncation": 0.8}, output="latent", name="look a", seed=3,
             settings=img)
    lb = job("image.latent", "image.procedural", {"truncation": 0.8}, output="latent", name="look b", seed=4,
             settings=img)
    still = job("image.render", "image.procedural", {"width": 32, "height": 18}, (la.key,), output="image",
                name="scene 1 / backdrop", settings=img)
    morph = job("image.morph", "image.procedural", {"width": 32, "height": 18, "frames": 3, "ease": "smooth"},
                (la.key, lb.key), output="frames", name="scene 1 / morph", settings=img)
    pl = job("portrait.latent", "portrait.procedural", {"truncation": 1.0}, output="latent",
             name="character A / latent", seed=5, settings=por)
    face = job("portrait.make", "portrait.procedural", {"size": 64}, (pl.key,), output="portrait",
               name="character A / portrait", settings=por)
    line = job("voice.speak", "voice.procedural", {"text": "Na ke.", "pitch": 1.0, "rate": 1.0, "lang": "en"},
               output="audio", name="scene 1 / line 1", seed=6, settings=voi)
    track = job("voice.track", "", {"length": 9600, "offsets": [2400]}, (line.key,), output="audio",
                name="scene 1 / beat 1 / voice")
    talk = job("motion.lipsync", "motion.procedural", {"fps": 12.0, "frames": 3}, (face.key, track.key),
               output="frames", name="scene 1 / beat 1 / A", seed=7, settings=mot)
    music = job("music.generate", "music.procedural", {"genre": "ambient", "artist": "", "lyrics": "",
                                                        "seconds": 0.25}, output="audio", name="music intro",
                seed=8, settings=mus)
    abc = job("glyphs.alphabet", "glyphs.procedural", {"count": 12, "strokes": [1, 2]}, output="alphabet",
              name="alphabet x", seed=9, settings=gly)
    text = job("glyphs.text", "glyphs.procedural", {"text": "ab", "height": 16, "ink": [255, 255, 255],
                                                    "max_width": None}, (abc.key,), output="image",
               name="scene 1 / caption", settings=gly)
    jobs = [la, lb, still, morph, pl, face, line, track, talk, music, abc, text]
    try:
        import nyeshc.backends.plaintext  # noqa: F401

        jobs.append(job("text.plain", "", {"text": "THE END", "height": 12, "colour": [255, 255, 255],
                                           "max_width": 100}, output="image", name="credits"))
    except ImportError:
        pass
    plan = plan_of(*jobs)
    cache = Cache(tmp_path / "c")
    result = execute(plan, cache, jobs=2, progress=False)
    assert result.load(still.key).shape == (18, 32, 3)
    frames = result.load(morph.key)
    assert frames.shape == (3, 18, 32, 3) and np.array_equal(frames[0], result.load(still.key))
    assert isinstance(result.load(face.key), Portrait)
    assert result.load(talk.key).shape == (3, 64, 64, 4)
    assert result.load(track.key).shape == (9600, 1)
    assert result.load(music.key).shape == (12_000, 2)
    assert isinstance(result.load(abc.key), Alphabet)
    assert result.load(text.key).shape[2] == 4
    # serial in-process run gives the same bytes
    serial = execute(plan, Cache(tmp_path / "s"), jobs=1, progress=False)
    for j in plan.jobs:
        assert serial[j.key].read_bytes() == result[j.key].read_bytes(), j.name
    # both lent the lip-sync's backend the cache's memo folder: its rig's states are kept there
    for name in ("c", "s"):
        assert len(list((tmp_path / name / "memo" / "face-states").rglob("*.state"))) >= 1, name
