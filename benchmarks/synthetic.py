"""A synthetic timeline for the render benchmarks (``render.py``, ``memory.py``).

No model runs here: the artifacts are made with numpy (smooth "photographic" gradients with
grain for the stills, an alpha-masked face with a moving mouth, a morph that blends and warps
between two images, plain-type captions from :mod:`nyeshc.backends.plaintext`, a chord pad
for music and a buzzy "voice" for dialogue) and put into a :class:`~nyeshc.execute.Cache`
under made-up keys, then a :class:`~nyeshc.plan.model.Timeline` is built over them by hand.

The layout, for ``seconds=30`` at 1280x720, 24 fps (720 frames), is the one of the design's
performance targets:

* scene A ``[0, 252)``: Ken Burns still (1620x912, zoom 1 → 1.15, eased) + a 256² RGBA face
  sequence (48 frames, looped) upscaled into a 400² box + a caption with 12-frame fades;
* crossfade A → B over 24 frames;
* scene B ``[228, 468)``: a 240-frame full-canvas morph sequence + a caption;
* crossfade B → C over 24 frames;
* scene C ``[444, 720)``: Ken Burns still (zoom 1.15 → 1, pan left) + the face in a box on the
  other side + a caption;
* music (stereo, ducked, fades) over the whole film and one 3 s dialogue clip in scene A.

With ``scenes > 3`` (``memory.py``) the pattern still / morph / still / ... repeats, each scene
with its caption, crossfades between them, a dialogue clip in every third scene; the morph
sequence can be shorter than its scene and loop (``morph_frames``).

Keeping this module separate lets ``render.py`` hand the *same arrays* to the MoviePy
baseline (:class:`Assets`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from nyeshc.plan.model import (
    AudioClip,
    Box,
    Fade,
    Overlap,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    TextLayer,
    Timeline,
)
from nyeshc.store.cache import Cache

SAMPLE_RATE = 48_000
OVERSCAN = 1.266  # stills are rendered this much larger than the canvas (like image.render)


def _key(name: str) -> str:
    return hashlib.sha256(f"benchmark/{name}".encode()).hexdigest()


# --------------------------------------------------------------------------- pictures


def photo(width: int, height: int, seed: int) -> np.ndarray:
    """``uint8 (height, width, 3)``: smooth colour fields plus a little grain (x264 has to work
    about as hard as on a generated backdrop; a flat gradient would be nearly free)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), dtype=np.float32)
    for c in range(3):
        acc = np.full((height, width), 0.35 + 0.3 * rng.random(), dtype=np.float32)
        for _ in range(5):
            fx, fy = rng.uniform(0.5, 4.0, 2)
            px, py = rng.uniform(0, 2 * np.pi, 2)
            acc += 0.12 * np.sin(2 * np.pi * fx * x + px) * np.cos(2 * np.pi * fy * y + py)
        img[..., c] = acc
    img += rng.normal(0.0, 0.012, (height, width, 1)).astype(np.float32)  # luminance grain
    return np.clip(img * 255.0, 0, 255).astype(np.uint8)


def face_sequence(n: int = 48, size: int = 256, seed: int = 5) -> np.ndarray:
    """``uint8 (n, size, size, 4)``: an elliptical face, soft alpha edge, a mouth that opens and
    closes and eyes that blink (like ``motion.lipsync``'s RGBA output)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    r = np.sqrt(((xx - 0.5) / 0.36) ** 2 + ((yy - 0.52) / 0.46) ** 2)
    alpha = np.clip((1.0 - r) * 12.0, 0.0, 1.0)
    base = np.empty((size, size, 3), dtype=np.float32)
    tone = np.array([224, 182, 150], dtype=np.float32) * (0.9 + 0.1 * rng.random())
    shade = 0.75 + 0.25 * (1.0 - yy) * (1.0 - 0.6 * np.abs(xx - 0.5))
    base[:] = tone * shade[..., None]
    out = np.empty((n, size, size, 4), dtype=np.uint8)
    for i in range(n):
        frame = base.copy()
        openness = 0.02 + 0.05 * (0.5 + 0.5 * np.sin(2 * np.pi * i / 9.0))
        mouth = ((xx - 0.5) / 0.12) ** 2 + ((yy - 0.74) / openness) ** 2 < 1.0
        frame[mouth] = (90, 30, 40)
        blink = 0.004 if i % 24 in (11, 12) else 0.03
        for ex in (0.38, 0.62):
            eye = ((xx - ex) / 0.05) ** 2 + ((yy - 0.42) / blink) ** 2 < 1.0
            frame[eye] = (40, 30, 30)
        out[i, ..., :3] = np.clip(frame, 0, 255).astype(np.uint8)
        out[i, ..., 3] = (alpha * 255).astype(np.uint8)
    return out


def morph_into(dst: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Fill ``dst (n, H, W, 3)`` with a morph from ``a`` to ``b``: a cross-dissolve with a
    travelling warp, so every frame differs in structure (not only in brightness)."""
    n, H, W = dst.shape[:3]
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    cols = np.arange(W)
    for i in range(n):
        t = i / max(1, n - 1)
        t = t * t * (3 - 2 * t)
        shift = (18.0 * np.sin(2 * np.pi * (np.arange(H) / H * 1.5 + t))).astype(np.int64)
        idx = (cols[None, :] + shift[:, None]) % W
        wa = np.take_along_axis(fa, idx[..., None], axis=1)
        dst[i] = np.clip(wa * (1 - t) + fb * t, 0, 255).astype(np.uint8)


def caption(text: str, height: int) -> np.ndarray:
    from nyeshc.backends.plaintext import render_text

    return render_text(text, height, (239, 230, 210))


# --------------------------------------------------------------------------- sound


def music_into(dst: np.ndarray, seed: int = 3) -> None:
    """A slow stereo chord pad with a pulse, ``float32 (N, 2)``, written in blocks."""
    rng = np.random.default_rng(seed)
    freqs = [110.0, 164.8, 220.0, 277.2, 329.6]
    phases = rng.uniform(0, 2 * np.pi, (len(freqs), 2))
    block = 1 << 18
    for s in range(0, dst.shape[0], block):
        t = (np.arange(s, min(dst.shape[0], s + block)) / SAMPLE_RATE)[:, None]
        acc = np.zeros((t.shape[0], 2))
        for k, f in enumerate(freqs):
            acc += np.sin(2 * np.pi * f * t + phases[k]) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.05 * (k + 1) * t))
        acc *= 0.08 * (0.7 + 0.3 * np.sin(2 * np.pi * 2.0 * t))
        dst[s:s + t.shape[0]] = acc.astype(np.float32)


def dialogue(seconds: float = 3.0, seed: int = 11) -> np.ndarray:
    """A buzzy vowel-like mono line, ``float32 (N, 1)``."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 140 + 20 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    x = sum(np.sin(h * phase) / h for h in range(1, 12))
    env = np.clip(np.sin(np.pi * t / seconds) * 3, 0, 1) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2)
    return (0.2 * x * env).astype(np.float32)[:, None]


# --------------------------------------------------------------------------- the timeline


@dataclass
class Assets:
    """The arrays behind the timeline (for the MoviePy baseline) and their cache keys."""

    stills: list[np.ndarray] = field(default_factory=list)
    face: np.ndarray | None = None
    morph: np.ndarray | None = None  # memory-mapped from the cache
    captions: list[np.ndarray] = field(default_factory=list)
    music: np.ndarray | None = None
    dialogue: np.ndarray | None = None
    keys: dict[str, Any] = field(default_factory=dict)


def scene_bounds(frames: int, scenes: int, fps: int) -> list[tuple[int, int]]:
    """``scenes`` spans covering ``[0, frames)``, consecutive ones overlapping by one second
    (at most a tenth of a span). For 3 scenes of a 720-frame film: (0, 252), (228, 468),
    (444, 720)."""
    xf = min(fps, frames // (10 * scenes) if scenes > 1 else 0)
    if scenes == 3:
        cuts = [0, round(frames * 0.35), round(frames * 0.65), frames]
    else:
        cuts = [round(frames * k / scenes) for k in range(scenes + 1)]
    out = []
    for k in range(scenes):
        a = cuts[k] - (xf if k > 0 else 0)
        out.append((a, cuts[k + 1]))
    return out


def build(cache: Cache, *, seconds: float = 30.0, width: int = 1280, height: int = 720, fps: int = 24,
          scenes: int = 3, morph_frames: int | None = None, dialogue_every: int = 3) -> tuple[Timeline, Assets]:
    """Make the artifacts, put them into ``cache`` and return the timeline over them.

    ``morph_frames``: length of the morph sequence (``None``: exactly its scene's length, as in
    the design's 240-frame morph); a shorter one loops."""
    frames = int(round(seconds * fps))
    samples = frames * SAMPLE_RATE // fps
    bounds = scene_bounds(frames, scenes, fps)
    assets = Assets()
    tag = f"{width}x{height}"

    sw, sh = round(width * OVERSCAN) // 2 * 2, round(height * OVERSCAN) // 2 * 2
    for i in range(2):
        img = photo(sw, sh, seed=100 + i)
        assets.stills.append(img)
        cache.put(_key(f"still{i}/{tag}"), img, kind="image.render")
    assets.keys["stills"] = [_key(f"still{i}/{tag}") for i in range(2)]

    face = face_sequence()
    assets.face = face
    cache.put(_key("face"), face, kind="motion.lipsync")

    morph_scenes = [k for k in range(scenes) if k % 2 == 1]
    morph_len = morph_frames or max((bounds[k][1] - bounds[k][0] for k in morph_scenes), default=1)
    morph_key = _key(f"morph/{tag}/{morph_len}")
    if morph_scenes:
        a, b = photo(width, height, 200), photo(width, height, 201)
        with cache.writer(morph_key, (morph_len, height, width, 3), kind="image.morph") as dst:
            morph_into(dst, a, b)
        assets.morph = cache.get(morph_key, verify=False)

    cap_h = max(12, height // 18)
    texts = ["Nyeshkerh", "what the machine remembers", "Say it, and it is still here."]

    with cache.writer(_key(f"music/{samples}"), (samples, 2), np.float32, kind="music.generate") as dst:
        music_into(dst)
    assets.music = cache.get(_key(f"music/{samples}"), verify=False)
    line = dialogue()
    assets.dialogue = line
    cache.put(_key("dialogue"), line, kind="voice.speak")

    box = round(height * 400 / 720)
    tracks: list[SceneTrack] = []
    audio: list[AudioClip] = [AudioClip(start=0, length=samples, artifact=_key(f"music/{samples}"), gain_db=-4.0,
                                        fade_in=SAMPLE_RATE, fade_out=2 * SAMPLE_RATE, duck=True, role="music",
                                        name="music")]
    fade = Fade(fps // 2, fps // 2)
    for k, (s, e) in enumerate(bounds):
        text = texts[k % len(texts)] if scenes <= len(texts) else f"{texts[k % len(texts)]} ({k + 1})"
        cap = caption(text, cap_h)
        ck = _key(f"caption{k}/{tag}/{text}")
        cache.put(ck, cap, kind="text.plain")
        assets.captions.append(cap)
        layers: list[Any] = []
        if k % 2 == 0:
            zoom = (1.0, 1.15) if k % 4 == 0 else (1.15, 1.0)
            pan = None if k % 4 == 0 else "left"
            layers.append(StillLayer(start=s, end=e, artifact=assets.keys["stills"][(k // 2) % 2], zoom=zoom, pan=pan))
            x = round(width * 0.08) if k % 4 == 0 else width - round(width * 0.08) - box
            layers.append(SequenceLayer(start=s, end=e, artifact=_key("face"), loop=True,
                                        box=Box(x, (height - box) // 2, box, box), role="portrait"))
        else:
            layers.append(SequenceLayer(start=s, end=e, artifact=morph_key, loop=True, role="morph"))
        cs = s + fps
        ce = min(e - fps // 2, cs + 4 * fps)
        position = ("bottom", "center", "top")[k % 3]
        layers.append(TextLayer(start=cs, end=ce, artifact=ck, position=position, fade=fade))  # type: ignore[arg-type]
        tracks.append(SceneTrack(index=k, title=f"scene {k + 1}", start=s, end=e, layers=tuple(layers)))
        if k % dialogue_every == 0:
            at = (s + round(fps * 1.5)) * SAMPLE_RATE // fps
            audio.append(AudioClip(start=at, length=line.shape[0], artifact=_key("dialogue"), role="dialogue",
                                   name=f"line {k}"))
    overlaps = tuple(Overlap("crossfade", k, k + 1, bounds[k + 1][0], bounds[k][1]) for k in range(scenes - 1))
    timeline = Timeline(width=width, height=height, fps=Fraction(fps), frames=frames, sample_rate=SAMPLE_RATE,
                        samples=samples, scenes=tuple(tracks), overlaps=overlaps, audio=tuple(audio), subtitles=())
    return timeline, assets
