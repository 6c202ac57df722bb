"""``nyeshc doctor [FILM.nysh] [--profile P] [--config PATH] [--format human|json] [--load]``.

This file is long (about 700 lines) on purpose: a checklist: one small function per thing a
machine needs (Python, ffmpeg, torch and CUDA, each model backend's code, checkpoints and
settings), each saying what to fix; they share only the report.

Checks that this machine can render with a profile, and says exactly what to fix when it
cannot: the Python version; ffmpeg (the ``imageio-ffmpeg`` binary runs); PyTorch and CUDA
(only when the profile uses a model backend; GPUs and their memory, and whether the profile
asks for ``device = "cuda"``); and for every modality of the profile, that its backend id
resolves, that every path-like setting (``checkout``, ``checkpoint``, ``config``, ``prime``,
``model`` …) names an existing, readable file or folder — printing each checkpoint's SHA-256 —
and that the backend can be constructed (its :class:`~nyeshc.backends.base.BackendError` is
reported word for word). For StyleGAN2-ADA networks it reads the generator's ``w_dim``,
resolution and classes from the pickle without unpickling it
(:mod:`nyeshc.backends.models.pickle_facts`), or from the models manifest by the file's hash,
and fails a ``w_dim`` or ``class_idx`` setting that does not fit. ``--load`` also runs each backend once on a tiny input, which loads
its network: a deeper, slower check (JukeBox takes minutes even for one second).

With a script, its diagnostics are checked and its plan is made with the profile, which
shows the estimated CPU and GPU time. The config is ``--config``, else ``nysh.toml`` beside
the script, else ``nysh.toml`` in the current folder, else the built-in animatic profile.

Exit codes: 0 nothing failed (warnings allowed); 1 a check failed; 2 usage (a missing script or
config file, a malformed config, an unknown profile).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]

MIN_PYTHON = (3, 11)
MODEL_MODULE = "nyeshc.backends.models."

# which backends each modality takes: the id's prefix (`drive` holds motion.*, `tts` voice.*)
KIND_OF: dict[str, str] = {"image": "image", "portrait": "portrait", "motion": "motion", "drive": "motion",
                           "music": "music", "voice": "voice", "tts": "voice", "glyphs": "glyphs"}

# settings that name files or folders, by key: checkouts and folders of checkpoints must be
# folders, checkpoints, configs and the like files; other path-like settings may be either
PATH_KEYS = ("checkout", "checkpoint", "checkpoints", "config", "prime", "model", "models", "data", "weights")
PATH_ENDINGS = ("_checkout", "_checkpoint", "_checkpoints", "_config", "_path", "_dir", "_file", "_model",
                "_weights")
FOLDER_KEYS = ("checkout", "checkpoints", "models", "data")
FOLDER_ENDINGS = ("_checkout", "_checkpoints", "_dir")
# `model` is a file or a folder (a diffusers pipeline folder), or not a path at all (Jukebox's
# "5b_lyrics", a Hugging Face repository id: the backend's construct check says if it is cached)
FILE_KEYS = ("checkpoint", "config", "prime", "weights")
FILE_ENDINGS = ("_checkpoint", "_config", "_file", "_model", "_weights")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", metavar="FILM.nysh", nargs="?",
                   help="a script: its nysh.toml is used, its diagnostics checked and its plan estimated")
    p.add_argument("--profile", metavar="P", help="the nysh.toml profile to check (default: the config's default)")
    p.add_argument("--config", metavar="PATH",
                   help="the config file (default: nysh.toml beside the script, else in the current folder)")
    p.add_argument("--format", choices=("human", "json"), default="human",
                   help="human (default) or json (one object on stdout)")
    p.add_argument("--load", action="store_true",
                   help="also run each backend once on a tiny input (loads every network: slower)")
    p.add_argument("--allow-outside", action="store_true",
                   help="let the script's includes and assets point outside its folder")


# --------------------------------------------------------------------------- results


@dataclass
class Check:
    section: str  # "system", "script" or a modality
    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Report:
    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(self, section: str, name: str, status: Status, detail: str, fix: str | None = None,
            **data: Any) -> Check:
        c = Check(section, name, status, detail, fix, data)
        self.checks.append(c)
        return c

    def count(self, status: Status) -> int:
        return sum(c.status == status for c in self.checks)

    @property
    def failed(self) -> bool:
        return self.count("fail") > 0


# --------------------------------------------------------------------------- system


def check_python(report: Report) -> None:
    v = sys.version_info
    text = f"{v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) < MIN_PYTHON:
        report.add("system", "python", "fail", text,
                   f"nyeshc needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer: install it and reinstall nyeshc")
    else:
        report.add("system", "python", "ok", text, version=f"{v.major}.{v.minor}.{v.micro}")


def check_ffmpeg(report: Report) -> None:
    """The bundled ffmpeg, found and run the way every build runs it (:mod:`nyeshc.media`)."""
    from nyeshc import media

    fix = ("reinstall the bundled binary: pip install --force-reinstall imageio-ffmpeg "
           "(or point IMAGEIO_FFMPEG_EXE at a working ffmpeg)")
    try:
        exe = media.ffmpeg_exe()
    except media.MediaError:
        report.add("system", "ffmpeg", "fail", "imageio-ffmpeg is not installed", "pip install imageio-ffmpeg")
        return
    except RuntimeError as exc:  # no binary for this platform, none on PATH
        report.add("system", "ffmpeg", "fail", f"no ffmpeg binary: {exc}", fix)
        return
    try:
        out, err, code = media.run(["-version"], "ffmpeg -version", output=True, check=False, timeout=20)
    except media.MediaError as exc:
        report.add("system", "ffmpeg", "fail", f"{exe} does not run: {exc}", fix, path=exe)
        return
    first = (out.decode("utf-8", "replace").splitlines() or [""])[0]
    if code != 0 or not first.startswith("ffmpeg version"):
        report.add("system", "ffmpeg", "fail",
                   f"{exe} exited with {code}: {err.decode('utf-8', 'replace').strip()[:200]}", fix, path=exe)
        return
    version = first.split()[2] if len(first.split()) > 2 else "?"
    report.add("system", "ffmpeg", "ok", f"{version} ({exe})", path=exe, version=version)


def model_modalities(profile: Any) -> list[str]:
    """The profile's modalities served by a built-in model adapter (these need torch)."""
    from nyeshc.backends.registry import BUILTINS

    return [m for m in KIND_OF if BUILTINS.get(profile.choice(m).id, "").startswith(MODEL_MODULE)]


def cuda_requests(profile: Any) -> dict[str, str]:
    """``{modality: device}`` for each modality whose settings ask for ``device = "cuda[:N]"``."""
    out: dict[str, str] = {}
    for m in KIND_OF:
        device = profile.choice(m).settings.get("device")
        if isinstance(device, str) and device.strip().lower().startswith("cuda"):
            out[m] = device.strip().lower()
    return out


def check_torch_and_cuda(report: Report, profile: Any) -> None:
    models = model_modalities(profile)
    asks = cuda_requests(profile)
    if not models:
        from nyeshc.backends.registry import BUILTINS

        others = sorted({profile.choice(m).id for m in KIND_OF if profile.choice(m).id not in BUILTINS})
        why = ("the profile uses no model backend" if not others else
               f"by nyeshc's own backends; third-party {', '.join(others)} checked below")
        report.add("system", "torch", "ok", f"not needed ({why})", needed=False)
        report.add("system", "cuda", "ok", "not needed", needed=False)
        return
    users = ", ".join(models)
    try:
        import torch  # noqa: PLC0415 - only when a model backend is configured
    except ImportError:
        report.add("system", "torch", "fail", f"not installed; needed by {users}",
                   "pip install 'nyeshc[models]' (for a GPU, a CUDA build of torch from pytorch.org)",
                   needed=True)
        report.add("system", "cuda", "fail" if asks else "warn", "unknown: torch is not installed", needed=True)
        return
    built = getattr(torch.version, "cuda", None)
    report.add("system", "torch", "ok", f"{torch.__version__}" + (f" (CUDA {built} build)" if built else " (CPU build)"),
               needed=True, version=str(torch.__version__), cuda_build=built)
    where = "; ".join(f"[profile.{profile.name}.{m}] device = {d!r}" for m, d in asks.items())
    if not torch.cuda.is_available():
        why = "torch is a CPU build" if not built else "torch sees no CUDA device (driver? CUDA_VISIBLE_DEVICES?)"
        if asks:
            report.add("system", "cuda", "fail", f"not available ({why}) but the profile asks for it: {where}",
                       "run on a machine with an NVIDIA GPU and a CUDA build of torch (pytorch.org), "
                       "or set device = \"auto\" (or \"cpu\") in those tables to run on the CPU — hours per film",
                       available=False, devices=[])
        else:
            report.add("system", "cuda", "warn", f"not available ({why}): {users} will run on the CPU, "
                       "which takes hours for a film (see the costs in docs/models.md)",
                       "use a machine with an NVIDIA GPU and a CUDA build of torch for full renders",
                       available=False, devices=[])
        return
    devices = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        devices.append({"index": i, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)})
    text = ", ".join(f"cuda:{d['index']} {d['name']} ({d['memory_gib']:g} GiB)" for d in devices)
    bad = {m: d for m, d in asks.items() if ":" in d and _cuda_index(d) not in range(len(devices))}
    if bad:
        report.add("system", "cuda", "fail", f"{text}; but " + "; ".join(
            f"[profile.{profile.name}.{m}] device = {d!r} is not one of them" for m, d in bad.items()),
            f"use device = \"cuda:0\" … \"cuda:{len(devices) - 1}\" (or \"cuda\")", available=True, devices=devices)
        return
    asked = f"; the profile asks for it ({where})" if asks else ""
    report.add("system", "cuda", "ok", text + asked, available=True, devices=devices,
               requested=dict(asks))


def _cuda_index(device: str) -> int:
    try:
        return int(device.partition(":")[2])
    except ValueError:
        return -1


# --------------------------------------------------------------------------- modalities


def is_path_setting(key: str, value: Any) -> bool:
    """A setting that names a file or folder: a known path key (or ending) whose value looks like
    a path, or any string value that is absolute or ends in a model-file suffix."""
    from nyeshc.execute.lock import CHECKPOINT_SUFFIXES

    if not isinstance(value, str) or not value.strip():
        return False
    if key == "model" and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", value) and not Path(value).exists():
        return False  # a Hugging Face repository id (owner/name), looked up in its cache by the backend
    p = Path(value)
    looks = p.is_absolute() or value.startswith(("~", ".")) or "/" in value or os.sep in value or bool(p.suffix)
    if key in PATH_KEYS or key.endswith(PATH_ENDINGS):
        return looks
    return p.is_absolute() or value.lower().endswith(CHECKPOINT_SUFFIXES)


def _is_checkpoint(key: str, value: str) -> bool:
    from nyeshc.execute.lock import CHECKPOINT_SUFFIXES

    return key == "checkpoint" or key.endswith("_checkpoint") or value.lower().endswith(CHECKPOINT_SUFFIXES)


def check_path(report: Report, profile: str, modality: str, key: str, value: str) -> None:
    from nyeshc.backends.models.common import sha256_file

    setting = f"[profile.{profile}.{modality}] {key}"
    path = Path(value).expanduser()
    folder = key in FOLDER_KEYS or key.endswith(FOLDER_ENDINGS)
    file = not folder and (key in FILE_KEYS or key.endswith(FILE_ENDINGS) or _is_checkpoint(key, value))
    what = "folder" if folder else ("file" if file else "file or folder")
    if not path.is_absolute():
        report.add(modality, key, "warn", f"{value!r} is relative: the backend reads it from the current folder "
                   f"({Path.cwd()}), not from nysh.toml's",
                   f"write {setting} = \"./{value}\" to anchor it to nysh.toml's folder, or give an absolute path",
                   path=value)
    if not path.exists():
        pull = _pull_hint(path)
        report.add(modality, key, "fail", f"{path} does not exist",
                   pull or f"place the {what} there, or fix {setting} in nysh.toml (see docs/models.md)",
                   path=str(path))
        return
    if folder and not path.is_dir():
        report.add(modality, key, "fail", f"{path} is a file, not a folder",
                   f"{setting} must name the model's code checkout (a folder: git clone it; see docs/models.md)",
                   path=str(path))
        return
    if file and path.is_dir():
        report.add(modality, key, "fail", f"{path} is a folder, not a file",
                   f"{setting} must name the file itself", path=str(path))
        return
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        report.add(modality, key, "fail", f"{path} is not readable", f"fix its permissions (chmod u+r {path})",
                   path=str(path))
        return
    if path.is_dir():
        report.add(modality, key, "ok", f"{path} (folder)", path=str(path))
        return
    size = path.stat().st_size
    if _is_checkpoint(key, value):
        try:
            digest = sha256_file(path)
        except OSError as exc:
            report.add(modality, key, "fail", f"{path} could not be read: {exc}", f"check {setting}", path=str(path))
            return
        report.add(modality, key, "ok", f"{path} ({_size(size)}) sha256 {digest}", path=str(path), size=size,
                   sha256=digest)
        return
    report.add(modality, key, "ok", f"{path} ({_size(size)})", path=str(path), size=size)


def _pull_hint(path: Path) -> str | None:
    """``run nyeshc models pull NAME`` when ``path`` is where a known model's file goes in the
    models cache (a pulled file that was removed, or a nysh.toml copied from another machine)."""
    from nyeshc.backends.models.manifest import ManifestError, cache_dir, load_manifest

    try:
        rel = path.resolve().relative_to(cache_dir())
        manifest = load_manifest()
    except (ValueError, OSError, ManifestError):
        return None
    for model in manifest.models.values():
        if any(f.path == rel.as_posix() for f in model.files) or model.folder.get("path") == rel.as_posix():
            return f"run nyeshc models pull {model.name} (it puts the file there; see docs/models.md)"
    return None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_modality(report: Report, profile: Any, modality: str) -> Any:
    """Checks one modality; returns the constructed backend, or None."""
    from nyeshc.backends import registry
    from nyeshc.backends.base import BackendError

    choice = profile.choice(modality)
    table = f"[profile.{profile.name}.{modality}]"
    kind = choice.id.partition(".")[0]
    if kind != KIND_OF[modality]:
        report.add(modality, "backend", "fail", f"{choice.id} is {'an' if kind[:1] in 'aeiou' else 'a'} "
                   f"{kind or '?'} backend; the {modality} modality takes {KIND_OF[modality]}.* backends",
                   f"set {table} backend = \"{KIND_OF[modality]}.<name>\" (the ids are listed in docs/config.md "
                   "and docs/models.md)", id=choice.id)
        return None
    try:
        cls = registry.resolve_class(choice.id)
    except BackendError as exc:
        fix = (f"fix {table} backend in nysh.toml" if "unknown backend" in str(exc)
               else "install what the message names")
        report.add(modality, "backend", "fail", str(exc), fix, id=choice.id)
        return None
    where = f"{cls.__module__}:{cls.__qualname__}"
    report.add(modality, "backend", "ok", f"{choice.id} ({where})", id=choice.id, cls=where)
    for key, value in choice.settings.items():
        if is_path_setting(key, value):
            check_path(report, profile.name, modality, key, value)
    try:
        backend = registry.load(choice.id, choice.settings)
    except BackendError as exc:
        report.add(modality, "construct", "fail", str(exc), f"fix {table} in nysh.toml as the message says",
                   id=choice.id)
        return None
    except TypeError as exc:  # an unknown or missing keyword: a setting the class does not take
        report.add(modality, "construct", "fail", f"{choice.id} does not take these settings: {exc}",
                   f"remove or rename the setting in {table} (see the backend's page in docs/)", id=choice.id)
        return None
    except Exception as exc:  # a bug in a backend, or a broken model checkout: name it, no traceback
        report.add(modality, "construct", "fail", f"{choice.id} failed: {type(exc).__name__}: {exc}",
                   f"check {table} and the backend's installation", id=choice.id)
        return None
    protocol = registry.PROTOCOLS[modality]
    if not isinstance(backend, protocol):
        report.add(modality, "construct", "fail", f"{choice.id} does not implement the {modality} protocol",
                   f"choose another backend for {table}", id=choice.id)
        return None
    cost = getattr(backend, "cost", None)
    device = getattr(cost, "device", "cpu")
    settings = dict(backend.settings)
    report.add(modality, "construct", "ok", f"version {backend.version}; cost model: {device}", id=str(backend.id),
               version=str(backend.version), device=device, settings=_jsonable(settings))
    # the hashes the backend puts into its job keys (and the lock), unless printed above already
    printed = {c.data.get("sha256") for c in report.checks if c.section == modality}
    for key, value in settings.items():
        if not key.endswith("sha256"):
            continue
        label = key[: -len("sha256")].rstrip("_") or "file"
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, digest in items:
            if isinstance(digest, str) and digest not in printed:
                name = f"{label} {sub}" if sub is not None else label
                report.add(modality, "sha256", "ok", f"{name}: {digest}", setting=key, item=sub, sha256=digest)
    if choice.id.endswith(".stylegan2"):
        check_network(report, profile.name, modality, choice, backend)
    return backend


def check_network(report: Report, profile: str, modality: str, choice: Any, backend: Any) -> None:
    """What ``--load`` would find out about a StyleGAN2-ADA network, without loading it: its
    ``w_dim``, resolution and classes, read from the pickle's opcodes (never unpickled), else
    from the manifest entry whose SHA-256 the checkpoint has; a ``w_dim`` other than the
    setting's, or a class-conditional network without ``class_idx``, fails."""
    from nyeshc.backends.models.common import sha256_file
    from nyeshc.backends.models.manifest import ManifestError, cache_dir, load_manifest
    from nyeshc.backends.models.pickle_facts import PickleFactsError, stylegan2_facts

    table = f"[profile.{profile}.{modality}]"
    path = Path(str(choice.settings.get("checkpoint", ""))).expanduser()
    try:
        facts = stylegan2_facts(path)
        w_dim, res, c_dim, source = facts.w_dim, facts.resolution, facts.c_dim, f"read from the pickle ({facts.key})"
    except (OSError, PickleFactsError) as exc:
        try:
            known = load_manifest().facts_for_sha256(sha256_file(path), cache_dir())
        except (OSError, ManifestError):
            known = None
        if known is None:
            report.add(modality, "network", "warn", f"w_dim and resolution unknown without loading: {exc}",
                       "run nyeshc doctor --load to load the network once")
            return
        model, _ = known
        w_dim, res, c_dim = model.facts.get("w_dim"), model.facts.get("resolution"), model.facts.get("c_dim")
        source = f"from the manifest ({model.name}: the checkpoint's SHA-256 matches)"
    want = getattr(backend, "latent_dim", None)
    data = {"w_dim": w_dim, "resolution": res, "c_dim": c_dim, "source": source}
    text = f"w_dim {w_dim}, {res}x{res}" + (f", {c_dim} classes" if c_dim else "") + f" ({source})"
    if w_dim is not None and want is not None and int(w_dim) != int(want):
        report.add(modality, "network", "fail", f"{text}; the setting says w_dim = {want}",
                   f"set {table} w_dim = {w_dim} in nysh.toml", **data)
    elif c_dim and getattr(backend, "class_idx", None) is None and choice.settings.get("class_idx") is None:
        report.add(modality, "network", "fail", f"{text}: a class-conditional network, and no class is chosen",
                   f"set {table} class_idx = 0 … {int(c_dim) - 1}", **data)
    elif c_dim and isinstance(getattr(backend, "class_idx", None), int) and backend.class_idx >= int(c_dim):
        report.add(modality, "network", "fail", f"{text}; the setting says class_idx = {backend.class_idx}",
                   f"set {table} class_idx = 0 … {int(c_dim) - 1}", **data)
    else:
        report.add(modality, "network", "ok", text, **data)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --------------------------------------------------------------------------- --load


def _tiny_portrait(backends: dict[str, Any]) -> Any:
    """A portrait to animate: the profile's own portrait backend's, else a plain oval face."""
    import numpy as np

    from nyeshc.backends.base import Portrait

    size = 256
    portrait = backends.get("portrait")
    if portrait is not None:
        try:
            return portrait.portrait(portrait.sample(0, 1.0), size)
        except Exception:  # noqa: BLE001 - the portrait's own load check reports it
            pass
    yy, xx = np.mgrid[0:size, 0:size]
    face = ((xx - size / 2) / (size * 0.3)) ** 2 + ((yy - size / 2) / (size * 0.4)) ** 2 <= 1
    img = np.zeros((size, size, 4), np.uint8)
    img[face] = (214, 170, 140, 255)
    return Portrait(img, (size / 2, size * 0.7), (size * 0.2, size * 0.1, size * 0.8, size * 0.9))


def exercise(modality: str, backend: Any, backends: dict[str, Any]) -> str:
    """Runs ``backend`` once on a tiny input and checks the result's shape; returns a summary."""
    import numpy as np

    from nyeshc.backends.base import SAMPLE_RATE

    def expect(arr: Any, shape: tuple[int | None, ...], dtype: Any) -> None:
        a = np.asarray(arr)
        if a.dtype != dtype or a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
            raise ValueError(f"returned {a.dtype} {a.shape}, expected {np.dtype(dtype)} {shape}")

    kind = KIND_OF[modality]
    if kind == "image":
        img = backend.render(backend.sample(0, 1.0), 64, 64)
        expect(img, (64, 64, 3), np.uint8)
        return "rendered a 64x64 image"
    if kind == "portrait":
        p = backend.portrait(backend.sample(0, 1.0), 64)
        expect(p.image, (64, 64, 4), np.uint8)
        return "rendered a 64x64 portrait"
    if kind == "motion":
        portrait = _tiny_portrait(backends)
        s = portrait.image.shape[0]
        fps, frames = 25.0, 3
        if modality == "drive":
            driving = np.repeat(portrait.image[None, :, :, :3], frames, axis=0)
            out = backend.drive(portrait, driving, fps, None, fps, frames, 0)
            what = "drove"
        else:
            voice = np.zeros((round(frames / fps * SAMPLE_RATE), 1), np.float32)
            out = backend.lipsync(portrait, voice, fps, frames, 0)
            what = "lip-synced"
        expect(out, (frames, s, s, 4), np.uint8)
        return f"{what} {frames} frames of a {s}x{s} portrait"
    if kind == "music":
        cost = getattr(backend, "cost", None)
        if callable(getattr(backend, "load", None)) and getattr(cost, "per_audio_second", 0.0) > 10:
            backend.load()  # Jukebox: loading is the check; sampling a second would take most of an hour
            return "loaded its networks (sampling skipped: " \
                   f"{cost.per_audio_second:.0f} s per second of music on {cost.device})"
        audio = backend.generate(genre="ambient", artist="unknown", lyrics="", seconds=1.0, seed=0)
        expect(audio, (SAMPLE_RATE, 2), np.float32)
        return "generated 1 s of music"
    if kind == "voice":
        lang = "en" if modality == "tts" else "asemic"
        seconds = backend.duration("Nyeshkerh.", pitch=1.0, rate=1.0, lang=lang)
        audio = backend.speak("Nyeshkerh.", pitch=1.0, rate=1.0, lang=lang, seed=0)
        expect(audio, (round(seconds * SAMPLE_RATE), 1), np.float32)
        return f"spoke {seconds:.2f} s"
    alphabet = backend.alphabet(seed=0, count=4, strokes=(2, 3))
    text = backend.render_text(alphabet, "ab", height=16, ink=(255, 255, 255))
    expect(text, (None, None, 4), np.uint8)
    return "drew a 4-glyph alphabet"


def check_load(report: Report, modality: str, backend: Any, backends: dict[str, Any]) -> None:
    import warnings

    start = time.perf_counter()
    # model code warns about deprecated torch defaults; count the warnings rather than print them
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            summary = exercise(modality, backend, backends)
        except Exception as exc:  # whatever the model raises: report it, keep checking the rest
            report.add(modality, "load", "fail", f"{type(exc).__name__}: {exc}",
                       "see the message; the backend's page in docs/models/ lists its requirements",
                       seconds=round(time.perf_counter() - start, 2))
            return
    secs = time.perf_counter() - start
    kinds = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})
    note = f" ({len(kinds)} distinct warning{'s' * (len(kinds) != 1)} from the model code)" if kinds else ""
    report.add(modality, "load", "ok", f"{summary} in {secs:.1f}s{note}", seconds=round(secs, 2), warnings=kinds)


# --------------------------------------------------------------------------- the script


def check_script(report: Report, script: Path, profile: Any, allow_outside: bool) -> None:
    from nyeshc.backends.base import BackendError
    from nyeshc.pipeline import RegistryServices, load_and_check
    from nyeshc.plan import plan

    checked = load_and_check(str(script), allow_outside=allow_outside)
    errors = sum(d.is_error for d in checked.diagnostics)
    warnings = len(checked.diagnostics) - errors
    if errors:
        report.add("script", "check", "fail", f"{script}: {errors} error(s), {warnings} warning(s)",
                   f"run nyeshc check {script} and fix the errors", errors=errors, warnings=warnings)
        return
    report.add("script", "check", "warn" if warnings else "ok",
               f"{script}: no errors" + (f", {warnings} warning(s) (nyeshc check {script})" if warnings else ""),
               errors=0, warnings=warnings)
    try:
        result = plan(checked.loaded.film, profile, RegistryServices(profile), root=script.resolve().parent)
    except BackendError as exc:
        report.add("script", "plan", "fail", str(exc), "fix the setting the message names in nysh.toml")
        return
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report.add("script", "plan", "fail", f"{type(exc).__name__}: {exc}", "please report this with the script")
        return
    per: dict[str, float] = {"cpu": 0.0, "gpu": 0.0}
    for j in result.jobs:
        per[j.device] = per.get(j.device, 0.0) + j.cost_seconds
    used = sorted({j.backend for j in result.jobs if j.backend})
    report.add("script", "plan", "ok", f"{len(result.jobs)} jobs; estimated cpu {_duration(per['cpu'])}, "
               f"gpu {_duration(per['gpu'])}; backends used: {', '.join(used) or 'none'}",
               jobs=len(result.jobs), cpu_seconds=round(per["cpu"], 3), gpu_seconds=round(per["gpu"], 3),
               backends=used)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes = round(seconds / 60)
    return f"{minutes}m" if minutes < 120 else f"{minutes // 60}h {minutes % 60:02d}m"


# --------------------------------------------------------------------------- output


MARK: dict[str, tuple[str, str]] = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}


def print_human(report: Report, header: str, stream: Any) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    console.print(header, style="bold", markup=False)
    section = None
    for c in report.checks:
        if c.section != section:
            section = c.section
            console.print()
            backend = c.data.get("id") if c.name == "backend" else None
            console.print(f"{section}  {backend}" if backend else section, style="bold cyan", markup=False)
        mark, style = MARK[c.status]
        line = Text("  ")
        line.append(mark, style=style)
        line.append(f"  {c.name:<11} {c.detail}")
        console.print(line)
        if c.fix and c.status != "ok":
            console.print(Text(f"        {'':<11} fix: {c.fix}", style="dim" if c.status == "warn" else ""))
    ok, warn, fail = report.count("ok"), report.count("warn"), report.count("fail")
    console.print()
    summary = f"{fail} failed, {warn} warning{'s' * (warn != 1)}, {ok} ok"
    console.print(summary, style="bold red" if fail else ("bold yellow" if warn else "bold green"), markup=False)


def _usage(message: str) -> int:
    print(f"nyeshc doctor: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from nyeshc.config import ConfigError, MODALITIES, load_config

    script = Path(args.script) if args.script else None
    if script is not None and not script.is_file():
        return _usage(f"{script} {'is a folder, not a script' if script.is_dir() else 'not found'}")
    explicit = args.config
    if explicit is None and script is None and Path("nysh.toml").is_file():
        explicit = "nysh.toml"
    try:
        config = load_config(script, explicit)
        profile = config.profile(args.profile)
    except ConfigError as exc:
        return _usage(str(exc))

    report = Report()
    check_python(report)
    check_ffmpeg(report)
    check_torch_and_cuda(report, profile)
    backends: dict[str, Any] = {}
    loaded: dict[tuple[str, str], str] = {}
    for modality in MODALITIES:  # portrait before motion and drive: --load animates its face
        backend = check_modality(report, profile, modality)
        if backend is None:
            continue
        backends[modality] = backend
        if args.load:
            choice = profile.choice(modality)
            same = (choice.id, repr(sorted(choice.settings.items())))
            if same in loaded:
                report.add(modality, "load", "ok", f"same backend and settings as {loaded[same]} (run above)")
                continue
            loaded[same] = modality
            check_load(report, modality, backend, backends)
    if script is not None:
        check_script(report, script, profile, args.allow_outside)

    where = str(config.path) if config.path else "no nysh.toml: built-in defaults"
    if args.format == "json":
        data = {"profile": profile.name, "config": str(config.path) if config.path else None,
                "ok": not report.failed,
                "summary": {s: report.count(s) for s in ("ok", "warn", "fail")},
                "checks": [_jsonable(asdict(c)) for c in report.checks]}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print_human(report, f"nyeshc doctor: profile {profile.name} ({where})", sys.stdout)
    return 1 if report.failed else 0

