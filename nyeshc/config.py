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

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODALITIES = ("image", "portrait", "motion", "music", "voice", "glyphs")

ANIMATIC: dict[str, str] = {
    "image": "image.procedural",
    "portrait": "portrait.procedural",
    "motion": "motion.procedural",
    "music": "music.procedural",
    "voice": "voice.procedural",
    "glyphs": "glyphs.procedural",
}


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
        profiles[pname] = Profile(pname, {**{m: BackendChoice(b) for m, b in ANIMATIC.items()}, **backends})
    default = data.get("default_profile", "animatic")
    executor = data.get("executor", {}) if isinstance(data.get("executor", {}), dict) else {}
    cfg = Config(path, profiles, default, executor)
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
