"""The film's context: its canvas and frame rate, its seed, and the outside world's facts.

:class:`Context` is made once per film from the title page and holds the injected
:class:`~nyeshc.resolve.services.Services` with everything they report cached (each backend's
id and version, media durations, music grids), the asset paths resolved relative to the file
that wrote them, and the exact-time conversions to frames and samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from nyeshc import ir, schema
from nyeshc.diagnostics import warning
from nyeshc.grid import Grid
from nyeshc.media import SAMPLE_RATE
from nyeshc.resolve import ledger
from nyeshc.resolve.services import BackendInfo, Services
from nyeshc.resolve.definitions import Definitions, definitions
from nyeshc.resolve.values import half_up

LOW_CONFIDENCE = 0.5  # a detected grid below this is W705


@dataclass
class Context:
    """The film, its canvas and the injected services, shared by layout and graph."""

    film: ir.Film
    services: Services
    root: Path  # the main script's folder
    width: int = schema.DEFAULT_CANVAS[0]
    height: int = schema.DEFAULT_CANVAS[1]
    fps: Fraction = schema.DEFAULT_FPS
    film_seed: int = 0
    defs: Definitions = field(default_factory=Definitions.none)  # the film's, once the rate is known
    _backends: dict[str, BackendInfo] = field(default_factory=dict)
    _durations: dict[str, Fraction | None] = field(default_factory=dict)
    _grids: dict[str, Grid | None] = field(default_factory=dict)

    @classmethod
    def make(cls, film: ir.Film, services: Services, root: Path | None = None) -> Context:
        root = Path(root) if root is not None else Path(film.path).resolve().parent
        ctx = cls(film, services, root)
        canvas = film.header.get("canvas")
        ledger.mark("rendered", canvas)
        for f in film.header.fields:
            if f.key not in ("canvas", "seed", "subtitles", "duck", "soundtrack"):
                ledger.mark("inert", f)  # title-page text: the file's metadata and exports
        if canvas is not None:
            if isinstance(canvas.value, ir.Size):
                ctx.width, ctx.height = canvas.value.width, canvas.value.height
            elif isinstance(canvas.value, ir.Rate):
                ctx.fps = canvas.value.fps
            for o in canvas.options:
                if isinstance(o.value, ir.Rate) and o.value.fps > 0:
                    ctx.fps = o.value.fps
                elif isinstance(o.value, ir.Size):
                    ctx.width, ctx.height = o.value.width, o.value.height
        ctx.defs = definitions(film, ctx.fps)
        seed = film.header.get("seed")
        if seed is not None and isinstance(seed.value, ir.Num):
            ctx.film_seed = int(seed.value.value)
            ledger.mark("rendered", seed)
        return ctx

    def backend(self, modality: str) -> BackendInfo:
        if modality not in self._backends:
            self._backends[modality] = self.services.backend(modality)
        return self._backends[modality]

    @property
    def backends(self) -> dict[str, BackendInfo]:
        return dict(self._backends)

    # ------------------------------------------------------------------ assets

    def asset(self, path: ir.Str) -> str:
        """The absolute path of a file a script names: relative to the file that wrote it (an
        included file's own folder), else to :attr:`root`. Job params carry this absolute path
        (the executor opens it as is); the file's SHA-256 goes beside it."""
        base = Path(path.span.file).resolve().parent if path.span.file else self.root
        return os.path.normpath(base / path.text)

    def media_seconds(self, absolute: str) -> Fraction | None:
        if absolute not in self._durations:
            try:
                self._durations[absolute] = self.services.media_duration(absolute)
            except OSError:
                self._durations[absolute] = None
        return self._durations[absolute]

    def audio_seconds(self, absolute: str) -> Fraction | None:
        """Seconds of a media file when it has sound (a video's own soundtrack); None when it
        has none or cannot be read."""
        try:
            if not self.services.has_audio(absolute):
                return None
        except OSError:
            return None
        return self.media_seconds(absolute)

    def cue_grid(self, value: ir.Value | None) -> Grid | None:
        """The grid of a music cue (by name) or of a recording (``"file.wav"``): stated
        (``tempo``/``meter`` on the cue's source: exact), else the generator's own, else
        detected by the beat tracker; None when there is none (a generator that cannot say)."""
        key = value.word if isinstance(value, ir.Word) else value.text if isinstance(value, ir.Str) else None
        if key is None:
            return None
        if key not in self._grids:
            self._grids[key] = self._find_grid(value)  # type: ignore[arg-type]
        return self._grids[key]

    @property
    def grids(self) -> dict[str, Grid]:
        return {k: g for k, g in sorted(self._grids.items()) if g is not None}

    def _find_grid(self, value: ir.Word | ir.Str) -> Grid | None:
        if isinstance(value, ir.Str):
            return self._recording_grid(self.asset(value), None, value.span)
        cue = self.defs.music.get(value.word)
        if cue is None or cue.node is None:
            return None
        if cue.tempo is not None:
            return Grid.stated(cue.tempo, cue.meter or (4, 4))
        if cue.path is not None:
            return self._recording_grid(self.asset(cue.path), cue.meter, cue.path.span)
        probe = getattr(self.services, "music_grid", None)
        if probe is None:
            return None
        from nyeshc.resolve.seeds import derive

        params: dict[str, object] = {
            "genre": cue.genre, "artist": cue.artist, "lyrics": cue.lyrics,
            "seconds": float(cue.length) if cue.length is not None else 60.0,
            "seed": derive(self.film_seed, f"music {value.word}", cue.seed),
        }
        if cue.temperature is not None:
            params["temperature"] = float(cue.temperature)
        if cue.meter is not None:
            params["meter"] = list(cue.meter)
        return probe(self.backend("music"), params)

    def _recording_grid(self, absolute: str, meter: tuple[int, int] | None, span: object) -> Grid | None:
        probe = getattr(self.services, "recording_grid", None)
        if probe is None:
            return None
        try:
            # a stated meter reaches the tracker, which finds the bar lines counting that many beats
            grid = probe(absolute, beats_per_bar=meter[0]) if meter is not None else probe(absolute)
        except OSError:
            return None
        if grid is not None and grid.source == "detected" and grid.confidence < LOW_CONFIDENCE:
            ledger.warn(warning("W705", f"the beat tracker is unsure of this recording's grid "
                                        f"({float(grid.tempo):g} bpm, confidence {grid.confidence:.2f})", span,  # type: ignore[arg-type]
                                "state it on the cue: source: \"music.wav\", tempo 96bpm, meter 4/4"))
        if grid is not None and meter is not None and grid.meter != meter:
            grid = Grid(grid.tempo, meter, grid.first, grid.beats, grid.downbeat, grid.confidence, grid.source)
        return grid

    def sha256(self, absolute: str) -> str:
        try:
            return self.services.file_sha256(absolute)
        except OSError:
            return "missing"

    # ------------------------------------------------------------------ time

    def frame(self, t: Fraction) -> int:
        return half_up(t * self.fps)

    def sample(self, t: Fraction) -> int:
        return half_up(t * SAMPLE_RATE)

    def frame_to_sample(self, frame: int) -> int:
        return round(Fraction(frame) * SAMPLE_RATE / self.fps)
