"""One studio session: watch a film's sources, check on every save, render previews.

A :class:`Studio` owns two threads. The *watcher* polls the modification times of the script,
the files it includes and its ``nysh.toml`` (every :data:`POLL_S`); on a change it checks the
script at once (:func:`nyeshc.pipeline.load_and_check`, a fraction of a second) and publishes
the diagnostics, then asks for a build when there are no errors. The *builder* runs one
build at a time: :func:`nyeshc.pipeline.prepare` with the canvas scaled by
:data:`PREVIEW_SCALE`, :func:`nyeshc.pipeline.run_jobs` through the cache (so only what the
save changed is made again), and :func:`nyeshc.render.render_film` with a fast preset. A
save while a build runs leaves one build waiting; later saves fold into it (the newest
supersedes the queued one). A save that introduces errors cancels the waiting build, and
the last good preview stays on the page.

Previews are written into ``CACHE/studio/`` (``render_film`` writes a temporary file and
renames it), then renamed to ``preview-<first 16 hex digits of its SHA-256>.mp4``; the
current and the previous one are kept (a player may still be reading the previous one), older
ones are deleted. Everything the page needs arrives through the :class:`Hub` as events:
``check`` (diagnostics and the sources' text), ``progress`` (the running build) and
``preview`` (a new video and its timeline picture).

The builder runs the executor's process pool from a thread of a process that also serves
HTTP; the pool forks (``nyeshc.execute.local``), which is safe here because the other threads
only wait on sockets and locks of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nyeshc import pipeline
from nyeshc.diagnostics import Diagnostic, to_json
from nyeshc.uptodate import default_cache_dir
from nyeshc.world import mtimes

__all__ = [
    "KEEP_PREVIEWS",
    "POLL_S",
    "PREVIEW_CRF",
    "PREVIEW_NAME",
    "PREVIEW_PRESET",
    "PREVIEW_SCALE",
    "TIMELINE_WIDTH",
    "TIMELINE_WIDTHS",
    "Closed",
    "Event",
    "Hub",
    "Studio",
]

POLL_S = 0.25
PREVIEW_SCALE = 0.5  # as `nyeshc build --preview`
PREVIEW_PRESET = "veryfast"
PREVIEW_CRF = 23  # as `nyeshc watch`
KEEP_PREVIEWS = 2
TIMELINE_WIDTH = 1600  # the timeline picture's default width in pixels
TIMELINE_WIDTHS = (400, 4000)  # the widths a page may ask for
PREVIEW_NAME = re.compile(r"preview-[0-9a-f]{16}\.mp4")
_SETTLE_S = 0.05  # after a change is seen, let the editor finish writing


class Closed(Exception):
    """The hub was closed: the studio is stopping."""


@dataclass(frozen=True)
class Event:
    """One server-sent event: its number, kind and JSON data."""

    id: int
    kind: str
    data: str

    def encode(self) -> bytes:
        """The event on the wire (``text/event-stream``); the JSON is one line."""
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


class Hub:
    """The studio's events, numbered, for any number of pages.

    :meth:`publish` is called from the studio's threads; :meth:`wait` blocks (in a server
    thread) until events newer than the caller's last one exist. A page that fell behind by
    more than ``keep`` events gets the latest event of each kind instead (enough to redraw)."""

    def __init__(self, keep: int = 256) -> None:
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._latest: dict[str, Event] = {}
        self._next = 1
        self._keep = keep
        self._closed = False

    def publish(self, kind: str, data: Mapping[str, Any]) -> Event:
        with self._cond:
            event = Event(self._next, kind, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
            self._next += 1
            self._events.append(event)
            del self._events[:-self._keep]
            self._latest[kind] = event
            self._cond.notify_all()
            return event

    def latest(self) -> list[Event]:
        """The newest event of each kind, oldest first."""
        with self._cond:
            return sorted(self._latest.values(), key=lambda e: e.id)

    def last(self, kind: str) -> dict[str, Any] | None:
        """The data of the newest event of ``kind``."""
        with self._cond:
            event = self._latest.get(kind)
        return None if event is None else json.loads(event.data)

    def wait(self, after: int, timeout: float) -> list[Event]:
        """Events numbered above ``after``, waiting up to ``timeout`` s for one; ``[]`` when
        none came. Raises :class:`Closed` once the hub is closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise Closed()
                if self._next - 1 > after:
                    if not self._events or self._events[0].id > after + 1:
                        return sorted(self._latest.values(), key=lambda e: e.id)
                    return [e for e in self._events if e.id > after]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class Stopped(Exception):
    """The studio is stopping: the render in progress is abandoned."""


class _Collect:
    """A :class:`nyeshc.pipeline.Report` that keeps what the driver says for the page."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.found: list[Diagnostic] = []
        self.sources: dict[str, str] = {}

    def problem(self, text: str) -> None:
        self.lines.append(text)

    def detail(self, text: str) -> None:
        self.lines.append(text)

    def diagnostics(self, found: Sequence[Diagnostic], sources: Mapping[str, str]) -> None:
        self.found.extend(found)
        self.sources.update(sources)

    def as_json(self) -> list[dict[str, object]]:
        return [to_json(d, self.sources) for d in self.found]


class Studio:
    """The state behind one ``nyeshc studio`` page: the latest check, build progress and
    preview, published on :attr:`hub`.

    ``cache``, ``config``, ``profile``, ``allow_outside`` and ``jobs`` mean what they mean to
    ``nyeshc build``. :meth:`start` runs the watcher and the builder threads; :meth:`run_check`
    and :meth:`run_build` do one check or one build in the caller's thread (the threads call
    them; tests may too). ``log`` receives one line per finished build."""

    def __init__(self, script: str | os.PathLike[str], *, cache: str | os.PathLike[str] | None = None,
                 config: str | None = None, profile: str | None = None, allow_outside: bool = False,
                 jobs: int | None = None, scale: float = PREVIEW_SCALE, interval: float = POLL_S,
                 log: Callable[[str], None] | None = None) -> None:
        self.script_arg = str(script)
        self.script = Path(script).resolve()
        self.root = self.script.parent
        self.cache_dir = default_cache_dir(self.script, cache).resolve()
        self.preview_dir = self.cache_dir / "studio"
        self.config = config
        self.profile = profile
        self.allow_outside = allow_outside
        self.jobs = jobs
        self.scale = scale
        self.interval = interval
        self.log = log or (lambda line: None)
        self.hub = Hub()
        self._lock = threading.Lock()
        self._previews: list[str] = []  # file names in preview_dir, newest last
        self._plan: Any = None  # the current preview's plan
        self._timeline: dict[int, bytes] = {}  # its pictures by width
        self._checks = 0
        self._builds = 0
        self._pending = False
        self._building = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ----------------------------------------------------------------- what the server reads

    def preview_file(self, name: str) -> Path | None:
        """The preview called ``name`` if it is one this studio made and still keeps, is a
        plain file (not a symlink) and lies inside the cache folder; else ``None``."""
        if not PREVIEW_NAME.fullmatch(name):
            return None
        with self._lock:
            if name not in self._previews:
                return None
        path = self.preview_dir / name
        try:
            if path.is_symlink() or not path.is_file():
                return None
            path.resolve().relative_to(self.cache_dir)
        except (OSError, ValueError):
            return None
        return path

    def timeline_svg(self, width: int = TIMELINE_WIDTH) -> bytes | None:
        """The timeline picture of the current preview's plan (UTF-8 SVG) ``width`` pixels wide
        (rounded to a multiple of 100 within :data:`TIMELINE_WIDTHS`), if there is one. Each
        width is drawn once per preview."""
        low, high = TIMELINE_WIDTHS
        width = min(high, max(low, round(width / 100) * 100))
        with self._lock:
            plan, drawn = self._plan, self._timeline
        if plan is None:
            return None
        if width not in drawn:
            svg, _ = self._timeline_picture(plan, width)
            if svg is None:
                return None
            with self._lock:
                if self._plan is plan:
                    self._timeline[width] = svg
            return svg
        return drawn[width]

    def state(self) -> dict[str, Any]:
        """The latest ``check``, ``progress`` and ``preview`` events' data (``None`` before the
        first of each)."""
        return {kind: self.hub.last(kind) for kind in ("check", "progress", "preview")}

    # ----------------------------------------------------------------- checking

    def _inside(self, path: Path) -> bool:
        if self.allow_outside:
            return True
        try:
            path.resolve().relative_to(self.root)
        except (OSError, ValueError):
            return False
        return True

    def run_check(self) -> tuple[dict[str, Any], list[Path]]:
        """Check the script now and publish a ``check`` event; returns its data and the files
        to watch (the script, its includes as they stand now, ``nysh.toml`` and ``--config``).

        The event carries the diagnostics (file, 1-based line and column, severity, code,
        message, hints) and the text of each source file inside the project folder."""
        checked = pipeline.load_and_check(self.script_arg, allow_outside=self.allow_outside)
        sources = checked.loaded.sources
        files = [{"name": name, "text": text, "main": Path(checked.loaded.paths[name]).resolve() == self.script}
                 for name, text in sources.items()
                 if name in checked.loaded.paths and self._inside(checked.loaded.paths[name])]
        errors = sum(d.is_error for d in checked.diagnostics)
        with self._lock:
            self._checks += 1
            number = self._checks
        data = {"check": number, "ok": errors == 0, "errors": errors, "warnings": len(checked.diagnostics) - errors,
                "diagnostics": [to_json(d, sources) for d in checked.diagnostics], "files": files,
                "script": checked.loaded.film.path}
        self.hub.publish("check", data)
        watched = {self.script, *(Path(p).resolve() for p in checked.loaded.paths.values()),
                   self.root / "nysh.toml"}
        if self.config:
            watched.add(Path(self.config).resolve())
        return data, sorted(watched)

    # ----------------------------------------------------------------- building

    def _progress(self, build: int, stage: str, message: str, done: int = 0, total: int = 0,
                  **extra: Any) -> None:
        self.hub.publish("progress", {"build": build, "stage": stage, "message": message, "done": done,
                                      "total": total, **extra})

    def run_build(self) -> bool:
        """One preview build of the script as it is on disk now; ``True`` when a new preview
        was published. A script with errors, a failed job or a failed render publishes a
        ``progress`` event with stage ``failed`` (its lines and diagnostics) and keeps the
        previous preview."""
        with self._lock:
            self._builds += 1
            build = self._builds
        started = time.perf_counter()
        report = _Collect()
        self._progress(build, "planning", "checking and planning")
        try:
            name, prepared = self._build(build, report)
        except pipeline.Stop as stop:
            why = "the script has errors" if stop.code == 1 else "the build stopped"
            self._progress(build, "failed", "; ".join([why, *report.lines]), diagnostics=report.as_json())
            self.log(f"build {build}: {why}")
            return False
        except Stopped:
            self._progress(build, "stopped", "the studio is stopping")
            return False
        except Exception as exc:  # noqa: BLE001 - a render or disk failure is shown, the studio goes on
            self._progress(build, "failed", f"{type(exc).__name__}: {exc}")
            self.log(f"build {build}: failed: {exc}")
            return False
        timeline = prepared.plan.timeline
        took = time.perf_counter() - started
        svg, svg_error = self._timeline_picture(prepared.plan, TIMELINE_WIDTH)
        with self._lock:
            self._plan = prepared.plan if svg is not None else None
            self._timeline = {TIMELINE_WIDTH: svg} if svg is not None else {}
            if name in self._previews:
                self._previews.remove(name)
            self._previews.append(name)
            stale = self._previews[:-KEEP_PREVIEWS]
            del self._previews[:-KEEP_PREVIEWS]
        for old in stale:
            if old != name:
                (self.preview_dir / old).unlink(missing_ok=True)
        fps = float(timeline.fps)
        self.hub.publish("preview", {
            "build": build, "url": f"/preview/{name}", "timeline_url": f"/timeline.svg?build={build}",
            "timeline_error": svg_error, "seconds": timeline.frames / fps, "fps": fps,
            "width": timeline.width, "height": timeline.height, "took": round(took, 3),
        })
        self._progress(build, "done", f"preview ready in {took:.1f} s", done=timeline.frames, total=timeline.frames,
                       diagnostics=report.as_json())
        self.log(f"build {build}: preview ready in {took:.1f} s ({timeline.width}x{timeline.height})")
        return True

    def _build(self, build: int, report: _Collect) -> tuple[str, Any]:
        from nyeshc.render import render_film
        from nyeshc.render.encoder import film_metadata
        from nyeshc.store.cache import Cache

        prepared = pipeline.prepare(self.script_arg, report, config=self.config, profile=self.profile,
                                    allow_outside=self.allow_outside, cache=str(self.cache_dir),
                                    canvas_scale=self.scale, jobs=self.jobs)
        plan = prepared.plan
        timeline = plan.timeline
        if timeline.frames == 0:
            report.problem("nothing to render: the film has no scene that lasts any time")
            raise pipeline.Stop(1)
        cache = Cache(self.cache_dir)
        todo = [job.key for job in plan.jobs if not cache.has(job.key)]
        self._progress(build, "jobs", f"{len(todo)} of {len(plan.jobs)} jobs to run", 0, len(todo))
        watching = threading.Event()

        def count_jobs() -> None:  # the jobs' results appear in the cache as they finish
            last = -1
            while not watching.wait(0.3):
                done = sum(cache.has(k) for k in todo)
                if done != last:
                    last = done
                    self._progress(build, "jobs", f"{done} of {len(todo)} jobs done", done, len(todo))

        counter = threading.Thread(target=count_jobs, name="nyeshc-studio-jobs", daemon=True)
        if todo:
            counter.start()
        try:
            artifacts = pipeline.run_jobs(prepared, plan, report, progress=False, jobs=self.jobs)
        finally:
            watching.set()
            if todo:
                counter.join()
        if todo:
            self._progress(build, "jobs", f"{len(todo)} of {len(todo)} jobs done", len(todo), len(todo))
        self.preview_dir.mkdir(parents=True, exist_ok=True)
        out = self.preview_dir / f"render-{os.getpid()}-{threading.get_ident()}.mp4"
        shown = [0.0]

        def rendered(done: int, total: int) -> None:
            if self._stop.is_set():
                raise Stopped()
            now = time.monotonic()
            if done == total or now - shown[0] >= 0.1:
                shown[0] = now
                self._progress(build, "render", f"rendering frame {done} of {total}", done, total)

        self._progress(build, "render", "rendering", 0, timeline.frames)
        try:
            with artifacts:
                render_film(timeline, artifacts.cache, out, preset=PREVIEW_PRESET, crf=PREVIEW_CRF,
                            progress=rendered, metadata=film_metadata(prepared.checked.loaded.film))
            digest = hashlib.sha256()
            with open(out, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            name = f"preview-{digest.hexdigest()[:16]}.mp4"
            os.replace(out, self.preview_dir / name)
        finally:
            out.unlink(missing_ok=True)
        return name, prepared

    def _timeline_picture(self, plan: Any, width: int) -> tuple[bytes | None, str | None]:
        from nyeshc.export.timeline import timeline_svg

        try:
            return timeline_svg(plan, width=width).encode("utf-8"), None
        except Exception as exc:  # noqa: BLE001 - the preview is shown without its timeline, and why
            return None, f"{type(exc).__name__}: {exc}"

    # ----------------------------------------------------------------- the threads

    def request_build(self) -> None:
        """Ask for a build; one already waiting absorbs it (the newest save supersedes)."""
        with self._cond:
            queued = self._pending and self._building
            self._pending = True
            self._cond.notify_all()
        if queued:
            self.hub.publish("queued", {"message": "a newer save waits for the running build"})

    def _cancel_build(self) -> None:
        with self._cond:
            self._pending = False

    def _check_and_request(self) -> list[Path]:
        data, files = self.run_check()
        if data["ok"]:
            self.request_build()
        else:
            self._cancel_build()
            self._progress(0, "waiting", f"the script has {data['errors']} error{'s' * (data['errors'] != 1)}; "
                                         "the last good preview is kept")
        return files

    def _check_safely(self, files: list[Path]) -> list[Path]:
        try:
            return self._check_and_request()
        except Exception as exc:  # noqa: BLE001 - a check that crashes is shown; watching goes on
            self._progress(0, "failed", f"the check failed: {type(exc).__name__}: {exc}")
            return files

    def _watch(self) -> None:
        files = self._check_safely([self.script, self.root / "nysh.toml"])
        seen = mtimes(files)
        while not self._stop.wait(self.interval):
            now = mtimes(files)
            if now == seen:
                continue
            if self._stop.wait(_SETTLE_S):
                return
            now = mtimes(files)
            files = self._check_safely(files)
            fresh = mtimes(files)
            # a file saved again while it was being checked keeps its old time here: seen again
            seen = {f: now.get(f, fresh[f]) for f in files}

    def _builder(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                self._pending = False
                self._building = True
            try:
                self.run_build()
            finally:
                with self._cond:
                    self._building = False

    def start(self) -> None:
        """Check now, then watch and build in two daemon threads until :meth:`stop`."""
        for target, name in ((self._watch, "nyeshc-studio-watch"), (self._builder, "nyeshc-studio-build")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching and building: a render in progress is abandoned (its temporary file
        removed), running jobs are waited for up to ``timeout`` s; the event streams end."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self.hub.close()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
