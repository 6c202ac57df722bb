"""What the language server knows about a script, without any protocol: pure functions over
offsets (0-based characters, as :class:`~nyeshc.diagnostics.Span`), so they are testable
without a client. :mod:`nyeshc.lsp.server` converts to and from LSP's UTF-16 positions.

This file is long (about 700 lines) on purpose: each editor feature (symbols and rename, hover
with a scene's timing and a definition's picture, the outline, semantic tokens, completion,
previews) is a method or function over the same analysed script and its offsets, and they share
the lookups of names, blocks and spans.

An :class:`Analysis` is one script loaded through a :class:`~nyeshc.world.World` whose
overlays hold the editor's unsaved buffers, checked by the same rules as ``nyeshc check``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from nyeshc import ir, schema
from nyeshc.check import Context, run
from nyeshc.diagnostics import Diagnostic, LineIndex, Span
from nyeshc.syntax import Loaded, load
from nyeshc.uptodate import default_cache_dir
from nyeshc.world import World


class FastLineIndex(LineIndex):
    """:class:`LineIndex` built with ``str.find`` instead of a Python loop over every character
    (about 5 times faster on a 2,000-line script; it is built for each analysis that has a
    diagnostic to convert, on the path from an edit to its diagnostics)."""

    def __init__(self, text: str) -> None:  # noqa: D107 - same index, found faster
        self.text = text
        starts = [0]
        find, append = text.find, starts.append
        i = find("\n")
        while i >= 0:
            append(i + 1)
            i = find("\n", i + 1)
        self.starts = starts


#: ``(script path, checked film) -> Timeline`` (or ``None``); injected by ``nyeshc lsp``
Planner = Callable[[Path, ir.Film], Any]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")


@dataclass
class Symbol:
    """A definition and every place that names it."""

    name: str
    kind: str  # alphabet, look, character, music, unknown
    definition: ir.Definition | None
    spans: list[Span] = field(default_factory=list)  # definition name first (when defined), then uses


@dataclass
class Analysis:
    path: Path  # the main script
    loaded: Loaded
    world: World
    ctx: Context
    diagnostics: list[Diagnostic]
    _indexes: dict[str, LineIndex] = field(default_factory=dict)
    _timeline: Any = None
    _plan: Any = None  # the whole plan when the planner gives one (jobs: for cached previews)
    planned: bool = False
    cache_dir: Path | None = None  # the artifact cache (default: .nyeshc-cache beside the script)

    # ------------------------------------------------------------------ files

    @property
    def main_file(self) -> str:
        return self.loaded.film.path

    def file_for(self, path: Path) -> str | None:
        """The span file name of ``path`` in this analysis (``None``: not part of it)."""
        want = Path(path).resolve()
        for name, p in self.loaded.paths.items():
            if p == want:
                return name
        return None

    def path_of(self, file: str) -> Path | None:
        return self.loaded.paths.get(file)

    def index(self, file: str) -> LineIndex:
        if file not in self._indexes:
            self._indexes[file] = FastLineIndex(self.loaded.sources.get(file, ""))
        return self._indexes[file]

    def text(self, span: Span) -> str:
        return self.loaded.sources.get(span.file, "")[span.start : span.end]

    # ------------------------------------------------------------------ names

    def symbols(self) -> dict[str, Symbol]:
        out: dict[str, Symbol] = {}
        for d in self.loaded.film.definitions:
            if d.name not in out:
                out[d.name] = Symbol(d.name, d.kind, d, [d.name_span])
            else:
                out[d.name].spans.append(d.name_span)
        for ref in self.ctx.uses.refs:
            sym = out.setdefault(ref.word, Symbol(ref.word, ref.kind, None))
            if ref.span not in sym.spans:
                sym.spans.append(ref.span)
        return out

    def symbol_at(self, file: str, offset: int) -> Symbol | None:
        for sym in self.symbols().values():
            for s in sym.spans:
                if s.file == file and s.start <= offset <= s.end and s.end > s.start:
                    return sym
        return None

    def rename(self, file: str, offset: int, new_name: str) -> dict[str, list[tuple[Span, str]]] | None:
        """Edits by span file that rename the symbol at ``offset``; ``None`` when nothing is there."""
        sym = self.symbol_at(file, offset)
        if sym is None:
            return None
        if not NAME.match(new_name):
            raise ValueError(f"{new_name!r} is not a name (letters, digits, _ and -, not starting with a digit)")
        edits: dict[str, list[tuple[Span, str]]] = {}
        for s in sym.spans:
            edits.setdefault(s.file, []).append((s, new_name))
        return edits

    # ------------------------------------------------------------------ scenes and the timeline

    def scene_at(self, file: str, offset: int) -> ir.Scene | ir.Credits | None:
        if file != self.main_file:
            return None
        for item in self.loaded.film.body:
            if isinstance(item, (ir.Scene, ir.Credits)) and item.span.start <= offset <= item.span.end:
                return item
        return None

    def timeline(self, planner: Planner | None) -> Any:
        """The planned timeline (once per analysis), only for an error-free script."""
        if not self.planned:
            self.planned = True
            if planner is not None and not any(d.is_error for d in self.diagnostics):
                result = planner(self.path, self.loaded.film)
                if hasattr(result, "jobs") and hasattr(result, "timeline"):  # a Plan
                    self._plan, self._timeline = result, result.timeline
                else:
                    self._timeline = result
        return self._timeline

    def plan(self, planner: Planner | None) -> Any:
        """The film's plan (its jobs and their keys), when the planner gives one; else ``None``."""
        self.timeline(planner)
        return self._plan

    def track_of(self, item: ir.Scene | ir.Credits, timeline: Any) -> Any:
        items = [i for i in self.loaded.film.body if isinstance(i, (ir.Scene, ir.Credits))]
        if timeline is None or len(items) != len(timeline.scenes):
            return None
        for i, other in enumerate(items):
            if other is item:
                return timeline.scenes[i]
        return None

    # ------------------------------------------------------------------ hover

    def hover(self, file: str, offset: int, planner: Planner | None = None) -> tuple[str, Span] | None:
        sym = self.symbol_at(file, offset)
        if sym is not None:
            span = next(s for s in sym.spans if s.file == file and s.start <= offset <= s.end)
            return self.describe(sym, planner), span
        prop = self._property_at(file, offset)
        if prop is not None:
            p, spec = prop
            return f"**{p.key}**: {spec.doc}\n\nexpects {spec.expected}", p.key_span
        item = self.scene_at(file, offset)
        if isinstance(item, ir.Scene):
            grid = self._grid_time_at(item, offset)
            if grid is not None:
                return self.describe_grid_time(item, grid, planner), grid.span
            for x in item.items:
                if isinstance(x, ir.ActionLine) and x.span.start <= offset <= x.span.end:
                    return self.describe_action(x), x.span
        if item is not None:
            return self.describe_scene(item, planner), item.span
        return None

    @staticmethod
    def _grid_time_at(scene: ir.Scene, offset: int) -> ir.GridTime | None:
        for node in _nodes(scene):
            if isinstance(node, ir.GridTime) and node.span.start <= offset <= node.span.end:
                return node
        return None

    def describe_grid_time(self, scene: ir.Scene, v: ir.GridTime, planner: Planner | None) -> str:
        """``bar 5``: where it falls, in the scene and in the film (from the planned timeline's
        grid), or what it counts on."""
        n = int(v.count)
        what = f"**{v.unit} {n}**" if v.point else f"**{n} {v.unit}{'s' * (n != 1)}**"
        try:
            plan = self.plan(planner)
        except Exception as exc:  # a planner problem never breaks the hover
            return f"{what}\n\n(timing unavailable: {type(exc).__name__}: {exc})"
        if plan is None or not getattr(plan, "grids", None):
            return f"{what} — counted on the scene's music (fix the errors to see when)"
        from nyeshc.grid import Grid

        cue = next((d.value for d in scene.directives if d.key == "music"), None)
        name = cue.word if isinstance(cue, ir.Word) else cue.text if isinstance(cue, ir.Str) else None
        data = plan.grids.get(name) if name else None
        if data is None:
            st = self.loaded.film.header.get("soundtrack")
            name = st.value.word if st is not None and isinstance(st.value, ir.Word) else None
            data = plan.grids.get(name) if name else None
        if data is None:
            return f"{what} — counted on the scene's music"
        g = Grid(Fraction(data["tempo"]), tuple(data["meter"]), Fraction(data["first"]),  # type: ignore[arg-type]
                 tuple(Fraction(b) for b in data["beats"]), data["downbeat"], data["confidence"], data["source"])
        if v.point:
            t = g.bar_time(n) if v.unit == "bar" else g.beat_time(n - 1)
            where = f"at {clock(t)} of {name}"
        else:
            t = v.count * (g.meter[0] if v.unit == "bar" else 1) * g.beat_seconds
            where = f"lasts {float(t):.2f} s"
        return f"{what} — {where} ({float(g.tempo):g} bpm, {g.meter[0]}/{g.meter[1]})"

    def describe_action(self, line: ir.ActionLine) -> str:
        """An action line's place in the flow: its reading time (or its ``for``), and whether it
        is drawn."""
        from nyeshc.resolve.timeline import reading_time, wpm_value

        header = self.loaded.film.header
        reading = header.get("reading")
        wpm = (wpm_value(reading.value) if reading is not None else None) or schema.DEFAULT_READING_WPM
        words = len(line.text.text.split())
        fixed = next((o.value for o in line.options if o.key == "for" and isinstance(o.value, ir.Time)), None)
        if fixed is not None:
            time = f"lasts {fixed.raw or fixed.amount} (its `for`)"
        else:
            secs = reading_time(line.text.text, wpm)
            time = f"reads in {float(secs):.1f} s ({words} word{'s' * (words != 1)} at {float(wpm):g} wpm)"
        action = header.get("action")
        drawn = any(o.key == "show" for o in line.options) or (
            action is not None and isinstance(action.value, ir.Word) and action.value.word == "show")
        return f"**action line** — {time}, then the gap\n\n" + (
            "drawn on screen" if drawn else "not drawn (add `, show`, or `action: show` on the title page)")

    def describe(self, sym: Symbol, planner: Planner | None = None) -> str:
        uses = sum(1 for s in sym.spans if sym.definition is None or s != sym.definition.name_span)
        if sym.definition is None:
            return f"**{sym.name}** — not defined ({uses} use{'s' * (uses != 1)})"
        d = sym.definition
        where = self.path_of(d.span.file)
        body = self.text(d.span).rstrip()
        lines = body.splitlines()
        if len(lines) > 12:
            body = "\n".join(lines[:12] + ["    …"])
        out = [f"**{d.kind} {d.name}** — used {uses} time{'s' * (uses != 1)}", "", "```nysh", body, "```"]
        if where is not None and d.span.file != self.main_file:
            out.append(f"defined in `{d.span.file}`")
        picture = self.picture(d, planner)
        if picture:
            out += ["", picture]
        return "\n".join(out)

    def picture(self, d: ir.Definition, planner: Planner | None) -> str | None:
        """Markdown for a look's or a portrait's picture: the file it names, else its rendering
        from the artifact cache (a PNG preview written beside the cache's objects, keyed by the
        artifact's key), else a line saying it is not rendered yet. Reads the cache only:
        nothing is ever rendered here."""
        what = {"look": "look", "character": "portrait"}.get(d.kind)
        if what is None:
            return None
        image = self.image_of(d)
        if image is not None:
            return f"![{d.kind} {d.name}]({image.as_uri()})"
        try:
            plan = self.plan(planner)
        except Exception as exc:  # a planner problem never breaks the hover
            return f"({what} preview unavailable: {type(exc).__name__}: {exc})"
        if plan is None:
            if any(x.is_error for x in self.diagnostics):
                return f"(fix the errors to see the {what} from the cache)"
            return None
        job = preview_job(plan, d)
        if job is None:
            return f"({what} not used in the film: nothing to render)" if d.kind == "look" else None
        cache = default_cache_dir(self.path, self.cache_dir)
        try:
            png = cached_preview(cache, job.key)
        except Exception as exc:  # an unreadable cache entry is reported, never raised
            return f"({what} preview unavailable: {type(exc).__name__}: {exc})"
        if png is None:
            return f"*{what} not rendered yet — build the film to see it*"
        return f"![{d.kind} {d.name}]({png.as_uri()})"

    def image_of(self, d: ir.Definition) -> Path | None:
        """The picture of a look or a portrait when it is given as a file."""
        key = {"look": "image", "character": "portrait"}.get(d.kind)
        if key is None:
            return None
        for p in d.props:
            if p.key == key and isinstance(p.value, ir.Str):
                base = self.path_of(d.span.file) or self.path
                path = (base.parent / p.value.text).resolve()
                return path if path.is_file() else None
        return None

    def describe_scene(self, item: ir.Scene | ir.Credits, planner: Planner | None) -> str:
        if isinstance(item, ir.Scene):
            title = self.text(item.heading.span).strip().rstrip(":")
            beats = len(item.beats)
            head = f"**{title}** — {beats} beat{'s' * (beats != 1)}, {len(item.directives)} directive" \
                   f"{'s' * (len(item.directives) != 1)}"
        else:
            head = "**CREDITS**"
        try:
            timeline = self.timeline(planner)
        except Exception as exc:  # a planner problem never breaks the hover
            return f"{head}\n\n(timeline unavailable: {type(exc).__name__}: {exc})"
        track = self.track_of(item, timeline)
        if track is None:
            why = "fix the errors to see the timeline" if any(d.is_error for d in self.diagnostics) \
                else "timeline unavailable"
            return f"{head}\n\n({why})"
        fps = timeline.fps
        start, end = Fraction(track.start) / fps, Fraction(track.end) / fps
        return (f"{head}\n\non the timeline **{clock(start)} – {clock(end)}** "
                f"({float(end - start):.2f} s; frames {track.start}–{track.end} at {float(fps):g} fps)")

    def _property_at(self, file: str, offset: int) -> tuple[ir.Property, schema.PropertySpec] | None:
        film = self.loaded.film

        def hit(p: ir.Property) -> bool:
            s = p.key_span
            return s.file == file and s.start <= offset <= s.end and s.end > s.start

        for p in film.header.fields:
            if hit(p) and p.key in schema.HEADER:
                return p, schema.HEADER[p.key]
        for d in film.definitions:
            specs = schema.DEFINITIONS.get(d.kind, {})  # type: ignore[call-overload]
            for p in d.props:
                if hit(p) and p.key in specs:
                    return p, specs[p.key]
        for scene in film.scenes:
            for p in scene.directives:
                if hit(p) and p.key in schema.DIRECTIVES:
                    return p, schema.DIRECTIVES[p.key]
        return None

    # ------------------------------------------------------------------ outline

    def outline(self, file: str) -> list[tuple[str, str, Span, Span, list[tuple[str, str, Span, Span]]]]:
        """``(name, kind, span, selection span, children)`` for the file's definitions and scenes."""
        out: list[tuple[str, str, Span, Span, list[tuple[str, str, Span, Span]]]] = []
        for d in self.loaded.film.definitions:
            if d.span.file == file:
                out.append((d.name, d.kind, d.span, d.name_span, []))
        if file == self.main_file:
            for item in self.loaded.film.body:
                if isinstance(item, ir.Scene):
                    title = self.text(item.heading.span).strip().rstrip(":") or "scene"
                    kids = [(b.character, "beat", b.span, b.name_span) for b in item.beats]
                    out.append((title, "scene", item.span, item.heading.span, kids))
                elif isinstance(item, ir.Transition):
                    out.append((item.kind, "transition", item.span, item.span, []))
                elif isinstance(item, ir.Credits):
                    out.append(("CREDITS", "credits", item.span, item.span, []))
        return out

    # ------------------------------------------------------------------ semantic tokens

    def tokens(self, file: str) -> list[tuple[int, int, str, bool]]:
        """``(start, end, type, declaration)`` in this file, sorted, not overlapping."""
        kinds = {name: d.kind for name, d in self.ctx.definitions.items()}
        out: list[tuple[int, int, str, bool]] = []

        def add(span: Span, kind: str, decl: bool = False) -> None:
            if span.file == file and span.end > span.start:
                out.append((span.start, span.end, kind, decl))

        for d in self.loaded.film.definitions:
            if d.span.file == file:
                kw = d.keyword if isinstance(d, ir.UnknownDef) else d.kind
                add(Span(file, d.span.start, d.span.start + len(kw)), "keyword")
                add(d.name_span, TOKEN_OF_KIND.get(d.kind, "variable"), True)
        for ref in self.ctx.uses.refs:
            add(ref.span, TOKEN_OF_KIND.get(kinds.get(ref.word, ref.kind), "variable"))
        for node in _nodes(self.loaded.film):
            if isinstance(node, ir.Property):
                add(node.key_span, "property")
            elif isinstance(node, ir.Option):
                add(node.key_span, "parameter")
            elif isinstance(node, ir.Str):
                add(node.span, "string")
            elif isinstance(node, (ir.Num, ir.Time, ir.Gain, ir.Percent, ir.Rate, ir.Size, ir.Colour)):
                add(node.span, "number")
            elif isinstance(node, ir.Heading):
                add(node.span, "namespace")
            elif isinstance(node, ir.Transition):
                add(Span(node.span.file, node.span.start, node.span.start + len(node.kind) + 1), "keyword")
            elif isinstance(node, ir.Note):
                add(node.span, "comment")
        out.sort()
        clean: list[tuple[int, int, str, bool]] = []
        for tok in out:
            if clean and tok[0] < clean[-1][1]:
                continue
            clean.append(tok)
        return clean


PREVIEW_SIZE = 256  # the longest side of a hover preview, in pixels


def preview_job(plan: Any, d: ir.Definition) -> Any:
    """The job whose artifact shows definition ``d``: a character's portrait (its last job with a
    ``portrait`` output), a look's image (its own ``image`` job, else the first ``image`` job
    that reads one of its jobs, e.g. the render of the first backdrop that uses it)."""
    if d.kind == "character":
        name = f"character {d.name} / portrait"
        found = [j for j in plan.jobs if j.name == name and j.output == "portrait"]
        return found[-1] if found else None
    if d.kind == "look":
        own = [j for j in plan.jobs if j.name == f"look {d.name}"]
        for j in own:
            if j.output == "image":
                return j
        keys = {j.key for j in own}
        for j in plan.jobs:
            if j.output == "image" and keys.intersection(j.inputs):
                return j
    return None


def cached_preview(cache_dir: Path, key: str) -> Path | None:
    """A PNG of the cached artifact ``key`` (a portrait or an image), at most ``PREVIEW_SIZE``
    pixels on a side, at ``cache_dir/previews/<key>.png``; ``None`` when the cache does not
    hold it. Written once (to a temporary name, then renamed: a reader never sees half a file);
    the key names the content, so an existing preview is never out of date."""
    from nyeshc.store.cache import Cache  # numpy: only when a hover needs it

    out = cache_dir / "previews" / f"{key}.png"
    if out.is_file():
        return out
    cache = Cache(cache_dir)
    if not cache.has(key):
        return None
    artifact = cache.get(key, mmap=False)
    if artifact is None:  # corrupt: the cache discarded it
        return None
    import numpy as np
    from PIL import Image

    pixels = np.asarray(getattr(artifact, "image", artifact))
    if pixels.ndim == 4:  # frames: the first
        pixels = pixels[0]
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels.astype(np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    picture.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            picture.save(fh, format="PNG")
        os.replace(tmp_name, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return out


TOKEN_TYPES = ["keyword", "class", "type", "enum", "event", "variable", "property", "parameter", "string",
               "number", "namespace", "comment"]
TOKEN_MODIFIERS = ["declaration"]
TOKEN_OF_KIND = {"character": "class", "look": "type", "alphabet": "enum", "music": "event"}


def _nodes(obj: Any) -> Iterator[Any]:
    if isinstance(obj, Span) or obj is None:
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        yield obj
        for f in dataclasses.fields(obj):
            if f.name == "span" or f.name.endswith("_span"):
                continue
            yield from _nodes(getattr(obj, f.name))
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _nodes(x)


def clock(seconds: Fraction) -> str:
    """``1:02.50``"""
    total = float(seconds)
    minutes, secs = divmod(total, 60)
    return f"{int(minutes)}:{secs:05.2f}"


def analyse(path: Path, overlays: dict[str, str] | None = None, *, allow_outside: bool = False) -> Analysis:
    """Load ``path`` (unsaved text from ``overlays``, keyed by resolved path) and check it."""
    path = Path(path).resolve()
    world = World.for_script(path, allow_outside=allow_outside)
    world.overlays = dict(overlays or {})
    loaded = load(path, world)
    ctx = Context(loaded.film, loaded.sources, loaded.paths, world)
    diagnostics = list(loaded.diagnostics)
    if loaded.sources:
        diagnostics.extend(run(ctx))
    diagnostics.sort(key=lambda d: (d.span.file != loaded.film.path, d.span.file, d.span.start, d.code))
    return Analysis(path, loaded, world, ctx, diagnostics)


# --------------------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # character look music alphabet keyword option transition property file folder snippet
    detail: str = ""
    insert: str | None = None


_KEY_VALUE = re.compile(r"^(\s*)([A-Za-z_][\w ]*?)\s*:\s*([^,]*)$")
_OPEN_QUOTE = re.compile(r'"([^"]*)$')
_BLOCK = re.compile(r"^(alphabet|look|character|music|SCENE\b|INT\.|EXT\.|CREDITS)")


def _names(analysis: Analysis | None, kind: str) -> list[Completion]:
    if analysis is None:
        return []
    return [Completion(n, kind, f"{kind} (defined in {d.span.file})")
            for n, d in analysis.ctx.definitions.items() if d.kind == kind]


def _block_of(lines: list[str], line: int) -> str:
    """The top-level block the line is in: a definition kind, ``scene``, ``credits`` or ``top``."""
    for i in range(line - 1, -1, -1):
        text = lines[i]
        if not text.strip() or text[0] in " \t":
            continue
        m = _BLOCK.match(text)
        if not m:
            return "top"
        word = m.group(1)
        if word in ("SCENE", "INT.", "EXT."):
            return "scene"
        return "credits" if word == "CREDITS" else word
    return "top"


def _spec_for(block: str, key: str) -> schema.PropertySpec | None:
    if block == "top":
        return schema.HEADER.get(key)
    if block == "scene":
        return schema.DIRECTIVES.get(key)
    return schema.DEFINITIONS.get(block, {}).get(key)  # type: ignore[call-overload]


def _paths(folder: Path, partial: str, suffixes: tuple[str, ...] = ()) -> list[Completion]:
    sub, _, _ = partial.rpartition("/")
    base = (folder / sub) if sub else folder
    out: list[Completion] = []
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.name.startswith("."):
            continue
        rel = f"{sub}/{e.name}" if sub else e.name
        if e.is_dir():
            out.append(Completion(rel + "/", "folder"))
        elif not suffixes or e.name.lower().endswith(suffixes):
            out.append(Completion(rel, "file"))
    return out[:500]


_ASSET_SUFFIXES = {"image": (".png", ".jpg", ".jpeg", ".webp"), "audio": (".wav", ".mp3", ".flac", ".ogg"),
                   "video": (".mp4", ".mov", ".m4v", ".webm")}


def _extensions() -> list[Completion]:
    """What may follow a cue's name: an extension, or ``^`` (dual dialogue)."""
    docs = {"V.O.": "voice over: heard, not seen", "O.S.": "off screen: heard, not seen",
            "O.C.": "off camera: heard, not seen", "OFF": "off: heard, not seen",
            "CONT'D": "continued: changes nothing"}
    out = [Completion(f"({k})", "keyword", doc, f"({k})") for k, doc in docs.items()]
    out.append(Completion("^", "keyword", "dual dialogue: starts with the beat before", "^"))
    return out


def complete(text: str, line: int, column: int, folder: Path, analysis: Analysis | None) -> list[Completion]:
    """Completions at ``(line, column)`` (characters, not UTF-16) of ``text``, whose script is
    in ``folder``; ``analysis`` gives the names (it may be one edit behind)."""
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    before = current[:column]
    indent = len(before) - len(before.lstrip(" "))
    block = _block_of(lines, line) if indent else "top"

    # a path being typed inside quotes
    quote = _OPEN_QUOTE.search(before)
    if quote and before.count('"') % 2 == 1:
        m = _KEY_VALUE.match(before)
        suffixes: tuple[str, ...] = ()
        if m:
            spec = _spec_for(block, m.group(2).strip())
            if spec is not None:
                kinds = {f.asset for f in spec.forms if f.asset}
                suffixes = tuple(s for k in kinds for s in _ASSET_SUFFIXES.get(k or "", ()))
        if before.lstrip().startswith("include"):
            suffixes = (".nysh",)
        if m is None and not before.lstrip().startswith("include"):
            return []  # dialogue: nothing to complete
        return _paths(folder, quote.group(1), suffixes)

    # options after a comma
    if "," in before:
        options: dict[str, str] = {}
        if ":" in before.split(",")[0] and indent:
            key = before.split(":")[0].strip()
            spec = _spec_for(block, key)
            if spec is not None:
                options = {n: o.doc for n, o in spec.all_options.items()}
                options.update({o.name: o.doc for o in spec.bare if o.value == "flag"})
        elif block == "scene":
            options = {n: o.doc for n, o in schema.BEAT_OPTIONS.items()}
            if before.lstrip().startswith("sings"):
                options = {o.name: o.doc for o in schema.ACTIONS["sings"].options}
        if not options:
            options = {n: n for n in schema.option_words()}
        last = before.split(",")[-1].strip()
        if last in ("at", "for"):  # a time: in seconds, or on the music's grid
            grid = ["bar ${1:1}", "beat ${1:1}"] if last == "at" else ["${1:2} bars", "${1:4} beats"]
            out = [Completion(g.split()[0] if last == "at" else g.split()[1], "keyword",
                              "on the scene's music (its grid)", g) for g in grid]
            if last == "at":
                out.append(Completion("flow", "keyword", "where the scene's flow is", "flow"))
            return out
        return [Completion(n, "option", doc) for n, doc in sorted(options.items())]

    # a value after "key:"
    m = _KEY_VALUE.match(before)
    if m and indent == len(m.group(1)):
        key = m.group(2).strip()
        spec = _spec_for(block, key)
        out: list[Completion] = []
        if spec is not None:
            for f in spec.forms:
                if f.kind == "keyword" and f.word:
                    out.append(Completion(f.word, "keyword", f.describe))
                elif f.kind == "ref" and f.refers:
                    out += _names(analysis, f.refers)
                elif f.kind == "styled" or (block == "scene" and key == "caption"):
                    out += _names(analysis, "alphabet")
                elif f.kind == "morph":
                    out.append(Completion("morph", "keyword", f.describe))
                elif f.kind == "blend":
                    out.append(Completion("blend", "keyword", f.describe, "blend(seed ${1:5}, seed ${2:23}, ${3:0.35})"))
        seen: set[str] = set()
        return [c for c in out if not (c.label in seen or seen.add(c.label))]  # type: ignore[func-returns-value]

    # the start of a line
    word_start = before.strip()
    if not indent:
        out = [Completion(k, "keyword", f"define {k}", f"{k} ${{1:NAME}}:") for k in schema.DEFINITION_KINDS]
        out.append(Completion("SCENE", "keyword", "a scene", 'SCENE ${1:1} "${2:title}":'))
        out.append(Completion("CREDITS", "keyword", "the credits"))
        out.append(Completion("include", "keyword", "include another script's definitions", 'include "${1}"'))
        out += [Completion(t, "transition", s.doc, f"{t}: ") for t, s in schema.TRANSITIONS.items()]
        out += [Completion(t, "transition", f"a screenwriter's spelling of {c}", f"{t}: " if not t.endswith(".") else t)
                for t, c in schema.TRANSITION_SYNONYMS.items()]
        out += [Completion(k, "property", s.doc, f"{k}: ") for k, s in schema.HEADER.items()]
        return out
    if block == "scene":
        if indent < 8 and before.endswith(" ") and re.fullmatch(r"[A-Z_][A-Z0-9_-]*", word_start) \
                and word_start not in schema.DIRECTIVES:
            return _extensions()  # a cue's name, then a space: its extension or ^
        if " " in word_start:
            if word_start.startswith("sings"):
                return _names(analysis, "music")
            return []
        if indent >= 8:  # inside a beat
            return [Completion("sings", "keyword", schema.ACTIONS["sings"].doc, "sings ")] + _names(analysis, "music")
        out = _names(analysis, "character")
        out += [Completion(k, "property", s.doc, f"{k}: ") for k, s in schema.DIRECTIVES.items()]
        return out
    specs = schema.DEFINITIONS.get(block, {})  # type: ignore[call-overload]
    return [Completion(k, "property", s.doc, f"{k}: ") for k, s in specs.items()]
