"""The pipeline driver: a script path in, a checked film, a plan and the jobs' artifacts out.

What every front door of nyeshc does the same way — the command line (``nyeshc.commands``),
the language server's hovers (``nyeshc.lsp``), a studio — lives here, once, without argparse:

* :func:`load_and_check`: read the script and its includes through the :class:`World`, lower
  and check them (every problem a diagnostic; nothing raises);
* :func:`prepare`: config → load → check → plan → disk budget (E701), as :class:`Prepared`;
* :func:`run_jobs`: run a plan's jobs through the cache (local processes or Ray);
* :class:`RegistryServices`: the planner's facts from the backend registry and the files (the
  planner may not import backends; this layer may);
* :func:`timeline_planner`: ``(script, film) -> Plan`` for the language server.

A stage that stops the build tells a :class:`Report` why (one line, or diagnostics) and raises
:class:`Stop` with the exit code (1 the script's errors or E701, 2 usage, 3 a backend or job
failure). The command line's report prints ``nyeshc COMMAND: …`` and the diagnostics to stderr
(``nyeshc.commands.common``); a studio passes its own.

Imports are deferred to the functions that need them: ``nyeshc check`` uses
:func:`load_and_check` and must not pay for the planner, the executor or numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nyeshc.diagnostics import Diagnostic
from nyeshc.syntax import Loaded, load
from nyeshc.uptodate import default_cache_dir
from nyeshc.world import World

if TYPE_CHECKING:
    from nyeshc.config import Config, Profile
    from nyeshc.grid import Grid
    from nyeshc.plan.model import Plan
    from nyeshc.resolve.services import BackendInfo

__all__ = ["EXECUTORS", "Checked", "Prepared", "RegistryServices", "Report", "Stop", "choose_executor",
           "disk_limit", "load_and_check", "prepare", "run_jobs", "timeline_planner", "with_canvas_scaled"]


class Stop(Exception):
    """Ends a command with ``code`` after its message has been reported."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Report(Protocol):
    """Where the driver says what it found: the command line prints it, a studio shows it."""

    def problem(self, text: str) -> None:
        """One line: why the build stops (or what it could not do)."""

    def detail(self, text: str) -> None:
        """More about the last problem, as is (a job's traceback under ``-v``)."""

    def diagnostics(self, found: Sequence[Diagnostic], sources: Mapping[str, str]) -> None:
        """The script's diagnostics, or the planner's; errors among them stop the build."""


# --------------------------------------------------------------------------- check


@dataclass
class Checked:
    loaded: Loaded
    world: World
    diagnostics: list[Diagnostic]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def load_and_check(script: str, *, allow_outside: bool = False) -> Checked:
    """Read, lower and check ``script``; every problem is a diagnostic, nothing raises."""
    from nyeshc.check import check

    path = Path(script)
    world = World.for_script(path, allow_outside=allow_outside)
    loaded = load(path, world)
    diagnostics = list(loaded.diagnostics)
    if loaded.sources:
        # the loader already reports what it refused to open (E209 includes): no second copy
        reported = {(d.code, d.span) for d in diagnostics}
        diagnostics.extend(d for d in check(loaded, world) if (d.code, d.span) not in reported)
    diagnostics.sort(key=lambda d: (d.span.file != loaded.film.path, d.span.file, d.span.start, d.code))
    return Checked(loaded, world, diagnostics)


# --------------------------------------------------------------------------- plan


class RegistryServices:
    """The real :class:`nyeshc.resolve.services.Services` for ``profile``: facts from
    :func:`nyeshc.backends.registry.load` and files.

    It reports what the planner needs: a backend's id, version, settings and cost model, the
    exact length of a synthesised line (``VoiceBackend.duration``), the length of a recording
    or a video (through :func:`nyeshc.media.duration`, the module the checker and the executor
    read media with), a file's SHA-256, and the grid of a music cue (the music backend's
    ``grid()``, or :func:`nyeshc.beats.detect_grid` for a recording). Backends are loaded on
    first use."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._objects: dict[str, Any] = {}
        self._media: dict[str, Fraction | None] = {}
        self._audio: dict[str, bool] = {}
        self._sha: dict[str, str] = {}
        self._grids: dict[str, Grid | None] = {}  # music_grid and recording_grid answers

    def _load(self, modality: str) -> Any:
        if modality not in self._objects:
            from nyeshc.backends import registry

            choice = self.profile.choice(modality)
            self._objects[modality] = registry.load(choice.id, choice.settings)
        return self._objects[modality]

    def backend(self, modality: str) -> BackendInfo:
        from nyeshc.costs import CostModel
        from nyeshc.resolve.services import BackendInfo

        b = self._load(modality)
        c = getattr(b, "cost", None)
        cost = CostModel(getattr(c, "device", "cpu"), float(getattr(c, "per_call", 0.0)),
                        float(getattr(c, "per_frame", 0.0)), float(getattr(c, "per_audio_second", 0.0)),
                        bool(getattr(c, "scale_by_pixels", True)))
        return BackendInfo(str(b.id), str(b.version), dict(b.settings), cost,
                           getattr(b, "renders_frame_ranges", False) is True,
                           modality == "motion" and callable(getattr(b, "rig", None)))

    def voice_duration(self, backend: BackendInfo, text: str, pitch: float, rate: float, lang: str) -> float:
        # the modality whose (already loaded) backend ``backend`` describes: `tts` or `voice`
        modality = next((m for m in ("tts", "voice") if m in self._objects and self.backend(m) == backend), "voice")
        voice = self._load(modality)
        return float(voice.duration(text, pitch=pitch, rate=rate, lang=lang))

    def media_duration(self, path: str) -> Fraction | None:
        from nyeshc import media

        if path not in self._media:
            self._media[path] = media.duration(path)
        return self._media[path]

    def has_audio(self, path: str) -> bool:
        """Whether the file has an audio stream the executor can decode (a video's soundtrack,
        say): :func:`nyeshc.media.has_audio`. The planner asks it before mixing a ``show``
        clip's own sound."""
        from nyeshc import media

        if path not in self._audio:
            self._audio[path] = media.has_audio(path)
        return self._audio[path]

    def file_sha256(self, path: str) -> str:
        if path not in self._sha:
            import hashlib

            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
            self._sha[path] = h.hexdigest()
        return self._sha[path]

    def music_grid(self, backend: BackendInfo, params: dict[str, Any]) -> Grid | None:
        """The grid (:class:`nyeshc.grid.Grid`) the configured music backend will play a
        generated cue on, from its ``grid()`` and the cue's ``music.generate`` params (``genre``,
        ``artist``, ``lyrics``, ``seconds``, ``seed``; ``temperature``, ``tempo``, ``meter`` when
        stated), without rendering; ``None`` for a backend without ``grid()`` (JukeBox: its
        grid is known only from its output). Memoised; a :class:`BackendError` (a tempo out of
        range) propagates."""
        import json

        grid = getattr(self._load("music"), "grid", None)
        if grid is None:
            return None
        key = json.dumps([backend.id, backend.version, backend.settings, params], sort_keys=True, default=str)
        if key not in self._grids:
            kw: dict[str, Any] = {"genre": str(params.get("genre", "")), "artist": str(params.get("artist", "")),
                                  "lyrics": str(params.get("lyrics", "") or ""),
                                  "seconds": float(params.get("seconds", 0.0)), "seed": int(params.get("seed", 0))}
            for name in ("temperature", "tempo"):
                if params.get(name) is not None:
                    kw[name] = float(params[name])
            if params.get("meter") is not None:
                beats, unit = params["meter"]
                kw["meter"] = (int(beats), int(unit))
            self._grids[key] = grid(**kw)
        return self._grids[key]

    def recording_grid(self, path: str, beats_per_bar: int | None = None) -> Grid:
        """The detected grid of a recording (:func:`nyeshc.beats.detect_grid`: beats, downbeats,
        tempo, meter, confidence; cached by the file's SHA-256 in memory and on disk), its bar
        lines found for ``beats_per_bar`` beats when the script states the meter. Raises
        ``OSError`` when the file cannot be read or decoded (as the other file services do)."""
        from nyeshc import beats, media

        key = f"file:{path}:{beats_per_bar or ''}"
        if key not in self._grids:
            try:
                self._grids[key] = beats.detect_grid(path, beats_per_bar=beats_per_bar)
            except media.MediaError as exc:
                raise OSError(str(exc)) from exc
        grid = self._grids[key]
        assert grid is not None
        return grid


@dataclass
class Prepared:
    script: Path
    checked: Checked
    plan: Any  # nyeshc.plan.model.Plan
    cache_dir: Path
    profile: Any  # nyeshc.config.Profile
    config: Any  # nyeshc.config.Config
    cache_option: str | None = None  # the cache folder as the caller named it (None: the default)
    planned: tuple[Diagnostic, ...] = ()  # what the planner said (reported already): warnings included

    @property
    def profile_name(self) -> str:
        return str(self.profile.name)


def with_canvas_scaled(film: Any, factor: float) -> Any:
    """``film`` with its canvas scaled by ``factor`` (even sizes, as H.264 needs)."""
    from dataclasses import replace

    from nyeshc import ir

    prop = film.header.get("canvas")
    size = prop.value if prop is not None and isinstance(prop.value, ir.Size) else ir.Size(1280, 720)
    w = max(16, int(size.width * factor) // 2 * 2)
    h = max(16, int(size.height * factor) // 2 * 2)
    new_value = replace(size, width=w, height=h)
    if prop is None:
        fields = (*film.header.fields, ir.Property("canvas", new_value))
    else:
        fields = tuple(replace(f, value=new_value) if f is prop else f for f in film.header.fields)
    return replace(film, header=replace(film.header, fields=fields))


def disk_limit(config: Config | Any, max_disk: int | None = None) -> int:
    """The disk budget: ``max_disk`` (``--max-disk``), else ``[limits] disk``, else 50 GB."""
    from nyeshc.plan.budget import DEFAULT_LIMIT

    if max_disk is not None:
        return int(max_disk)
    configured = getattr(config, "disk_limit", None)
    return int(configured) if configured is not None else DEFAULT_LIMIT


def prepare(script: str | Path, report: Report, *, config: str | None = None, profile: str | None = None,
            allow_outside: bool = False, max_disk: int | None = None, cache: str | None = None,
            canvas_scale: float | None = None, jobs: int | None = None) -> Prepared:
    """Config, load, check and plan ``script``; reports problems and raises :class:`Stop`
    with the exit code (1 script errors or a plan over the disk budget (E701), 2 usage, 3 a
    backend could not be loaded). ``config``, ``profile``, ``max_disk`` and ``cache`` default
    to nysh.toml beside the script, its default profile, its ``[limits] disk`` (else 50 GB) and
    ``.nyeshc-cache`` beside the script; ``jobs`` (the workers a build will run, default the
    cores) counts in the disk budget, each holding a raw frame buffer while it writes."""
    from nyeshc.backends.base import BackendError
    from nyeshc.config import ConfigError, load_config
    from nyeshc.plan import plan

    script = Path(script)
    if not script.is_file():
        report.problem(f"{script} not found")
        raise Stop(2)
    try:
        config_obj = load_config(script, config)
        profile_obj = config_obj.profile(profile)
    except ConfigError as exc:
        report.problem(str(exc))
        raise Stop(2) from exc
    checked = load_and_check(str(script), allow_outside=allow_outside)
    if checked.diagnostics:
        report.diagnostics(checked.diagnostics, checked.loaded.sources)
    if checked.has_errors:
        raise Stop(1)
    film = checked.loaded.film
    if canvas_scale is not None:
        film = with_canvas_scaled(film, canvas_scale)
    found: list[Diagnostic] = []  # the planner's own: its audit (E702, W211/E703) among them
    try:
        result = plan(film, profile_obj, RegistryServices(profile_obj), root=script.resolve().parent, report=found)
        if not any(d.is_error for d in found):
            from nyeshc.execute.ops import preflight

            preflight(result.jobs)  # a backend that cannot do what the script asks: said now, not mid-build
    except BackendError as exc:
        report.problem(str(exc))
        raise Stop(3) from exc
    if found:
        report.diagnostics(found, checked.loaded.sources)
    if any(d.is_error for d in found):
        raise Stop(1)
    from nyeshc.plan.budget import check_budget
    from nyeshc.store.cache import default_frame_codec

    over = check_budget(result, disk_limit(config_obj, max_disk), film=film, frame_codec=default_frame_codec(),
                        workers=jobs)
    if over is not None:
        report.diagnostics([over], checked.loaded.sources)
        raise Stop(1)
    return Prepared(script, checked, result, default_cache_dir(script, cache), profile_obj, config_obj, cache or None,
                    tuple(found))


def timeline_planner(profile_name: str | None = None) -> Callable[[Path, Any], Plan]:
    """``(script, film) -> Plan`` for the language server's hovers (scene times; the job keys
    of cached portraits and looks), planned with the real backends' facts; the config is read
    beside each script. Raises what :func:`nyeshc.plan.plan` or the config raise."""

    def plan_timeline(script: Path, film: Any) -> Plan:
        from nyeshc.config import load_config
        from nyeshc.plan import plan

        profile = load_config(script).profile(profile_name)
        return plan(film, profile, RegistryServices(profile), root=script.parent)

    return plan_timeline


# --------------------------------------------------------------------------- execute


EXECUTORS = ("local", "ray")


def choose_executor(prepared: Prepared, report: Report, *, executor: str | None = None,
                    address: str | None = None) -> tuple[str, dict[str, Any]]:
    """``executor``/``address`` (``--executor``/``--address``), else ``[executor] kind``/
    ``address``/``retries`` in ``nysh.toml``, else local. Returns the kind and the extra
    keywords for the executor."""
    table = prepared.config.executor
    kind = executor or table.get("kind") or "local"
    if kind not in EXECUTORS:
        report.problem(f"unknown executor {kind!r} ([executor] kind in nysh.toml); executors: {', '.join(EXECUTORS)}")
        raise Stop(2)
    extra: dict[str, Any] = {}
    if kind == "ray":
        address = address or table.get("address")
        if address:
            extra["address"] = str(address)
        if isinstance(table.get("retries"), int) and not isinstance(table.get("retries"), bool):
            extra["retries"] = max(0, table["retries"])
    elif address:
        report.problem("--address needs --executor ray")
        raise Stop(2)
    return kind, extra


def run_jobs(prepared: Prepared, plan: Any, report: Report, *, executor: str | None = None,
             address: str | None = None, use_cache: bool = True, jobs: int | None = None,
             progress: bool = True, verbose: bool = False,
             when_done: tuple[Collection[str], Callable[[], None]] | None = None) -> Any:
    """Execute ``plan``'s jobs (the cache, or a temporary one when ``use_cache`` is false);
    returns the :class:`~nyeshc.execute.Artifacts`. A failed job reports its name, backend and
    cause (and its traceback when ``verbose``) and raises :class:`Stop` (3). ``when_done``: as
    :func:`nyeshc.execute.execute`'s, by the local executor (the Ray executor runs without it)."""
    from nyeshc.execute import Cache, JobFailed, execute

    kind, extra = choose_executor(prepared, report, executor=executor, address=address)
    if kind == "ray":
        from nyeshc.execute import RayNotInstalled, execute_ray

        def execute(*a: Any, **kw: Any) -> Any:  # noqa: F811 - the Ray executor instead
            try:
                return execute_ray(*a, **kw, **extra)
            except RayNotInstalled as exc:
                report.problem(str(exc))
                raise Stop(2) from exc

    cache = Cache(prepared.cache_dir) if use_cache else None
    try:
        # without the cache: a temporary one beside the script (the system's temp folder may
        # live in memory, and frame sequences are large); deleted when the artifacts are closed
        hook = {"when_done": when_done} if when_done is not None and kind != "ray" else {}
        return execute(plan, cache, jobs=jobs, progress=progress,
                       scratch_dir=prepared.script.resolve().parent if cache is None else None, **hook)
    except JobFailed as exc:
        from nyeshc.world import disk_full_error, disk_full_message

        if isinstance(exc.cause, BaseException) and disk_full_error(exc.cause) is not None:
            gc = f"nyeshc cache gc {prepared.script}"
            if prepared.cache_option:
                gc += f" --cache {prepared.cache_option}"
            where = cache.root if cache is not None else prepared.script.resolve().parent
            report.problem(disk_full_message(
                f"the result of {exc.job.name or exc.job.key[:12]} ({exc.job.kind})", where, gc_command=gc))
            raise Stop(3) from exc
        report.problem(str(exc))
        if verbose and exc.traceback:
            report.detail(exc.traceback)
        raise Stop(3) from exc
