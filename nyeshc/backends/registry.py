"""Backend lookup: built-ins in an explicit table, third parties through entry points.

A backend id is ``"<modality>.<name>"``. Built-ins are listed in :data:`BUILTINS` as
``"module:Class"`` strings and imported only when first used, so ``nyeshc check`` never pays
for (or needs) torch. Third-party packages add backends under the ``nyeshc.backends``
entry-point group with the backend id as the entry-point name::

    [project.entry-points."nyeshc.backends"]
    "image.mygan" = "mygan.nyeshc:MyGanBackend"

A loaded class is instantiated with the profile's settings as keyword arguments and checked
against its modality's protocol.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from nyeshc.backends.base import (
    Backend,
    BackendError,
    GlyphBackend,
    ImageBackend,
    MotionBackend,
    MusicBackend,
    PortraitBackend,
    VoiceBackend,
)
from nyeshc.config import ANIMATIC

BUILTINS: dict[str, str] = {
    "image.procedural": "nyeshc.backends.procedural.image:CPPNImage",
    "glyphs.procedural": "nyeshc.backends.procedural.glyphs:StrokeGlyphs",
    "portrait.procedural": "nyeshc.backends.procedural.puppet:PuppetPortrait",
    "motion.procedural": "nyeshc.backends.procedural.puppet:PuppetMotion",
    "music.procedural": "nyeshc.backends.procedural.music:AmbientMusic",
    "voice.procedural": "nyeshc.backends.procedural.voice:AsemicVoice",
    "voice.espeak": "nyeshc.backends.espeak:ESpeakVoice",
    "voice.piper": "nyeshc.backends.piper:PiperVoice",
    # the real models (torch, the user's checkouts and checkpoints; see docs/models.md)
    "image.stylegan2": "nyeshc.backends.models.stylegan2:StyleGAN2Image",
    "portrait.stylegan2": "nyeshc.backends.models.stylegan2:StyleGAN2Portrait",
    "glyphs.stylegan2": "nyeshc.backends.models.stylegan2:StyleGAN2Glyphs",
    "image.ganface": "nyeshc.backends.models.ganface:GanFaceImage",
    "portrait.ganface": "nyeshc.backends.models.ganface:GanFacePortrait",
    "motion.fomm": "nyeshc.backends.models.fomm:FOMMMotion",
    "motion.wav2lip": "nyeshc.backends.models.wav2lip:Wav2LipMotion",
    "music.jukebox": "nyeshc.backends.models.jukebox:JukeboxMusic",
    # text-to-image and text-to-audio pipelines through diffusers (docs/models/diffusers.md)
    "image.diffusers": "nyeshc.backends.models.diffusion:DiffusersImage",
    "portrait.diffusers": "nyeshc.backends.models.diffusion:DiffusersPortrait",
    "music.stable_audio": "nyeshc.backends.models.stable_audio:StableAudioMusic",
}

PROTOCOLS: dict[str, type] = {
    "image": ImageBackend,
    "portrait": PortraitBackend,
    "motion": MotionBackend,
    "drive": MotionBackend,  # a profile's `drive` modality holds motion.* backends for driven shots
    "music": MusicBackend,
    "voice": VoiceBackend,
    "tts": VoiceBackend,  # a profile's `tts` modality holds voice.* backends
    "glyphs": GlyphBackend,
}

DEFAULTS: dict[str, str] = dict(ANIMATIC)
"""The animatic profile: every modality's embedded default."""


def _entry_points() -> dict[str, Any]:
    # imported here: importlib.metadata pulls in email, socket, csv… (~5 ms a build that loads
    # only built-in backends never needs)
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="nyeshc.backends")}


def known_ids() -> list[str]:
    """Every backend id that could be loaded (built-ins first)."""
    return sorted(BUILTINS) + sorted(set(_entry_points()) - set(BUILTINS))


def resolve_class(backend_id: str) -> type:
    """The class of the backend ``backend_id`` (built in, or from an installed package's
    ``nyeshc.backends`` entry point), imported but not constructed; :class:`BackendError` when
    it is unknown or its package is missing."""
    if backend_id in BUILTINS:
        module_name, _, attr = BUILTINS[backend_id].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a heavy optional dependency is missing
            raise BackendError(
                f"backend {backend_id} needs a package that is not installed ({exc.name}); "
                f"install it with: pip install 'nyeshc[models]'"
            ) from exc
        return getattr(module, attr)
    eps = _entry_points()
    if backend_id in eps:
        try:
            return eps[backend_id].load()
        except ImportError as exc:
            raise BackendError(f"backend {backend_id} failed to import: {exc}") from exc
    import difflib

    close = difflib.get_close_matches(backend_id, known_ids(), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise BackendError(f"unknown backend {backend_id!r}{hint}")


def _check_settings(backend_id: str, cls: Any, keys: list[str]) -> None:
    """A setting the backend's constructor does not take is the user's mistake in ``nysh.toml``:
    a clear error naming it (with the closest known setting), not a ``TypeError`` traceback."""
    import difflib
    import inspect

    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # a constructor Python cannot describe: let it decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [n for n, p in params.items() if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                        inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(known) if known else "none"
            raise BackendError(f"backend {backend_id} has no setting {key!r}{hint} (its settings: {listed})")


def _freeze(settings: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, repr(v)) for k, v in settings.items()))


@lru_cache(maxsize=64)
def _load_cached(backend_id: str, frozen: tuple[tuple[str, Any], ...], settings_items: tuple) -> Backend:
    cls = resolve_class(backend_id)
    _check_settings(backend_id, cls, [k for k, _ in settings_items])
    backend = cls(**dict(settings_items))
    modality = backend_id.partition(".")[0]
    protocol = PROTOCOLS.get(modality)
    if protocol is not None and not isinstance(backend, protocol):
        raise BackendError(f"backend {backend_id} does not implement the {modality} protocol")
    return backend


def load(backend_id: str, settings: Mapping[str, Any] | None = None) -> Backend:
    """The backend ``backend_id`` configured with ``settings`` (cached per process)."""
    settings = dict(settings or {})
    items = tuple(sorted(settings.items(), key=lambda kv: kv[0]))
    try:
        return _load_cached(backend_id, _freeze(settings), items)
    except TypeError:  # unhashable settings values: load without the cache
        return _load_cached.__wrapped__(backend_id, _freeze(settings), items)
