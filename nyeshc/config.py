"""``nysh.toml``: profiles mapping each modality to a backend id and its settings.

Art lives in the script, machines in the config. A profile names, per modality, which backend
renders it and with which settings (checkpoint paths, devices, batch sizes)::

    [profile.full.image]
    backend = "image.stylegan2"
    checkout = "~/src/stylegan2-ada-pytorch"
    checkpoint = "~/models/ffhq.pkl"

    [profile.full.music]
    backend = "music.jukebox"

The default profile, ``animatic``, uses the embedded procedural backends everywhere and needs
no file. Every setting is captured into job keys (see ``nyeshc.plan``), so changing one
invalidates exactly what that backend made.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODALITIES = ("image", "portrait", "motion", "drive", "music", "voice", "tts", "glyphs")

ANIMATIC: dict[str, str] = {
    "image": "image.procedural",
    "portrait": "portrait.procedural",
    "motion": "motion.procedural",
    "drive": "motion.procedural",  # animates `motion: driven "clip.mp4"`; a MotionBackend like `motion`
    "music": "music.procedural",
    "voice": "voice.procedural",
    "tts": "voice.espeak",  # speaks the words of `voice: tts` characters; a VoiceBackend like `voice`
    "glyphs": "glyphs.procedural",
}


_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """``"20G"`` → 20·10⁹ bytes (K, M, G, T in powers of 1000; KiB, MiB, GiB, TiB in 1024).
    Raises :class:`ValueError` on anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"a size cannot be negative: {text}")
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size (write for example 20G, 500M or 1T)")
    unit = (m.group(2) or "").lower()
    if unit.endswith("b") and unit not in _UNITS:
        unit = unit[:-1]
    if unit not in _UNITS:
        raise ValueError(f"{text!r} has an unknown unit")
    return int(float(m.group(1)) * _UNITS[unit])


class ConfigError(ValueError):
    """``nysh.toml`` is malformed or names an unknown profile; the message says where."""


@dataclass(frozen=True)
class BackendChoice:
    id: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    backends: dict[str, BackendChoice]

    def choice(self, modality: str) -> BackendChoice:
        return self.backends.get(modality) or BackendChoice(ANIMATIC[modality])


@dataclass(frozen=True)
class Config:
    path: Path | None
    profiles: dict[str, Profile]
    default_profile: str = "animatic"
    executor: dict[str, Any] = field(default_factory=dict)
    disk_limit: int | None = None  # [limits] disk = "50G", in bytes (None: the default)

    def profile(self, name: str | None = None) -> Profile:
        name = name or self.default_profile
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            where = f" in {self.path}" if self.path else ""
            raise ConfigError(f"unknown profile {name!r}{where}; known profiles: {known}")
        return self.profiles[name]


def animatic_profile() -> Profile:
    return Profile("animatic", {m: BackendChoice(b) for m, b in ANIMATIC.items()})


def _expand(value: Any, base: Path) -> Any:
    """Paths in settings: ``~`` expanded, relative paths taken from the config's folder."""
    if isinstance(value, str) and (value.startswith("~") or value.startswith("./") or value.startswith("../")):
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())
    return value


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    base = path.parent if path else Path.cwd()
    profiles: dict[str, Profile] = {"animatic": animatic_profile()}
    raw_profiles = data.get("profile", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(f"{path}: [profile] must be a table")
    for pname, table in raw_profiles.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [profile.{pname}] must be a table")
        backends: dict[str, BackendChoice] = {}
        for modality, settings in table.items():
            if modality not in MODALITIES:
                import difflib

                close = difflib.get_close_matches(modality, MODALITIES, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"{path}: [profile.{pname}.{modality}] is not a modality{hint}; "
                                  f"modalities: {', '.join(MODALITIES)}")
            if isinstance(settings, str):
                backends[modality] = BackendChoice(settings)
                continue
            if not isinstance(settings, dict) or "backend" not in settings:
                raise ConfigError(f"{path}: [profile.{pname}.{modality}] needs backend = \"<id>\"")
            opts = {k: _expand(v, base) for k, v in settings.items() if k != "backend"}
            backends[modality] = BackendChoice(str(settings["backend"]), opts)
        if "motion" in backends and "drive" not in backends:
            backends["drive"] = backends["motion"]  # driven shots follow `motion` unless set apart
        profiles[pname] = Profile(pname, {**{m: BackendChoice(b) for m, b in ANIMATIC.items()}, **backends})
    default = data.get("default_profile", "animatic")
    executor = data.get("executor", {}) if isinstance(data.get("executor", {}), dict) else {}
    disk_limit = None
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigError(f"{path}: [limits] must be a table")
    if "disk" in limits:
        try:
            disk_limit = parse_size(limits["disk"])
        except ValueError as exc:
            raise ConfigError(f"{path}: [limits] disk: {exc}") from exc
    cfg = Config(path, profiles, default, executor, disk_limit)
    cfg.profile(default)  # validate
    return cfg


def load_config(script: str | Path | None = None, explicit: str | Path | None = None) -> Config:
    """``explicit`` (``--config``), else ``nysh.toml`` beside ``script``, else the defaults."""
    path: Path | None = None
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
    elif script is not None:
        candidate = Path(script).resolve().parent / "nysh.toml"
        path = candidate if candidate.is_file() else None
    if path is None:
        return Config(None, {"animatic": animatic_profile()})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data, path)
