"""The job graph and the timeline's layers: what to generate, and where it goes.

This file is long (about 860 lines) on purpose: one pass that turns every kind of directive
into jobs and layers, in the order their inputs exist (a portrait before its lip-sync, a cue's
grid before the beats timed on it); each kind is one method of :class:`Graph`, and the methods
share its deduplicating job table and the scene being built. It reads the resolved film's
fields only (:mod:`nyeshc.resolve`: typed directives and definitions, times already placed); no
option or property is looked up here (``tests/plan/test_resolve.py`` holds that).

:func:`build` walks the resolved film and emits one
:class:`~nyeshc.plan.model.Job` per model invocation (kinds, params and inputs exactly as in
``docs/dev/jobs.md``), deduplicated by content key and in topological order (a job is added
only after its inputs), plus the :class:`~nyeshc.plan.model.SceneTrack` layers, audio clips
and subtitles that refer to the jobs' artifacts by key.

Definitions (looks, portraits, alphabets, music) are film-wide jobs (``Job.scene`` None);
everything a scene places (backdrop renders and morphs, voice lines, motion, text) belongs to
its scene. Seeds come from :func:`nyeshc.resolve.seeds.derive`; sizes from the canvas.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from nyeshc import ir
from nyeshc.costs import CostModel
from nyeshc.diagnostics import warning
from nyeshc.media import SAMPLE_RATE
from nyeshc.plan import keys, lipsync
from nyeshc.plan.lipsync import Sound
from nyeshc.plan.model import (
    AudioClip,
    Box,
    Fade,
    Job,
    Layer,
    Output,
    Overlap,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    Subtitle,
    TextLayer,
    Timeline,
)
from nyeshc.resolve.context import Context
from nyeshc.resolve.definitions import Latent, Motion, voice_modality
from nyeshc.resolve.directives import Backdrop, Camera, Caption, Cue, Fades, Show
from nyeshc.resolve.ledger import mark, warn
from nyeshc.resolve.model import ActionLayout, BeatLayout, Layout, TrackLayout
from nyeshc.resolve.seeds import derive

OPS_VERSION = "2"  # 2: plain type centres each line on its ink
"""Version of the built-in operations (``backend == ""``): bump it when decoding or text
setting changes what they produce."""

BUILTIN_COST: dict[str, CostModel] = {
    "asset.image": CostModel("cpu", per_call=0.05),
    "asset.audio": CostModel("cpu", per_call=0.05, per_audio_second=0.002),
    "asset.video": CostModel("cpu", per_call=0.2, per_frame=0.004),
    "voice.track": CostModel("cpu", per_call=0.01, per_audio_second=0.0005),
    "text.plain": CostModel("cpu", per_call=0.02),
}

SHOT_HEIGHT = {"wide": Fraction(45, 100), "medium": Fraction(70, 100), "close-up": Fraction(95, 100)}
MORPH_SCALE = Fraction(1, 2)
"""Morph frame sequences are generated at this fraction of the canvas and enlarged once per
frame by the compositor: latent-space images are smooth (the procedural CPPN has far less
detail than 720p), and a morph at full size would cost four times the generation time and
cache space (about 2.7 MB a frame at 720p) for no visible gain."""
MORPH_STRIDE = 3
"""A morph renders every third frame from the latent path and blends the two between (eight
true latent frames a second at 24 fps): invisible at a morph's pace, a third of the cost."""
PORTRAIT_MAX = 512
"""Largest generated portrait side (the puppet's detail does not need more; a bigger box is
filled by resampling, see ``MOTION_MAX``)."""
MOTION_MAX = 720
"""Largest side of stored motion frames. A beat's frames are made at the side of the box it is
shown in (a 720p close-up: 684), so the compositor copies them instead of resizing every frame
(that resize was three quarters of composing the example film); boxes above this (1080p
close-ups) are stored at this side and enlarged by the compositor, which bounds the cache at
about 2 MB a frame."""


def morph_cost_pixels(ctx: Context) -> int:
    """The pixels a morph job's estimate is charged for: the whole canvas, not the half-size
    frames it writes. A latent generator's cost barely depends on the output size (the
    procedural CPPN evaluates at most its ``detail`` pixels, then upsamples), and charging the
    written size made the morphs look 4× cheaper than they are, so the executor (most expensive
    first) started them last and they became the critical path of the assets."""
    return ctx.width * ctx.height


def morph_size(ctx: Context, factor: Fraction = Fraction(1)) -> tuple[int, int]:
    """The size morph frames are generated at (even, as video needs): half the canvas, larger
    by a camera move's ``factor`` (up to the canvas's own size times that factor's excess over
    2, so a zoomed morph keeps its detail)."""
    scale = MORPH_SCALE * max(Fraction(1), factor)
    return max(2, even(ctx.width * scale)), max(2, even(ctx.height * scale))


GENERATED = Latent(None, "generate")
"""The portrait of a character that is not defined (or defines no portrait): generated."""
NO_MOTION = Motion(None)

INSET = Fraction(1, 2)
"""A positioned ``show`` (``show: "clip.mp4", top, left``) is an inset this fraction of the canvas."""
INSET_MARGIN = Fraction(1, 20)


SHOT_ORDER = {"wide": 0, "medium": 1, "close-up": 2}
SIDE_CENTRE = {"left": Fraction(1, 4), "center": Fraction(1, 2), "right": Fraction(3, 4)}
CAPTION_HEIGHT = Fraction(1, 14)
SUBTITLE_HEIGHT = Fraction(1, 20)
CREDITS_HEIGHT = Fraction(1, 12)
TEXT_WIDTH = Fraction(8, 10)
DRIVING_SIZE = 256
RIG_SIDE = 512
"""The portrait side a motion backend's ``per_call`` (its set-up: the puppet's rig) is taken to
be measured at; a rig job's estimate scales it by the portrait's pixels."""

PLAIN_COLOUR = (255, 255, 255)


def even(x: Fraction | float | int) -> int:
    """The nearest even integer ≥ 2 (video encoders want even sizes)."""
    return max(2, 2 * math.floor(Fraction(x) / 2 + Fraction(1, 2)))


def _show_blend(call: ir.Call) -> str:
    """``blend(seed 5, DUSK, 0.35)``: a blend's name-path part, as written (normalised)."""
    parts: list[str] = []
    for a in call.args:
        if isinstance(a, ir.Seed):
            parts.append(f"seed {a.value}")
        elif isinstance(a, ir.Word):
            parts.append(a.word)
        elif isinstance(a, ir.Num):
            parts.append(f"{float(a.value):g}")
    return f"blend({', '.join(parts)})"


@dataclass
class Scene:
    """What one track contributes to the timeline."""

    layers: list[tuple[int, int, Layer]] = field(default_factory=list)  # (group, order, layer)
    audio: list[AudioClip] = field(default_factory=list)
    subtitles: list[Subtitle] = field(default_factory=list)
    first_latent: str | None = None
    last_latent: str | None = None
    first_factor: Fraction = Fraction(1)  # the camera factor of the first and the last backdrop
    last_factor: Fraction = Fraction(1)


class Graph:
    """Jobs by key (insertion order is topological), seeds by name path."""

    def __init__(self, ctx: Context, layout: Layout) -> None:
        self.ctx = ctx
        self.layout = layout
        self.jobs: dict[str, Job] = {}
        self.seeds: dict[str, int] = {}
        self.scene: int | None = None  # the scene that owns jobs added now
        self.music_need = layout.music_need
        self._sizes = self._portrait_sizes()

    # ------------------------------------------------------------------ primitives

    def seed(self, name_path: str, explicit: int | None = None) -> int:
        s = derive(self.ctx.film_seed, name_path, explicit)
        self.seeds[name_path] = s
        return s

    def add(self, kind: str, modality: str | None, params: dict[str, Any], inputs: list[str], *,
            output: Output, name: str, seed: int = 0, film_wide: bool = False, frames: int = 0,
            pixels: int = 1280 * 720, audio_seconds: float = 0.0, set_up: float = 1.0) -> str:
        """The key of the job (added once: the same job asked for twice is one). ``set_up``
        scales the backend's ``per_call`` in its estimate: 0 for a job that starts from a cached
        set-up (a portrait's rig), the portrait's share of the size the cost was measured at for
        the job making that set-up."""
        if modality is None:
            backend, version, settings = "", OPS_VERSION, {}
            cost = BUILTIN_COST.get(kind, CostModel())
        else:
            info = self.ctx.backend(modality)
            backend, version, settings = info.id, info.version, keys.normalise(dict(info.settings))
            cost = info.cost
        params = keys.normalise(params)
        key = keys.job_key(kind=kind, backend=backend, backend_version=version, settings=settings,
                           params=params, inputs=inputs, seed=seed, output=output)
        if key not in self.jobs:
            self.jobs[key] = Job(key=key, kind=kind, backend=backend, backend_version=version,
                                 settings=settings, params=params, inputs=tuple(inputs), seed=seed,
                                 output=output, name=name, scene=None if film_wide else self.scene,
                                 cost_seconds=round(cost.estimate(frames=frames, pixels=pixels,
                                                                  audio_seconds=audio_seconds)
                                                    - cost.per_call * (1.0 - set_up), 6),
                                 device=cost.device)
        return key

    def asset(self, kind: str, path: ir.Str, output: Output, name: str, film_wide: bool = True,
              **extra: Any) -> str:
        absolute = self.ctx.asset(path)
        params = {"path": absolute, "sha256": self.ctx.sha256(absolute), **extra}
        frames = int(extra.get("frames", 0))
        seconds = 0.0
        if kind == "asset.audio":
            seconds = float(self.ctx.media_seconds(absolute) or 0)
        pixels = int(extra.get("width", 1280)) * int(extra.get("height", 720))
        return self.add(kind, None, params, [], output=output, name=name, film_wide=film_wide,
                        frames=frames, pixels=pixels, audio_seconds=seconds)

    # ------------------------------------------------------------------ latents

    def latent(self, kind: str, value: ir.Value | None, truncation: Fraction = Fraction(1),
               seen: frozenset[str] = frozenset()) -> str | None:
        """The ``latent`` job of a latent-valued ``value`` in modality ``kind`` (``image`` or
        ``portrait``): ``seed N``, a generated look's name, or ``blend(…)`` of those; None for
        anything without a latent (a file, an unknown name, a blend cycle)."""
        if isinstance(value, ir.Seed):
            path = f"{kind} / seed {value.value}"
            return self.add(f"{kind}.latent", kind, {"truncation": float(truncation)}, [], output="latent",
                            name=path, seed=self.seed(path, value.value), film_wide=True)
        if isinstance(value, ir.Word):
            return self.look_latent(value.word, kind, seen)
        if isinstance(value, ir.Call) and value.name == "blend":
            return self.blend(kind, value, f"{kind} / {_show_blend(value)}", seen)
        return None

    def blend(self, kind: str, call: ir.Call, name: str, seen: frozenset[str] = frozenset()) -> str | None:
        """``blend(a, b[, t])``: ``t`` of the way from ``a`` to ``b`` (default ½); more
        arguments fold left, ``blend(a, b, c, t1, t2)`` = ``blend(blend(a, b, t1), c, t2)``."""
        stops = [a for a in call.args if isinstance(a, (ir.Seed, ir.Word))]
        weights = [a.value for a in call.args if isinstance(a, ir.Num)]
        latents = [self.latent(kind, a, Fraction(1), seen) for a in stops]
        if len(latents) < 2 or any(k is None for k in latents):
            return None
        key = latents[0]
        last = len(latents) - 1
        for i, k in enumerate(latents[1:], start=1):
            t = weights[i - 1] if i - 1 < len(weights) else Fraction(1, 2)
            key = self.add(f"{kind}.blend", kind, {"t": float(t)}, [key, k], output="latent",
                           name=name if i == last else f"{name} / blend {i}", film_wide=True)
        return key

    # ------------------------------------------------------------------ looks

    def look_latent(self, name: str, kind: str = "image", seen: frozenset[str] = frozenset()) -> str | None:
        """The latent of a generated look (``generate`` or ``blend``), or None (a file, unknown,
        or a blend that passes through itself). In the ``portrait`` modality a look stands for
        its seed and truncation drawn by the portrait generator."""
        look = self.ctx.defs.looks.get(name)
        if look is None or look.node is None or name in seen:
            return None
        path = f"look {name}"
        if look.blend is not None:
            key = self.blend(kind, look.blend, path if kind == "image" else f"{path} / {kind}", seen | {name})
            if key is not None:
                mark("rendered", look.node)
            return key
        if look.kind != "generate":
            return None
        mark("rendered", look.node)
        seed = self.seed(path, look.seed)
        params: dict[str, Any] = {"truncation": float(look.truncation)}
        if look.prompt is not None and kind == "image":  # words the image generator draws from
            params["prompt"] = " ".join(look.prompt.split())
        return self.add(f"{kind}.latent", kind, params, [],
                        output="latent", name=path if kind == "image" else f"{path} / {kind}", seed=seed,
                        film_wide=True)

    def look_image(self, name: str, width: int, height: int, label: str) -> str | None:
        latent = self.look_latent(name)
        if latent is not None:
            return self.add("image.render", "image", {"width": width, "height": height}, [latent],
                            output="image", name=label, frames=1, pixels=width * height)
        look = self.ctx.defs.looks.get(name)
        if look is not None and look.path is not None:
            mark("rendered", look.node)
            return self.asset("asset.image", look.path, "image", label, film_wide=False,
                              width=width, height=height)
        return None

    # ------------------------------------------------------------------ portraits

    def _portrait_sizes(self) -> dict[str, int]:
        best: dict[str, int] = {}
        for t in self.layout.tracks:
            for b in t.beats:
                h = min(PORTRAIT_MAX, even(SHOT_HEIGHT[b.shot] * self.ctx.height))
                best[b.character] = max(best.get(b.character, 0), h)
        return best

    def portrait(self, character: str) -> str | None:
        size = self._sizes.get(character, min(PORTRAIT_MAX, even(SHOT_HEIGHT["medium"] * self.ctx.height)))
        p = self.ctx.defs.portraits.get(character) or GENERATED
        path = f"character {character} / portrait"
        latent: str | None = None
        if p.kind == "generate":
            latent = self.add("portrait.latent", "portrait", {"truncation": float(p.truncation)}, [],
                              output="latent", name=path, seed=self.seed(path, p.seed), film_wide=True)
        elif p.blend is not None:
            latent = self.blend("portrait", p.blend, path)
        elif p.path is not None:
            mark("rendered", p.node)
            image = self.asset("asset.image", p.path, "image", f"{path} / image", width=size, height=size)
            return self.add("portrait.file", "portrait", {"size": size, "mouth": None}, [image],
                            output="portrait", name=path, film_wide=True, frames=1, pixels=size * size)
        if latent is None:
            return None
        mark("rendered", p.node)
        return self.add("portrait.make", "portrait", {"size": size}, [latent], output="portrait",
                        name=path, film_wide=True, frames=1, pixels=size * size)

    # ------------------------------------------------------------------ alphabets and text

    def alphabet(self, name: str) -> tuple[str, tuple[int, int, int]] | None:
        a = self.ctx.defs.alphabets.get(name)
        if a is None:
            return None
        path = f"alphabet {name}"
        key = self.add("glyphs.alphabet", "glyphs", {"count": a.count, "strokes": list(a.strokes)}, [],
                       output="alphabet", name=path, seed=self.seed(path, a.seed), film_wide=True)
        return key, a.ink

    def text(self, text: str, alphabet: str | None, height: Fraction, name: str) -> str:
        """Text in an alphabet's glyphs (its ink), else in plain type (white)."""
        h = max(8, round(height * self.ctx.height))
        max_width = round(TEXT_WIDTH * self.ctx.width)
        if alphabet is not None:
            found = self.alphabet(alphabet)
            if found is not None:
                key, ink = found
                return self.add("glyphs.text", "glyphs", {"text": text, "height": h, "ink": list(ink),
                                                         "max_width": max_width}, [key],
                                output="image", name=name)
        return self.add("text.plain", None, {"text": text, "height": h, "colour": list(PLAIN_COLOUR),
                                             "max_width": max_width}, [], output="image", name=name)

    # ------------------------------------------------------------------ music

    def music(self, cue: str) -> tuple[str, int | None] | None:
        """``(audio key, length in samples or None when unknown)`` for a music cue."""
        m = self.ctx.defs.music.get(cue)
        if m is None or m.node is None:
            return None
        if m.path is not None:
            mark("rendered", m.node)
            if m.states_grid:
                self.ctx.cue_grid(ir.Word(cue))  # a stated grid: shown by nyeshc plan, used by at bar N
            return self.recording(m.path, f"music {cue}")
        if m.kind != "generate":
            return None
        mark("rendered", m.node)
        length = m.length if m.length is not None else self.music_need.get(cue, Fraction(0))
        samples = max(1, self.ctx.sample(length))
        mark("rendered", m.lyrics_node)
        path = f"music {cue}"
        seed = self.seed(path, m.seed)
        seconds = samples / SAMPLE_RATE
        params: dict[str, Any] = {"genre": m.genre, "artist": m.artist, "lyrics": m.lyrics, "seconds": seconds}
        if m.temperature is not None:
            params["temperature"] = float(m.temperature)
        if m.tempo is not None:  # the generator follows a stated grid exactly
            params["tempo"] = float(m.tempo)
        if m.meter is not None:
            params["meter"] = list(m.meter)
        self.ctx.cue_grid(ir.Word(cue))  # the cue's grid, for nyeshc plan
        key = self.add("music.generate", "music", params, [],
                       output="audio", name=path, seed=seed, film_wide=True, audio_seconds=seconds)
        return key, samples

    def recording(self, path: ir.Str, name: str) -> tuple[str, int | None]:
        """A recorded sound (``music: "tone.wav"``, a cue's ``source: "…"``): its decoded audio
        and its length in samples (None when it cannot be read)."""
        key = self.asset("asset.audio", path, "audio", name)
        secs = self.ctx.media_seconds(self.ctx.asset(path))
        return key, None if secs is None else self.ctx.sample(secs)

    def sound(self, value: ir.Value | None, name: str) -> tuple[str, int | None] | None:
        """What ``music:``, ``sound:`` and ``soundtrack:`` play: a cue by name or a recording."""
        if isinstance(value, ir.Word):
            return self.music(value.word)
        if isinstance(value, ir.Str):
            return self.recording(value, name)
        return None

    # ------------------------------------------------------------------ tracks

    def span(self, track: TrackLayout, at: Fraction, dur: Fraction | None) -> tuple[int, int]:
        """Absolute frames of an element at scene time ``at`` lasting ``dur`` (None: to the end),
        cut to the scene."""
        f0, f1 = self.ctx.frame(track.start), self.ctx.frame(track.end)
        s = min(max(self.ctx.frame(track.start + at), f0), f1)
        e = f1 if dur is None else min(max(self.ctx.frame(track.start + at + dur), s), f1)
        return s, e

    def fade(self, fades: Fades) -> Fade:
        return Fade(self.ctx.frame(fades.fade_in), self.ctx.frame(fades.fade_out))

    def backdrop(self, track: TrackLayout, d: Backdrop, out: Scene) -> None:
        ctx = self.ctx
        s, e = self.span(track, d.at, d.dur)
        if e <= s:
            mark("cut", d.node)
            return
        label = f"{track.identity} / backdrop" + (f" {d.n}" if d.n > 1 else "")
        fade = self.fade(d.fades)
        cam = d.camera
        factor = cam.factor
        value: ir.Value | None = d.value
        latent: str | None = None
        key: str | None = None
        if isinstance(value, ir.Morph):
            found = [self.latent("image", stop) for stop in value.stops]
            latents = [k for k in found if k is not None]
            if len(latents) >= 2 and len(latents) == len(found):
                mw, mh = morph_size(ctx, factor)
                key = self.add("image.morph", "image", {"width": mw, "height": mh, "frames": e - s,
                                                        "ease": cam.ease, "stride": MORPH_STRIDE}, latents,
                               output="frames", name=label, frames=-(-(e - s) // MORPH_STRIDE),
                               pixels=morph_cost_pixels(ctx))
                out.layers.append((0, len(out.layers), SequenceLayer(s, e, key, fade=fade, role="morph",
                                                                     **cam.layer_fields())))
                mark("rendered", d.node)
                if out.first_latent is None and not any(g == 0 for g, _, _ in out.layers[:-1]):
                    out.first_latent, out.first_factor = latents[0], factor
                out.last_latent, out.last_factor = latents[-1], factor
                return
            self.mixed_morph(d, value, found, s, e, label, fade, cam, out)
            return
        elif isinstance(value, ir.Seed):  # ``backdrop: seed 99``: a generated still of that seed
            latent = self.latent("image", value)
        w, h = (2 * math.ceil(factor * ctx.width / 2), 2 * math.ceil(factor * ctx.height / 2))  # even, never short
        if latent is not None:
            key = self.add("image.render", "image", {"width": w, "height": h}, [latent],
                           output="image", name=label, frames=1, pixels=w * h)
        elif isinstance(value, ir.Word):
            latent = self.look_latent(value.word)
            key = self.look_image(value.word, w, h, label)
        elif isinstance(value, ir.Str):
            key = self.asset("asset.image", value, "image", label, film_wide=False, width=w, height=h)
        if key is None:
            return
        mark("rendered", d.node)
        layer = StillLayer(s, e, key, fade=fade, **cam.layer_fields())
        out.layers.append((0, len(out.layers), layer))
        if out.first_latent is None and not any(g == 0 for g, _, _ in out.layers[:-1]):
            out.first_latent, out.first_factor = latent, factor
        out.last_latent, out.last_factor = latent, factor

    def mixed_morph(self, d: Backdrop, value: ir.Morph, found: list[str | None], s: int, e: int, label: str,
                    fade: Fade, cam: Camera, out: Scene) -> None:
        """A morph with stops that have no latent (a look that is a picture file): the runs of
        generated stops morph, and each file stop is reached by a crossfade over its segment
        (the checker says so with W207). Stops sit evenly over the element, as in a morph."""
        ctx = self.ctx
        n = len(found) - 1
        if n < 1:
            return
        at = [s + round(Fraction((e - s) * i, n)) for i in range(n + 1)]
        runs: list[tuple[int, int]] = []
        for i, k in enumerate(found):
            if k is not None and runs and found[runs[-1][1]] is not None and runs[-1][1] == i - 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
        w = 2 * math.ceil(cam.factor * ctx.width / 2)
        h = 2 * math.ceil(cam.factor * ctx.height / 2)
        placed = 0
        for r, (i0, i1) in enumerate(runs):
            start = s if r == 0 else at[runs[r - 1][1]]
            part = f"{label} / part {r + 1}"
            first_fade = fade.fade_in if r == 0 else at[i0] - start
            layer_fade = Fade(first_fade, fade.fade_out)
            stop = value.stops[i0]
            layer: Layer | None = None
            if i1 > i0:
                latents = [k for k in found[i0:i1 + 1] if k is not None]
                mw, mh = morph_size(ctx, cam.factor)
                frames = max(1, at[i1] - at[i0])
                key = self.add("image.morph", "image", {"width": mw, "height": mh, "frames": frames,
                                                        "ease": cam.ease, "stride": MORPH_STRIDE}, latents,
                               output="frames", name=part, frames=-(-frames // MORPH_STRIDE),
                               pixels=morph_cost_pixels(ctx))
                layer = SequenceLayer(start, e, key, offset=start - at[i0], fade=layer_fade, role="morph",
                                      **cam.layer_fields())
            elif found[i0] is not None:
                key = self.add("image.render", "image", {"width": w, "height": h}, [found[i0]],  # type: ignore[list-item]
                               output="image", name=part, frames=1, pixels=w * h)
                layer = StillLayer(start, e, key, fade=layer_fade, **cam.layer_fields())
            elif isinstance(stop, ir.Word):
                image = self.look_image(stop.word, w, h, part)
                if image is not None:
                    layer = StillLayer(start, e, image, fade=layer_fade, **cam.layer_fields())
            if layer is not None and layer.end > layer.start:
                out.layers.append((0, len(out.layers), layer))
                placed += 1
        if not placed:
            return
        mark("rendered", d.node)
        if out.first_latent is None and not any(g == 0 for g, _, _ in out.layers[:-placed]):
            out.first_latent, out.first_factor = found[0], cam.factor
        out.last_latent, out.last_factor = found[-1], cam.factor

    def show(self, track: TrackLayout, d: Show, out: Scene) -> None:
        ctx = self.ctx
        s, e = self.span(track, d.at, d.dur)
        if e <= s:
            mark("cut", d.node)
            return
        offset = ctx.frame(d.source_from)
        cam = d.camera
        box = self.inset(d.position)
        bw, bh = (box.width, box.height) if box is not None else (ctx.width, ctx.height)
        w, h = 2 * math.ceil(cam.factor * bw / 2), 2 * math.ceil(cam.factor * bh / 2)
        name = f"{track.identity} / show {d.n}"
        key = self.asset("asset.video", d.path, "frames", name, film_wide=False,
                         width=w, height=h, fps=float(ctx.fps), frames=offset + e - s)
        fade = self.fade(d.fades)
        out.layers.append((1, len(out.layers), SequenceLayer(s, e, key, offset=offset, fade=fade,
                                                             box=box, role="video", **cam.layer_fields())))
        mark("rendered", d.node)
        # the clip's own sound, when it has any, plays with it (``gain`` sets its level)
        secs = ctx.audio_seconds(ctx.asset(d.path))
        if secs is None:
            return
        start = ctx.frame_to_sample(s)
        length = ctx.frame_to_sample(e) - start
        source = ctx.sample(secs)
        src0 = ctx.sample(d.source_from)
        length = min(length, source - src0)
        if length <= 0:
            return
        audio = self.asset("asset.audio", d.path, "audio", f"{name} / sound", film_wide=False)
        out.audio.append(AudioClip(start, length, audio, offset=src0, gain_db=d.gain_db,
                                   fade_in=ctx.frame_to_sample(fade.fade_in), fade_out=ctx.frame_to_sample(fade.fade_out),
                                   role="video", name=f"{name} / sound"))

    def inset(self, given: frozenset[str]) -> Box | None:
        """Where a positioned video sits: ``show: "clip.mp4", top, left`` is an inset of
        ``INSET`` of the canvas in the top-left corner (a margin of ``INSET_MARGIN`` from the
        edges); ``center`` alone centres it; no position fills the canvas."""
        ctx = self.ctx
        if not given:
            return None
        w, h = even(INSET * ctx.width), even(INSET * ctx.height)
        mx, my = round(INSET_MARGIN * ctx.width), round(INSET_MARGIN * ctx.height)
        x = mx if "left" in given else ctx.width - w - mx if "right" in given else (ctx.width - w) // 2
        y = my if "top" in given else ctx.height - h - my if "bottom" in given else (ctx.height - h) // 2
        return Box(x, y, w, h)

    def caption(self, track: TrackLayout, d: Caption, out: Scene) -> None:
        s, e = self.span(track, d.at, d.dur)
        if e <= s:
            mark("cut", d.node)
            return
        key = self.text(d.text, d.alphabet, CAPTION_HEIGHT, f"{track.identity} / caption {d.n}")
        out.layers.append((3, len(out.layers), TextLayer(s, e, key, position=d.position,  # type: ignore[arg-type]
                                                         fade=self.fade(d.fades), role="caption")))
        mark("rendered", d.node)

    def cue(self, track: TrackLayout, d: Cue, out: Scene) -> None:
        ctx = self.ctx
        start = ctx.sample(track.start + min(d.at, track.duration))
        scene_end = ctx.frame_to_sample(ctx.frame(track.end))
        if start >= scene_end:
            mark("cut", d.node)
            return
        name = f"{track.identity} / {d.kind} {d.sound.what}"
        found = self.sound(d.sound.value, name)
        if found is None:
            return
        key, source = found
        offset = ctx.sample(d.sound.source_from)
        length = scene_end - start if d.dur is None else min(ctx.sample(d.dur), scene_end - start)
        if source is not None:
            length = min(length, source - offset)
        if length <= 0:
            mark("cut", d.node)  # the source ends before its ``from`` (W303's kin: nothing left to play)
            return
        music = d.kind == "music"
        out.audio.append(AudioClip(start, length, key, offset=offset, gain_db=d.sound.gain_db,
                                   fade_in=ctx.sample(d.sound.fades.fade_in), fade_out=ctx.sample(d.sound.fades.fade_out),
                                   duck=music, role="music" if music else "sound", name=name))
        mark("rendered", d.node)

    def beat(self, track: TrackLayout, b: BeatLayout, subtitles: tuple[str, str | None] | None, out: Scene) -> None:
        ctx = self.ctx
        s, e = self.span(track, b.at, (b.end or b.at) - b.at)
        scene_end = ctx.frame_to_sample(ctx.frame(track.end))
        track0 = ctx.frame_to_sample(s)
        length = max(0, ctx.frame_to_sample(e) - track0)
        head = f"{track.identity} / {b.character}"
        sounds: list[Sound] = []  # what the beat's lip-sync hears, lines then songs
        for line in b.lines:
            name = f"{head} / line {line.number}"
            said: dict[str, Any] | None = None
            if line.recording is not None:
                key = self.asset("asset.audio", line.recording, "audio", name, film_wide=False)
            else:
                v = line.voice
                seconds = line.samples / SAMPLE_RATE
                key = self.add("voice.speak", voice_modality(v), {"text": line.text, "pitch": v.pitch, "rate": v.rate,
                                                        "lang": v.lang}, [], output="audio", name=name,
                               seed=self.seed(name, v.seed), audio_seconds=seconds)
                # what the line says, for a mouth that says it (visemes): the lip-sync job asks
                # the voice backend for the phonemes (docs/backends.md, "Visemes")
                job = self.jobs[key]
                said = {"at": line.offset, "voice": job.backend, "version": job.backend_version,
                        "settings": job.settings, **job.params}
            sounds.append(Sound(key, line.offset, (0, line.samples), said))
            start = track0 + line.offset
            n = min(line.samples, scene_end - start)
            if n < line.samples:
                self.outlasts(track, f"{b.character}'s line", start + line.samples, line.node)
            if n <= 0:
                mark("cut", line.node)
                continue
            mark("rendered", line.node)
            out.audio.append(AudioClip(start, n, key, role="dialogue", name=name))
            t0, t1 = Fraction(start, SAMPLE_RATE), Fraction(start + n, SAMPLE_RATE)
            out.subtitles.append(Subtitle(t0, t1, line.text, b.character))
            if subtitles is not None:
                mode, alphabet = subtitles
                f0, f1 = ctx.frame(t0), ctx.frame(t1)
                if f1 > f0:
                    tkey = self.text(line.text, alphabet if mode == "alphabet" else None, SUBTITLE_HEIGHT,
                                     f"{name} / subtitle")
                    out.layers.append((4, len(out.layers), TextLayer(f0, f1, tkey, position="bottom",
                                                                     role="subtitle")))
        for sing in b.sings:
            found = self.music(sing.cue)
            if found is None:
                continue
            key, source = found
            n = sing.samples if sing.samples is not None else length - sing.offset
            if source is not None:
                n = min(n, source - sing.source_offset)
            if n > scene_end - (track0 + sing.offset):
                self.outlasts(track, f"{b.character}'s song", track0 + sing.offset + n, sing.node)
            n = min(n, scene_end - (track0 + sing.offset))
            if n <= 0:
                mark("cut", sing.node)
                continue
            mark("rendered", sing.node)
            cue = self.jobs.get(key)
            sung = None
            if cue is not None and cue.kind == "music.generate":
                # what the singer sings when, for a mouth that sings it: the lip-sync job asks the
                # music backend (docs/backends.md, "Visemes"); a recording follows loudness
                sung = {"at": sing.offset, "from": sing.source_offset, "samples": n, "music": cue.backend,
                        "version": cue.backend_version, "settings": cue.settings, "seed": cue.seed,
                        "params": cue.params}
            sounds.append(Sound(key, sing.offset, (sing.source_offset, n), sung))
            out.audio.append(AudioClip(track0 + sing.offset, n, key, offset=sing.source_offset, role="music",
                                       name=f"{head} / sings {sing.cue}"))
        if e <= s:
            mark("cut", b.beat)
            return
        if b.offscreen:  # ``(V.O.)``, ``(O.S.)``: heard (and subtitled), never on screen
            mark("rendered", b.beat)
            return
        portrait = self.portrait(b.character)
        if portrait is None:
            return
        frames = e - s
        fps = float(ctx.fps)

        def voice_track(part: list[Sound], at: int, samples: int, name: str) -> str:
            """The sounds of ``part`` as one track of ``samples`` samples from the beat's ``at``."""
            params: dict[str, Any] = {"length": samples, "offsets": [x.offset - at for x in part]}
            if b.sings:
                params["clips"] = [list(x.clip) for x in part]
            return self.add("voice.track", None, params, [x.key for x in part], output="audio", name=name,
                            audio_seconds=samples / SAMPLE_RATE)

        heard = bool(sounds) and length > 0
        motion = ctx.defs.motions.get(b.character) or NO_MOTION
        mark("rendered", motion.node)
        mseed = self.seed(f"{head} / beat {b.number}")
        h = even(SHOT_HEIGHT[b.shot] * ctx.height)
        size = min(h, MOTION_MAX)  # frames at the displayed size: the compositor only copies them
        px = size * size
        label = f"{head} / beat {b.number}"
        shown: list[tuple[int, int, str]] = []  # (start, end, key) of a lip-sync drawn in parts
        if motion.driving is not None:
            driving = self.asset("asset.video", motion.driving, "frames", f"{label} / driving", film_wide=False,
                                 width=DRIVING_SIZE, height=DRIVING_SIZE, fps=fps, frames=frames)
            key = self.add("motion.drive", "drive",
                           {"fps": fps, "frames": frames, "driving_fps": fps, "size": size},
                           [portrait, driving] + ([voice_track(sounds, 0, length, label)] if heard else []),
                           output="frames", name=label, seed=mseed, frames=frames, pixels=px)
        elif heard and not motion.still:
            ranges = ctx.backend("motion").frame_ranges
            scene_start = ctx.frame(track.start)
            cuts = lipsync.sections(sounds, s, frames, track0, scene_start, ctx.fps) if ranges else [(0, frames)]
            rig = self.rig(portrait, b.character)

            def sample(f: int) -> int:  # beat frame f's first sample in the beat's sound
                return length if f == frames else ctx.frame_to_sample(s + f) - track0

            def draw(params: dict[str, Any], audio: str, name: str, first: int, n: int) -> None:
                """A lip-sync job of ``n`` frames shown from beat frame ``first``."""
                if motion.mouth is not None:
                    params["mouth"] = float(motion.mouth)
                key = self.add("motion.lipsync", "motion", params, [portrait, audio, *rig], output="frames",
                               name=name, seed=mseed, frames=n, pixels=px, set_up=0.0 if rig else 1.0)
                shown.append((s + first, s + first + n, key))

            held = lipsync.hold(sounds, cuts[-1], s, track0, scene_start, ctx.fps) if ranges else []
            for k, (f0, f1) in enumerate(cuts, start=1):
                # a section: its own sounds (cut in the pauses), placed from its first sample; the
                # last one's hold is drawn silent, in pieces of its own (lipsync.hold)
                a0 = sample(f0)
                name = label if len(cuts) == 1 else f"{label} / section {k}"
                if k == len(cuts) and held:
                    f1 = held[0][0]
                a1 = sample(f1)
                part = [x for x in sounds if a0 <= x.offset < a1] if len(cuts) > 1 else sounds
                params: dict[str, Any] = {"fps": fps, "frames": f1 - f0, "size": size}
                speech = [{**x.speech, "at": x.speech["at"] - a0} for x in part if x.speech is not None]
                if speech:
                    params["speech"] = speech
                if f0:
                    params["phase"] = f0  # idle motion goes on from the frames before
                audio = voice_track(part, a0, a1 - a0, name)
                pieces = lipsync.halves(s + f0, f1 - f0, scene_start, ctx.fps, ranges)
                for i, (first, n) in enumerate(pieces, start=1):
                    if len(pieces) == 1:
                        draw(params, audio, name, f0, n)
                    else:
                        draw({**params, "frames": n, "first": first, "beat": f1 - f0}, audio, f"{name} / part {i}",
                             f0 + first, n)
            for i, (h0, h1) in enumerate(held, start=1):
                # silence from frame h0 of the beat: the piece's key holds its place, not the lines
                name = f"{label} / hold {i}"
                draw({"fps": fps, "frames": h1 - h0, "size": size, "phase": h0},
                     voice_track([], sample(h0), sample(h1) - sample(h0), name), name, h0, h1 - h0)
        else:
            rig = self.rig(portrait, b.character)
            key = self.add("motion.still", "motion", {"fps": fps, "frames": frames, "size": size},
                           [portrait, *rig], output="frames", name=label, seed=mseed, frames=frames, pixels=px,
                           set_up=0.0 if rig else 1.0)
        x = round(SIDE_CENTRE[b.side] * ctx.width - Fraction(h, 2))
        box = Box(x, ctx.height - h, h, h)
        for start, end, key in shown or [(s, e, key)]:
            out.layers.append((2, SHOT_ORDER[b.shot] * 10_000 + len(out.layers),
                               SequenceLayer(start, end, key, box=box, role="portrait")))
        mark("rendered", b.beat)

    def rig(self, portrait: str, character: str) -> list[str]:
        """``[key]`` of the portrait's rig job where the motion backend has a set-up worth
        keeping (``rig(portrait)``: the procedural puppet's textures and layers, ~0.7 s at 512²
        in every lip-sync job otherwise); ``[]`` where it has none. One job per portrait: every
        beat of the character starts from its cached artifact."""
        if not self.ctx.backend("motion").rigs:
            return []
        side = int(self.jobs[portrait].params.get("size") or RIG_SIDE)
        return [self.add("motion.rig", "motion", {}, [portrait], output="rig", name=f"character {character} / rig",
                         film_wide=True, set_up=(side / RIG_SIDE) ** 2)]

    def outlasts(self, track: TrackLayout, what: str, end_sample: int, node: Any) -> None:
        """W303 for an element whose audio runs past its scene's end (only the planner knows
        how long a line's audio is)."""
        if node is None:
            return
        end = Fraction(end_sample, SAMPLE_RATE) - track.start
        warn(warning("W303", f"{what} ends at {float(end):.2f}s, after the scene ({float(track.duration):g}s)",
                     node.span, "it is cut at the end of the scene; lengthen the scene, start it earlier or "
                     "shorten it"))

    def place(self, track: TrackLayout, out: Scene) -> None:
        """A scene without a backdrop whose Fountain heading names a place (``INT. CATHEDRAL -
        NIGHT``) gets the place's generated backdrop: one seed per place (so every scene there
        shows the same place) and a prompt of the place and the time of day (its lighting)."""
        if track.place is None:
            return
        place, time = track.place
        ctx = self.ctx
        path = f"place {place}"
        prompt = " ".join(f"{place} {time}".lower().split())
        latent = self.add("image.latent", "image", {"truncation": 1.0, "prompt": prompt}, [], output="latent",
                          name=f"{path} / {time.lower() or 'any time'}", seed=self.seed(path), film_wide=True)
        s, e = self.span(track, Fraction(0), None)
        key = self.add("image.render", "image", {"width": ctx.width, "height": ctx.height}, [latent],
                       output="image", name=f"{track.identity} / backdrop", frames=1, pixels=ctx.width * ctx.height)
        out.layers.append((0, len(out.layers), StillLayer(s, e, key)))
        out.first_latent = out.last_latent = latent

    def action(self, track: TrackLayout, a: ActionLayout, n: int, out: Scene) -> None:
        """An action line takes its reading time in the flow; with ``show`` (or the header's
        ``action: show``) it is drawn in plain type where its position says (a centred one is a
        title card)."""
        s, e = self.span(track, a.at, a.length)
        if e <= s:
            mark("cut", a.line)
            return
        mark("rendered", a.line)
        if not a.show:
            return
        key = self.text(a.text, None, CAPTION_HEIGHT, f"{track.identity} / action {n}")
        out.layers.append((3, len(out.layers), TextLayer(s, e, key, position=a.position,  # type: ignore[arg-type]
                                                         fade=self.fade(a.fades), role="caption")))

    def track(self, track: TrackLayout) -> tuple[SceneTrack, Scene]:
        ctx = self.ctx
        self.scene = track.index
        out = Scene()
        if track.roll is not None:
            s, e = self.span(track, Fraction(0), None)
            key = self.text(track.roll.text, track.roll.alphabet, CREDITS_HEIGHT, f"{track.identity} / roll")
            out.layers.append((5, 0, TextLayer(s, e, key, position="center", fade=self.fade(track.roll.fades),
                                               roll=True, role="credits")))
            mark("rendered", track.item)
        else:
            for d in track.directives:
                self.DIRECTIVES[type(d)](self, track, d, out)
            self.place(track, out)
            for b in track.beats:
                self.beat(track, b, self.layout.subtitles, out)
            for n, a in enumerate(track.actions, start=1):
                self.action(track, a, n, out)
            stack_subtitles(out)
        self.scene = None
        f0, f1 = ctx.frame(track.start), ctx.frame(track.end)
        layers = tuple(layer for _, _, layer in sorted(out.layers, key=lambda t: (t[0], t[1])))
        fade_in, fade_out = ctx.frame(track.fade_in), ctx.frame(track.fade_out)
        body: dict[str, Any] = {
            "canvas": [ctx.width, ctx.height], "fps": ctx.fps, "frames": f1 - f0,
            "fade_in": fade_in, "fade_out": fade_out,
            "layers": [_relative(layer, f0) for layer in layers],
        }
        if track.fade_in_white or track.fade_out_white:  # (absent otherwise: keys stay as they were)
            body["white"] = [track.fade_in_white, track.fade_out_white]
        seg = keys.sha256_hex(body)
        return SceneTrack(track.index, track.title, f0, f1, layers, fade_in, fade_out, seg,
                          track.fade_in_white, track.fade_out_white), out

    DIRECTIVES: dict[type, Any] = {Backdrop: backdrop, Show: show, Caption: caption, Cue: cue}
    """The handler of each typed scene directive (a directive the schema knows and the resolve
    stage does not type reaches the ledger unaccounted: ``E702``)."""


def stack_subtitles(out: Scene) -> None:
    """Subtitles on screen at the same time (dual dialogue, overlapping beats) are never drawn
    over each other: each takes the lowest row free for its whole span (row 0 at the bottom)."""
    subs = [(i, t) for i, t in enumerate(out.layers) if isinstance(t[2], TextLayer) and t[2].role == "subtitle"]
    placed: list[tuple[int, int, int]] = []  # (start, end, row)
    for i, (group, order, layer) in sorted(subs, key=lambda x: (x[1][2].start, x[1][1])):
        busy = {r for s, e, r in placed if s < layer.end and layer.start < e}
        row = next(r for r in range(len(busy) + 1) if r not in busy)
        placed.append((layer.start, layer.end, row))
        if row:
            out.layers[i] = (group, order, dataclasses.replace(layer, row=row))


def _relative(layer: Layer, f0: int) -> Any:
    data = ir.to_data(layer)
    data["start"] -= f0
    data["end"] -= f0
    return data


def build(ctx: Context, layout: Layout) -> tuple[Timeline, dict[str, Job], dict[str, int]]:
    """The timeline and the job graph for a laid-out film."""
    g = Graph(ctx, layout)
    scenes: list[SceneTrack] = []
    parts: list[Scene] = []
    for t in layout.tracks:
        st, part = g.track(t)
        scenes.append(st)
        parts.append(part)
    frames = max((s.end for s in scenes), default=0)
    samples = ctx.frame_to_sample(frames)
    overlaps: list[Overlap] = []
    for o in layout.overlaps:
        a, b = layout.tracks[o.a], layout.tracks[o.b]
        start, end = ctx.frame(b.start), ctx.frame(a.end)
        if end <= start:
            continue
        la, lb = parts[o.a].last_latent, parts[o.b].first_latent
        if o.kind == "morph" and la is not None and lb is not None:
            g.scene = o.b
            mw, mh = morph_size(ctx, max(parts[o.a].last_factor, parts[o.b].first_factor))
            key = g.add("image.morph", "image", {"width": mw, "height": mh, "frames": end - start,
                                                 "ease": "smooth", "stride": MORPH_STRIDE}, [la, lb], output="frames",
                        name=f"{a.identity} -> {b.identity} / morph", frames=-(-(end - start) // MORPH_STRIDE),
                        pixels=morph_cost_pixels(ctx))
            g.scene = None
            overlaps.append(Overlap("morph", o.a, o.b, start, end, key))
        else:
            overlaps.append(Overlap("crossfade", o.a, o.b, start, end))
    audio: list[AudioClip] = []
    st = layout.soundtrack
    if st is not None and samples <= 0:
        mark("cut", st.node)  # an empty film: nothing to play under
    if st is not None and samples > 0:
        snd = st.sound
        found = g.sound(snd.value, f"soundtrack {snd.what}")
        if found is not None:
            key, source = found
            offset = ctx.sample(snd.source_from)
            length = samples if source is None else min(samples, source - offset)
            if length > 0:
                audio.append(AudioClip(0, length, key, offset=offset, gain_db=snd.gain_db,
                                       fade_in=ctx.sample(snd.fades.fade_in), fade_out=ctx.sample(snd.fades.fade_out),
                                       duck=True, role="music", name=f"soundtrack {snd.what}"))
                mark("rendered", st.node)
            else:
                mark("cut", st.node)
    subtitles: list[Subtitle] = []
    for part in parts:
        audio.extend(part.audio)
        subtitles.extend(part.subtitles)
    audio.sort(key=lambda c: (c.start, c.role, c.name))
    subtitles.sort(key=lambda s: (s.start, s.end))
    timeline = Timeline(ctx.width, ctx.height, ctx.fps, frames, SAMPLE_RATE, samples, tuple(scenes),
                        tuple(overlaps), tuple(audio), tuple(subtitles), duck_db=layout.duck_db)
    return timeline, g.jobs, g.seeds
