"""``nyeshc doctor`` reads a StyleGAN2-ADA pickle's ``w_dim`` and resolution without unpickling it.

The fixture pickle is made here, without NVIDIA's code, with the opcode structure of
``torch_utils.persistence``: each network reduces to ``_reconstruct_persistent_obj(meta)`` with
``meta = dict(type, version, module_src, class_name, state)`` and ``state['_init_kwargs']`` the
constructor's keywords (``synthesis_kwargs`` a dict subclass, like dnnlib's ``EasyDict``), big
byte strings standing in for tensor storages, and a training snapshot's dict of G, D, G_ema.
Unpickling it would call this module's ``_reconstruct_persistent_obj``, which records the call;
``pickle``'s loaders are also replaced by functions that fail the test."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from nyeshc.backends.models.pickle_facts import PickleFactsError, stylegan2_facts
from nyeshc.cli import main

CALLS: list[str] = []


def _reconstruct_persistent_obj(meta: dict[str, Any]) -> Any:  # the name persistence.py uses
    CALLS.append(meta["class_name"])
    return meta


class EasyDict(dict):
    """A dict subclass pickles through NEWOBJ + SETITEMS, as dnnlib's EasyDict does."""


class Network:
    def __init__(self, class_name: str, **kwargs: Any) -> None:
        self.class_name, self.kwargs = class_name, kwargs

    def __reduce__(self) -> tuple[Any, ...]:
        state = {"training": False, "_init_args": (), "_init_kwargs": self.kwargs,
                 "_parameters": {"weight": b"\x00" * 50_000}, "img_resolution": self.kwargs.get("img_resolution")}
        meta = {"type": "class", "version": 4, "module_src": "class Generator:\n    pass\n",
                "class_name": self.class_name, "state": state}
        return (_reconstruct_persistent_obj, (meta,))


def snapshot(path: Path, *, w_dim: int = 512, res: int = 256, c_dim: int = 0, protocol: int = 4) -> Path:
    kw = {"z_dim": 512, "c_dim": c_dim, "w_dim": w_dim, "img_resolution": res, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 8}, "synthesis_kwargs": EasyDict(channel_base=16384, channel_max=512)}
    G = Network("Generator", **kw)
    data = {"training_set_kwargs": {"resolution": res}, "G": G,
            "D": Network("Discriminator", c_dim=c_dim, img_resolution=res, img_channels=3),
            "G_ema": Network("Generator", **kw), "augment_pipe": None}
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=protocol)
    return path


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the pickle was unpickled")

    class Refused:  # a class, so that modules subclassing pickle's unpicklers (torch) still import
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("the pickle was unpickled")

    for name in ("load", "loads", "_load", "_loads"):
        monkeypatch.setattr(pickle, name, refuse, raising=False)
    for name in ("Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, Refused, raising=False)
    CALLS.clear()
    yield
    assert CALLS == []


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_facts_read_without_unpickling(tmp_path: Path, protocol: int, no_unpickling: None) -> None:
    path = snapshot(tmp_path / "net.pkl", w_dim=384, res=128, c_dim=10, protocol=protocol)
    facts = stylegan2_facts(path)
    assert (facts.class_name, facts.w_dim, facts.z_dim, facts.c_dim, facts.resolution, facts.channels, facts.key) \
        == ("Generator", 384, 512, 10, 128, 3, "G_ema")


def test_the_fixture_really_reconstructs_through_the_spy(tmp_path: Path) -> None:
    """The spy works: loading the fixture for real calls it (so the test above could fail)."""
    CALLS.clear()
    with open(snapshot(tmp_path / "net.pkl"), "rb") as fh:
        data = pickle.load(fh)  # our own fixture
    assert data["G_ema"]["state"]["_init_kwargs"]["w_dim"] == 512
    assert CALLS == ["Generator", "Discriminator", "Generator"]
    CALLS.clear()


def test_not_a_network_pickle(tmp_path: Path, no_unpickling: None) -> None:
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"G_ema": [1, 2, 3]}))
    with pytest.raises(PickleFactsError, match="no StyleGAN2-ADA generator"):
        stylegan2_facts(tmp_path / "plain.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(PickleFactsError, match="not a readable pickle"):
        stylegan2_facts(tmp_path / "junk.pkl")
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps({"a": 1})[:-1])
    with pytest.raises(PickleFactsError):
        stylegan2_facts(tmp_path / "cut.pkl")


# --------------------------------------------------------------------------- doctor


def _profile(tmp_path: Path, checkpoint: Path, extra: str = "") -> Path:
    from stylegan2_fakes import write_checkout

    checkout = write_checkout(tmp_path / "sg2")
    config = tmp_path / "nysh.toml"
    config.write_text(f'''[profile.full.image]
backend = "image.stylegan2"
checkout = "{checkout}"
checkpoint = "{checkpoint}"
device = "cpu"
{extra}''', encoding="utf-8")
    return config


def _network_check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, dict[str, Any]]:
    rc = main(["doctor", "--config", str(config), "--profile", "full", "--format", "json"])
    checks = json.loads(capsys.readouterr().out)["checks"]
    found = [c for c in checks if c["section"] == "image" and c["name"] == "network"]
    assert len(found) == 1, checks
    return rc, found[0]


def test_doctor_fails_a_w_dim_other_than_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     no_unpickling: None) -> None:
    pytest.importorskip("torch")
    net = snapshot(tmp_path / "net.pkl", w_dim=256, res=64)
    rc, check = _network_check(capsys, _profile(tmp_path, net))
    assert rc == 1 and check["status"] == "fail"
    assert "w_dim 256, 64x64 (read from the pickle (G_ema)); the setting says w_dim = 512" in check["detail"]
    assert check["fix"] == "set [profile.full.image] w_dim = 256 in nysh.toml"
    rc, check = _network_check(capsys, _profile(tmp_path, net, "w_dim = 256\n"))
    assert rc == 0 and check["status"] == "ok" and check["data"]["resolution"] == 64


def test_doctor_fails_a_conditional_network_without_a_class(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            no_unpickling: None) -> None:
    pytest.importorskip("torch")
    net = snapshot(tmp_path / "net.pkl", c_dim=4, res=32)
    rc, check = _network_check(capsys, _profile(tmp_path, net))
    assert rc == 1 and "4 classes" in check["detail"] and "class_idx = 0 … 3" in check["fix"]
    rc, check = _network_check(capsys, _profile(tmp_path, net, "class_idx = 2\n"))
    assert rc == 0 and check["status"] == "ok"
    rc, check = _network_check(capsys, _profile(tmp_path, net, "class_idx = 4\n"))
    assert rc == 1 and "the setting says class_idx = 4" in check["detail"]


def test_doctor_falls_back_on_the_manifest_by_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, no_unpickling: None) -> None:
    """A file the reader cannot read (here: not a pickle) whose SHA-256 a pull recorded for
    stylegan2-ffhq gets the manifest's facts; an unknown one a warning to use --load."""
    pytest.importorskip("torch")
    cache = tmp_path / "cache"
    monkeypatch.setenv("NYESHC_MODELS_DIR", str(cache))
    blob = tmp_path / "ffhq.pkl"
    blob.write_bytes(b"opaque bytes, as a TensorFlow-era pickle would be to the reader")
    config = _profile(tmp_path, blob)
    _, check = _network_check(capsys, config)
    assert check["status"] == "warn" and "--load" in check["fix"]
    cache.mkdir()
    (cache / "hashes.json").write_text(json.dumps({"stylegan2/ffhq.pkl": {
        "sha256": hashlib.sha256(blob.read_bytes()).hexdigest(), "size": blob.stat().st_size}}), encoding="utf-8")
    _, check = _network_check(capsys, config)
    assert check["status"] == "ok", check
    assert check["detail"] == ("w_dim 512, 1024x1024 (from the manifest (stylegan2-ffhq: the checkpoint's "
                               "SHA-256 matches))")


def test_doctor_says_which_pull_puts_a_missing_file_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("NYESHC_MODELS_DIR", str(tmp_path / "cache"))
    config = _profile(tmp_path, tmp_path / "cache" / "stylegan2" / "metfaces.pkl")
    assert main(["doctor", "--config", str(config), "--profile", "full", "--format", "json"]) == 1
    checks = json.loads(capsys.readouterr().out)["checks"]
    missing = next(c for c in checks if c["name"] == "checkpoint")
    assert missing["status"] == "fail"
    assert missing["fix"].startswith("run nyeshc models pull stylegan2-metfaces")
