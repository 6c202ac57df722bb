"""The provenance lock: stable, sorted, valid TOML, checkpoints hashed."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from execute_fakes import image_graph, plan_of

from nyeshc import __version__
from nyeshc.execute import write_lock


def _plan(ckpt: str):  # noqa: ANN202
    jobs = image_graph({"counter": ""}).jobs
    return plan_of(*jobs, seeds={"scene 2 / backdrop": 7, "look A": 1, "character ÉLAN / portrait": 2**40,
                                 'odd "name"': 3},
                   backends={"portrait": {"id": "portrait.gan", "version": "2",
                                          "settings": {"checkpoint": ckpt, "truncation": 0.7, "gpu": True,
                                                       "nested": {"vae_checkpoint": "missing.pt"},
                                                       "skip": None, "sizes": [256, 512]}}})


def test_lock_is_stable_sorted_and_valid_toml(tmp_path: Path) -> None:
    ckpt = tmp_path / "models" / "ffhq.pkl"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    lock = tmp_path / "film.nysh.lock"
    write_lock(lock, _plan("models/ffhq.pkl"), {"profile": "animatic"})
    first = lock.read_text()
    write_lock(lock, _plan("models/ffhq.pkl"), {"profile": "animatic"})
    assert lock.read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.nysh.lock", "models"]  # no temp files

    doc = tomllib.loads(first)
    assert doc["nyeshc"] == {"version": __version__, "profile": "animatic"}
    assert list(doc["seeds"]) == sorted(doc["seeds"])
    assert doc["seeds"]["character ÉLAN / portrait"] == 2**40 and doc["seeds"]['odd "name"'] == 3
    portrait = doc["backends"]["portrait"]
    assert portrait["id"] == "portrait.gan" and portrait["version"] == "2"
    assert portrait["settings"]["truncation"] == 0.7 and "skip" not in portrait["settings"]
    assert portrait["settings"]["nested"] == {"vae_checkpoint": "missing.pt"}
    assert portrait["checkpoints"] == {"checkpoint": {"path": "models/ffhq.pkl",
                                                      "sha256": hashlib.sha256(b"weights").hexdigest()}}
    image = doc["backends"]["image"]  # completed from the jobs when the plan does not list it
    assert image["id"] == "image.fake" and image["version"] == "1"
    assert list(doc["backends"]) == sorted(doc["backends"])


def test_lock_changes_when_a_checkpoint_changes(tmp_path: Path) -> None:
    ckpt = tmp_path / "w.pth"
    ckpt.write_bytes(b"a")
    lock = tmp_path / "film.nysh.lock"
    write_lock(lock, _plan(str(ckpt)))
    before = lock.read_text()
    ckpt.write_bytes(b"b")
    write_lock(lock, _plan(str(ckpt)))
    assert lock.read_text() != before
