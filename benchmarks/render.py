"""Render speed: nyeshc vs an idiomatic MoviePy 2 script vs the encode-only bound.

One fixed timeline (``synthetic.py``: 30 s of 1280x720 at 24 fps, three scenes — Ken Burns
stills, an RGBA 256² face sequence upscaled into a 400² box, a 240-frame full-canvas morph,
two 1 s crossfades, three captions with fades, ducked music and a dialogue line) is rendered
in one run, with the same encoder settings (libx264 ``-preset medium -crf 20``, AAC 192k,
48 kHz), by:

1. **nyeshc, one stream**: ``render_film(..., use_segments=False)`` — mix, compose, one
   ffmpeg; nothing cached but the artifacts.
2. **nyeshc, segmented, cold**: ``render_film(...)`` as ``nyeshc build`` does it (a segment
   per span, assembled by stream copy), with no segment in the cache. The warm re-run (all
   segments cached) is reported too, for information.
3. **MoviePy 2, idiomatic**: the script a user would write for the same timeline —
   ``ImageClip(...).resized(lambda t: ...)`` for Ken Burns, ``ImageSequenceClip`` for the
   morph and the face (``resized`` into its box, ``Loop``), ``ImageClip`` for the captions
   (the same RGBA text images) with ``CrossFadeIn``/``CrossFadeOut``, a ``CompositeVideoClip``
   per scene, the scenes in a ``CompositeVideoClip`` with ``CrossFadeIn``, and
   ``CompositeAudioClip`` with ``MultiplyVolume`` over the dialogue for ducking;
   ``write_videofile(codec="libx264", preset="medium", ffmpeg_params=["-crf", "20"],
   audio_codec="aac", audio_bitrate="192k", audio_fps=48000)``.
4. **Encode-only bound**: the very frames nyeshc composes, computed beforehand into a raw file
   (page cache), piped to the same ffmpeg command (nyeshc's ``Encoder``) with the same mix.

Each configuration runs ``--repeat`` times, interleaved (so load spikes hit all of them); the
medians and their ratios are printed, with CPU seconds of this process (composition, mixing,
MoviePy's Python) and of the ffmpeg children (encoding) per run. Artifact generation and the
frame precomputation are not timed. Targets (DESIGN.md): MoviePy / nyeshc ≥ 4;
nyeshc / encode-only ≤ 1.1.

    python benchmarks/render.py [--seconds 30] [--repeat 3] [--skip-moviepy] [--preset medium] [--crf 20]

Needs ``pip install moviepy`` (2.x) for the baseline; without it that row is skipped.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402

from nyeshc.plan.model import Timeline  # noqa: E402
from nyeshc.render import Compositor, Encoder, mix, render_film  # noqa: E402
from nyeshc.store.cache import Cache  # noqa: E402

# --------------------------------------------------------------------------- measuring


class Run:
    """Wall seconds, CPU seconds of this process and of waited-for children (ffmpeg)."""

    def __init__(self, wall: float, own: float, children: float) -> None:
        self.wall, self.own, self.children = wall, own, children


def measure(fn: Callable[[], Any]) -> Run:
    s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)
    children = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return Run(wall, own, children)


def count_frames(path: Path) -> int:
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- the three renderers


def nyeshc_stream(timeline: Timeline, cache: Cache, out: Path, preset: str, crf: int) -> None:
    render_film(timeline, cache, out, preset=preset, crf=crf, use_segments=False)


def nyeshc_segments(timeline: Timeline, cache: Cache, out: Path, preset: str, crf: int) -> None:
    render_film(timeline, cache, out, preset=preset, crf=crf, use_segments=True)


def drop_segments(cache: Cache) -> int:
    n = 0
    for e in list(cache.entries()):
        if e.record.get("kind") == "render.segment":
            cache.discard(e.key)
            n += 1
    return n


def precompute(timeline: Timeline, cache: Cache, path: Path) -> tuple[np.memmap, float]:
    """Every frame nyeshc composes, in a raw file (the encode-only input); compose seconds."""
    frames = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                       shape=(timeline.frames, timeline.height, timeline.width, 3))
    comp = Compositor(timeline, cache)
    t = time.perf_counter()
    for f in range(timeline.frames):
        frames[f] = comp.frame(f)
    took = time.perf_counter() - t
    frames.flush()
    return frames, took


def encode_only(timeline: Timeline, frames: np.ndarray, audio: np.ndarray, out: Path, preset: str, crf: int) -> None:
    with Encoder(out, timeline.width, timeline.height, timeline.fps, audio=audio, preset=preset, crf=crf,
                 sample_rate=timeline.sample_rate) as enc:
        for f in range(frames.shape[0]):
            enc.write(frames[f])


def moviepy_script(timeline: Timeline, assets: synthetic.Assets, out: Path, preset: str, crf: int) -> None:
    """The timeline as an idiomatic MoviePy 2 script (what a user would write by hand)."""
    from moviepy import (
        AudioArrayClip,
        CompositeAudioClip,
        CompositeVideoClip,
        ImageClip,
        ImageSequenceClip,
        afx,
        vfx,
    )

    W, H, fps = timeline.width, timeline.height, int(timeline.fps)
    rate = timeline.sample_rate
    scenes = sorted(timeline.scenes, key=lambda s: s.start)
    film_seconds = timeline.frames / fps

    def smooth(p: float) -> float:
        p = min(1.0, max(0.0, p))
        return p * p * (3 - 2 * p)

    clips = []
    for k, scene in enumerate(scenes):
        dur = (scene.end - scene.start) / fps
        layers = []
        for layer in scene.layers:
            start = (layer.start - scene.start) / fps
            length = (layer.end - layer.start) / fps
            if layer.kind == "still":
                img = assets.stills[assets.keys["stills"].index(layer.artifact)]
                ih, iw = img.shape[:2]
                base = max(W / iw, H / ih)  # cover the canvas at zoom 1
                z0, z1 = layer.zoom
                if layer.pan and max(z0, z1) <= 1.0:
                    z0, z1 = z0 * 1.1, z1 * 1.1

                def scale(t: float, z0: float = z0, z1: float = z1, length: float = length, base: float = base) -> float:
                    return base * z0 * (z1 / z0) ** smooth(t / length)

                def where(t: float, iw: int = iw, ih: int = ih, pan: Any = layer.pan,
                          scale: Callable[[float], float] = scale, length: float = length) -> tuple[float, float]:
                    s = scale(t)
                    x, y = (W - iw * s) / 2, (H - ih * s) / 2  # centred; a pan slides across the margin
                    if pan == "left":
                        x = x * (2 - 2 * smooth(t / length))  # the window travels right to left
                    return x, y

                clip = (ImageClip(img).with_duration(length).resized(scale)
                        .with_position(where if layer.pan else "center"))
            elif layer.kind == "sequence" and layer.role == "morph":
                clip = ImageSequenceClip(list(assets.morph), fps=fps).with_effects([vfx.Loop(duration=length)])
            elif layer.kind == "sequence":
                box = layer.box
                clip = (ImageSequenceClip(list(assets.face), fps=fps)
                        .resized((box.width, box.height))
                        .with_effects([vfx.Loop(duration=length)])
                        .with_position((box.x, box.y)))
            else:
                img = assets.captions[k]
                h, w = img.shape[:2]
                mx, my = round(0.05 * W), round(0.05 * H)
                y = {"bottom": H - h - my, "top": my, "center": (H - h) // 2}[layer.position]
                fade = layer.fade.fade_in / fps
                clip = (ImageClip(img).with_duration(length).with_position(((W - w) // 2, y))
                        .with_effects([vfx.CrossFadeIn(fade), vfx.CrossFadeOut(fade)]))
            layers.append(clip.with_start(start))
        scene_clip = CompositeVideoClip(layers, size=(W, H)).with_duration(dur).with_start(scene.start / fps)
        if k > 0:
            ov = next(o for o in timeline.overlaps if o.b == scene.index)
            scene_clip = scene_clip.with_effects([vfx.CrossFadeIn((ov.end - ov.start) / fps)])
        clips.append(scene_clip)
    video = CompositeVideoClip(clips, size=(W, H)).with_duration(film_seconds)

    # sound: music with fades and gain, ducked by 8 dB under each dialogue line
    music_clip = next(c for c in timeline.audio if c.role == "music")
    lines = [c for c in timeline.audio if c.role == "dialogue"]
    effects = [afx.MultiplyVolume(10 ** (music_clip.gain_db / 20)),
               afx.AudioFadeIn(music_clip.fade_in / rate), afx.AudioFadeOut(music_clip.fade_out / rate)]
    for c in lines:
        effects.append(afx.MultiplyVolume(10 ** (timeline.duck_db / 20), start_time=c.start / rate,
                                          end_time=(c.start + c.length) / rate))
    music = AudioArrayClip(np.asarray(assets.music), fps=rate).with_duration(film_seconds).with_effects(effects)
    voice = np.repeat(assets.dialogue, 2, axis=1)
    sounds = [music] + [AudioArrayClip(voice, fps=rate).with_start(c.start / rate) for c in lines]
    video = video.with_audio(CompositeAudioClip(sounds).with_duration(film_seconds))
    video.write_videofile(str(out), fps=fps, codec="libx264", preset=preset, ffmpeg_params=["-crf", str(crf)],
                          audio_codec="aac", audio_bitrate="192k", audio_fps=rate, logger=None)
    video.close()


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="film length (default 30; e.g. 3 for a smoke run)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each configuration (medians are reported)")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--crf", type=int, default=20)
    ap.add_argument("--skip-moviepy", action="store_true", help="leave the MoviePy baseline out")
    ap.add_argument("--keep", metavar="DIR", help="copy the last run's films here")
    args = ap.parse_args()

    try:
        import importlib.metadata

        import moviepy  # noqa: F401
        mp_version = importlib.metadata.version("moviepy")  # moviepy.__version__ says 2.1.2 in 2.2.1
    except ImportError:
        mp_version = None
    run_moviepy = not args.skip_moviepy and mp_version is not None

    tmp = Path(tempfile.mkdtemp(prefix="nyeshc-bench-render-"))
    try:
        cache = Cache(tmp / "cache")
        t = time.perf_counter()
        timeline, assets = synthetic.build(cache, seconds=args.seconds)
        print(f"timeline: {timeline.frames} frames of {timeline.width}x{timeline.height} at {timeline.fps} fps "
              f"({len(timeline.scenes)} scenes, {len(timeline.overlaps)} crossfades, {len(timeline.audio)} audio clips); "
              f"artifacts made in {time.perf_counter() - t:.1f} s (not timed)")
        audio = mix(timeline, cache)
        frames, compose_s = precompute(timeline, cache, tmp / "frames.npy")
        print(f"compose only (precomputing the encode-only input): {compose_s:.2f} s "
              f"({1000 * compose_s / timeline.frames:.1f} ms/frame)")
        print(f"settings: libx264 -preset {args.preset} -crf {args.crf}, aac 192k; moviepy {mp_version or 'absent'}; "
              f"{os.cpu_count()} cores; {load()}")

        configs: dict[str, Callable[[Path], None]] = {
            "encode-only": lambda o: encode_only(timeline, frames, audio, o, args.preset, args.crf),
            "nyeshc stream": lambda o: nyeshc_stream(timeline, cache, o, args.preset, args.crf),
            "nyeshc segmented cold": lambda o: (drop_segments(cache), nyeshc_segments(timeline, cache, o, args.preset, args.crf)),
            "nyeshc segmented warm": lambda o: nyeshc_segments(timeline, cache, o, args.preset, args.crf),
        }
        if run_moviepy:
            configs["moviepy"] = lambda o: moviepy_script(timeline, assets, o, args.preset, args.crf)
        results: dict[str, list[Run]] = {name: [] for name in configs}
        outs: dict[str, Path] = {}
        for r in range(args.repeat):
            for name, fn in configs.items():
                out = tmp / f"{name.replace(' ', '_')}.mp4"
                out.unlink(missing_ok=True)
                run = measure(lambda: fn(out))
                results[name].append(run)
                outs[name] = out
                print(f"  run {r + 1} {name:<22} {run.wall:7.2f} s wall   cpu: this process {run.own:6.2f} s, "
                      f"ffmpeg {run.children:6.2f} s   ({load()})", flush=True)

        print()
        for name, out in outs.items():
            n = count_frames(out)
            flag = "" if n == timeline.frames else f"   <-- expected {timeline.frames}"
            print(f"  {name:<22} {out.stat().st_size / 1e6:6.2f} MB, {n} frames{flag}")
        med = {name: statistics.median(r.wall for r in runs) for name, runs in results.items()}
        print()
        print(f"medians of {args.repeat} ({load()}):")
        for name, runs in results.items():
            own = statistics.median(r.own for r in runs)
            ch = statistics.median(r.children for r in runs)
            print(f"  {name:<22} {med[name]:7.2f} s   (cpu: this process {own:.2f} s, ffmpeg {ch:.2f} s; "
                  f"runs {', '.join(f'{r.wall:.2f}' for r in runs)})")
        print()
        ny, bound = med["nyeshc stream"], med["encode-only"]
        seg = med["nyeshc segmented cold"]
        print(f"nyeshc stream / encode-only:          {ny / bound:5.2f}x   (target ≤ 1.10)")
        print(f"nyeshc segmented cold / encode-only:  {seg / bound:5.2f}x")
        if "moviepy" in med:
            mp = med["moviepy"]
            print(f"MoviePy / nyeshc stream:              {mp / ny:5.2f}x   (target ≥ 4)")
            print(f"MoviePy / nyeshc segmented cold:      {mp / seg:5.2f}x")
            print(f"MoviePy / encode-only:                {mp / bound:5.2f}x")
        else:
            print("MoviePy baseline skipped" + ("" if mp_version else " (moviepy is not installed)"))
        # Less sensitive to other jobs on the machine: ratios within each repeat (the runs of one
        # repeat follow each other), and ratios of CPU seconds (this process + ffmpeg).
        def cpu(name: str) -> float:
            return statistics.median(r.own + r.children for r in results[name])

        def paired(a: str, b: str) -> str:
            rs = [x.wall / y.wall for x, y in zip(results[a], results[b])]
            return f"median {statistics.median(rs):.2f}x (" + ", ".join(f"{x:.2f}" for x in rs) + ")"

        print()
        print("per-repeat wall ratios, and ratios of total CPU seconds (medians):")
        pairs = [("nyeshc stream", "encode-only"), ("nyeshc segmented cold", "encode-only")]
        if "moviepy" in results:
            pairs += [("moviepy", "nyeshc stream"), ("moviepy", "nyeshc segmented cold"), ("moviepy", "encode-only")]
        for a, b in pairs:
            print(f"  {a} / {b}: wall {paired(a, b)}; cpu {cpu(a):.1f} / {cpu(b):.1f} s = {cpu(a) / cpu(b):.2f}x")
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for out in outs.values():
                shutil.copy2(out, keep / out.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
