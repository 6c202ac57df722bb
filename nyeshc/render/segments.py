"""Scene segments and the final assembly: ``render_film``.

The film is cut into *spans*: each scene's frames outside any transition, each transition
overlap, and any black gap. Each span is a **segment** with a content key (the SHA-256 of what
determines its pixels: the scene's layers with times relative to the scene's start, its fades
and length, the span's place in the scene, the canvas, fps, the encoder settings and
``SEGMENT_VERSION``; for an overlap both scenes' content plus the overlap). Renaming or moving a
scene along the timeline keeps its key. Scenes are further cut every ``SEGMENT_SECONDS`` (counted
from the scene's start), and a segment's key holds only the layers shown during it, so editing
one line of one scene changes the keys of the segments (and overlaps) showing that line only.

What a segment stores: its **final H.264 encode**, i.e. an MP4 encoded with the film's own
settings (libx264, yuv420p, preset, crf; each segment starts with an IDR frame, so it decodes on
its own). The assembly is then ffmpeg's concat demuxer with ``-c:v copy`` plus the mix's AAC
encode, also copied: no frame is decoded or encoded again, so a one-line edit costs one scene's
compose+encode and a copy. The AAC encode (~2 s for a 67 s film here) is cached too, under
:func:`audio_key` (kind ``render.audio``): a build whose sound did not change copies it; one
whose sound changed encodes it in an ffmpeg of its own while the segments are composed. The
alternative, a lossless intermediate (``-qp 0`` or FFV1) decoded and re-encoded at assembly,
makes every assembly cost at least the whole film's encode (the very thing the cache is meant
to skip) and stores segments several times larger; see
``docs/_sections/render.md`` for the measurements. The cost of this choice: a forced keyframe at
every span boundary, which costs a few kB where the picture usually cuts or dissolves anyway.

Frame exactness: every segment is encoded from raw frames at the timeline's exact fps, so its
duration is ``frames / fps``; the concat demuxer restamps each file from the previous ones'
durations, so the assembled stream has exactly ``timeline.frames`` frames at consecutive
timestamps (the tests decode and count them).

Segments live in the artifact cache as ``uint8`` byte arrays (``.npy``, kind
``render.segment``), so they share its atomic writes, checksums and ``nyeshc cache`` tooling.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nyeshc import media
from nyeshc.hashing import content_key
from nyeshc.media import DEFAULT_CRF, DEFAULT_PRESET
from nyeshc.plan.model import (
    PIECE_SECONDS,
    SEGMENT_SECONDS,
    Overlap,
    SceneTrack,
    Timeline,
    piece_frames,
    segment_frames,
)
from nyeshc.render.composing import Composers, Piece, compose_spans, share
from nyeshc.render.compositor import Compositor
from nyeshc.render.encoder import (
    EncodeError,
    Encoder,
    metadata_args,
    partial_path,
    run_ffmpeg,
    sigterm_guard,
    unlink_quietly,
    write_wav,
)
from nyeshc.render.mixer import mix, mix_key
from nyeshc.store.cache import Cache
from nyeshc.world import atomic_write_text, publish

__all__ = ["render_film", "render_still", "write_png", "spans", "Span", "SEGMENT_SECONDS", "SEGMENT_VERSION",
           "SoundAhead", "audio_key"]

SEGMENT_VERSION = 3  # bump when the compositor's output for the same inputs changes (3: camera moves on sequences, zoom below 1, morph overlaps keep the framing)

ProgressCallback = Callable[[int, int], None]  # (frames done, frames total)


@dataclass(frozen=True)
class Span:
    """Frames ``[start, end)`` showing one scene alone, one overlap, or black."""

    start: int
    end: int
    kind: str  # "scene" | "overlap" | "black"
    scene: SceneTrack | None = None
    overlap: Overlap | None = None


def spans(timeline: Timeline) -> list[Span]:
    """The film cut at every scene and overlap boundary, adjacent pieces of one thing merged."""
    cuts = {0, timeline.frames}
    for s in timeline.scenes:
        cuts.update((s.start, s.end))
    for o in timeline.overlaps:
        cuts.update((o.start, o.end))
    points = sorted(c for c in cuts if 0 <= c <= timeline.frames)
    by_index = {s.index: s for s in timeline.scenes}
    out: list[Span] = []
    for p, q in zip(points, points[1:]):
        ov = next((o for o in timeline.overlaps if o.start <= p < o.end and o.a in by_index and o.b in by_index), None)
        if ov is not None:
            sp = Span(p, q, "overlap", overlap=ov)
        else:
            sc = None
            for s in sorted(timeline.scenes, key=lambda s: s.start):
                if s.start <= p < s.end:
                    sc = s
            sp = Span(p, q, "scene", scene=sc) if sc is not None else Span(p, q, "black")
        prev = out[-1] if out else None
        if prev is not None and prev.end == p and (prev.kind, prev.scene, prev.overlap) == (sp.kind, sp.scene, sp.overlap):
            out[-1] = dataclasses.replace(prev, end=q)
        else:
            out.append(sp)
    return [piece for sp in out for piece in _chunks(sp, timeline)]


MIN_PIECE_SECONDS = PIECE_SECONDS
"""Inside a 4 s cell, a segment is also cut where a layer starts or ends, unless the piece would
be shorter than this: a caption shown for 3 s re-renders those 3 s (a piece of at least a
second on either side), not the 8 s of the two cells it falls in. Each piece is one encoder run
starting on a keyframe, so pieces are not cut finer than this. Edges on the piece grid (every
``PIECE_SECONDS`` from the scene's start: a beat's hold, drawn in pieces on it) are cut at
first, so an edge that moves with an edit (a line's subtitle ending) never takes their place."""


def _chunks(sp: Span, timeline: Timeline) -> list[Span]:
    """A scene span cut at every ``SEGMENT_SECONDS`` from its scene's start (so the cuts move
    with the scene), and inside each of those cells where a layer starts or ends (at least
    ``MIN_PIECE_SECONDS`` from the cell's other cuts, edges on the piece grid first: what is
    decided in one cell never moves a cut in another); other spans whole."""
    if sp.kind != "scene" or sp.scene is None:
        return [sp]
    step = segment_frames(timeline.fps)
    least = piece_frames(timeline.fps)  # MIN_PIECE_SECONDS is the piece grid's step
    s0 = sp.scene.start
    grid = [sp.start] + [c for c in range(s0 + step * ((sp.start - s0) // step + 1), sp.end, step)] + [sp.end]
    edges = sorted({t for L in sp.scene.layers for t in (L.start, L.end) if sp.start < t < sp.end})
    cuts = [grid[0]]
    for a, b in zip(grid, grid[1:]):
        inside: list[int] = []
        for t in sorted((t for t in edges if a < t < b), key=lambda t: ((t - s0) % least != 0, t)):
            if t - a >= least and b - t >= least and all(abs(t - c) >= least for c in inside):
                inside.append(t)
        cuts += sorted(inside) + [b]
    return [dataclasses.replace(sp, start=a, end=b) for a, b in zip(cuts, cuts[1:])]


# --------------------------------------------------------------------------- keys


def _shift(obj: Any, by: int) -> Any:
    """A layer as plain data with its frame times made relative (``start``/``end`` - ``by``)."""
    d = dataclasses.asdict(obj)
    for k in ("start", "end"):
        if k in d:
            d[k] -= by
    return d


def _scene_content(scene: SceneTrack, start: int, end: int) -> dict[str, Any]:
    """What determines the pixels of ``scene`` in frames ``[start, end)``: its length and fades
    and the layers shown then (the compositor draws nothing else), times relative to the scene."""
    return {"length": scene.end - scene.start, "fade_in": scene.fade_in, "fade_out": scene.fade_out,
            "layers": [_shift(L, scene.start) for L in scene.layers if L.start < end and L.end > start]}


def segment_key(timeline: Timeline, span: Span, settings: dict[str, Any]) -> str:
    """The content key of ``span``'s encoded segment."""
    body: dict[str, Any] = {"v": SEGMENT_VERSION, "canvas": [timeline.width, timeline.height],
                            "fps": str(timeline.fps), "encode": settings, "kind": span.kind,
                            "length": span.end - span.start}
    if span.kind == "scene":
        assert span.scene is not None
        body["scene"] = _scene_content(span.scene, span.start, span.end)
        body["from"] = span.start - span.scene.start
    elif span.kind == "overlap":
        ov = span.overlap
        assert ov is not None
        scenes = {s.index: s for s in timeline.scenes}
        a, b = scenes[ov.a], scenes[ov.b]
        body.update(a=_scene_content(a, span.start, span.end), b=_scene_content(b, span.start, span.end),
                    overlap=ov.kind, morph=ov.morph,
                    length_overlap=ov.end - ov.start, from_overlap=span.start - ov.start,
                    from_a=span.start - a.start, from_b=span.start - b.start)
    return content_key(body, loose=True)


# --------------------------------------------------------------------------- progress


@contextlib.contextmanager
def _progress(progress: bool | ProgressCallback | None, total: int, label: str) -> Iterator[ProgressCallback]:
    if callable(progress):
        yield progress
        return
    if not progress:
        yield lambda done, tot: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    start = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[fps]} fps"), TimeRemainingColumn(), transient=False) as bar:
        task = bar.add_task(label, total=total, fps="-")

        def update(done: int, tot: int) -> None:
            dt = time.perf_counter() - start
            bar.update(task, completed=done, fps=f"{done / dt:.1f}" if dt > 0 else "-")

        yield update


# --------------------------------------------------------------------------- rendering


def render_still(timeline: Timeline, cache: Cache, frame: int) -> np.ndarray:
    """Frame ``frame`` of the film, ``uint8 (H, W, 3)`` (a copy)."""
    return Compositor(timeline, cache).frame(frame).copy()


def write_png(path: str | os.PathLike[str], frame: np.ndarray) -> Path:
    """Save ``frame`` as a PNG, atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(target, ".png")
    try:
        Image.fromarray(np.ascontiguousarray(frame)).save(tmp, format="PNG")
        publish(tmp, target)
    except BaseException:
        unlink_quietly(tmp)
        raise
    return target


def _video_args(preset: str, crf: int) -> list[str]:
    return ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", preset, "-crf", str(crf),
            # SPS/PPS in band at every keyframe: each segment stays self-describing after concat
            "-bsf:v", "dump_extra=freq=keyframe"]


def render_film(timeline: Timeline, cache: Cache, out_path: str | os.PathLike[str], *,
                preset: str = DEFAULT_PRESET, crf: int = DEFAULT_CRF,
                progress: bool | ProgressCallback | None = None,
                frame_range: tuple[int, int] | None = None, use_segments: bool = True,
                metadata: Mapping[str, str] | None = None, workers: int = 1,
                sound: SoundAhead | None = None) -> Path:
    """Render ``timeline`` to an H.264/AAC MP4 at ``out_path`` (atomically); returns the path.

    With ``use_segments`` every span's encode is looked up in / stored to ``cache`` and the film
    is assembled by stream copy. ``frame_range=(a, b)`` renders frames ``[a, b)`` only (with the
    matching audio), straight through one encoder and without segments. ``progress`` is a
    callback ``(done, total)`` or ``True`` for a rich progress bar. ``metadata`` are the MP4's
    tags (``encoder.film_metadata(film)``: title, artist); they are written at assembly, never
    into a cached segment, so they change no segment's key. ``workers``: processes composing the
    segments to render (each with its own encoder; see :class:`.composing.Composers`); 1 composes
    them here, one after another. ``sound``: the film's sound started in a thread while the jobs
    ran: the render waits for that thread (its mix, and its encoder started) before composing,
    and finishes the encode at assembly.
    """
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    lo, hi = (0, timeline.frames) if frame_range is None else frame_range
    lo, hi = max(0, lo), min(timeline.frames, hi)
    if hi <= lo:
        raise ValueError(f"empty frame range {frame_range} for a film of {timeline.frames} frames")
    with sigterm_guard():
        if sound is not None:
            sound.join()  # no other thread when the composers are forked
        audio = mix(timeline, cache)
        if frame_range is not None or not use_segments:
            audio = audio[timeline.frame_to_sample(lo):timeline.frame_to_sample(hi)]
            comp = Compositor(timeline, cache)
            with _progress(progress, hi - lo, out.name) as tick, \
                    Encoder(out, timeline.width, timeline.height, timeline.fps, audio=audio, preset=preset,
                            crf=crf, sample_rate=timeline.sample_rate, metadata=metadata) as enc:
                for f in range(lo, hi):
                    enc.write(comp.frame(f))
                    tick(f - lo + 1, hi - lo)
            return out
        return _render_segmented(timeline, cache, out, audio, preset, crf, progress, metadata, workers, sound)


def encode_settings(preset: str, crf: int) -> dict[str, Any]:
    """What of the encoder's configuration goes into a segment's key."""
    return {"codec": "libx264", "pix_fmt": "yuv420p", "preset": preset, "crf": crf}


def segment_keys(timeline: Timeline, preset: str = DEFAULT_PRESET, crf: int = DEFAULT_CRF) -> set[str]:
    """The keys of every segment of ``timeline`` encoded with these settings (for ``cache gc``)."""
    settings = encode_settings(preset, crf)
    return {segment_key(timeline, sp, settings) for sp in spans(timeline)}


#: where a build notes which assembly each output file holds (see :func:`assembled`)
OUTPUTS = "outputs"


AUDIO = {"codec": "aac", "bitrate": "192k"}


def audio_key(timeline: Timeline) -> str:
    """The content key of the film's encoded sound (an MP4 holding the mix as AAC): the mix's key
    and the encoding."""
    return content_key({"mix": mix_key(timeline), **AUDIO, "rate": timeline.sample_rate}, loose=True)


def _audio_args(wav: Path, out: Path, rate: int) -> list[str]:
    return ["-y", "-i", os.fspath(wav), "-map", "0:a:0", "-c:a", AUDIO["codec"], "-b:a", AUDIO["bitrate"],
            "-ar", str(rate), "-f", "mp4", os.fspath(out)]


def _start_sound_encode(audio: np.ndarray, folder: Path, rate: int, what: str) -> subprocess.Popen[bytes]:
    """The mix written to ``folder/mix.wav`` and its AAC encode into ``folder/audio.m4a`` started
    in an ffmpeg of its own (the caller finishes it); ``what`` names it if ffmpeg cannot run."""
    wav = folder / "mix.wav"
    write_wav(wav, audio, rate)
    try:
        return media.start(_audio_args(wav, folder / "audio.m4a", rate))
    except OSError as exc:
        raise EncodeError(f"{what}: cannot run ffmpeg: {exc}") from None


class SoundAhead:
    """The film's sound started in a thread while the jobs run: mixed (:func:`mix`, cached) and
    its AAC encode begun in an ffmpeg of its own, as soon as the jobs the clips come from are
    done and a core is free (the executor's ``when_done``: :attr:`needs`), so that a dialogue
    edit's mix takes a core the lip-sync's jobs leave free instead of its own time before the
    composing. The thread ends once the encoder is started: :func:`render_film` waits for it
    (``join``) before it forks its composing processes — a process forked while another thread
    runs may inherit a lock that thread holds, and hang — and takes the encoder over (``take``),
    finishing it at assembly as it finishes its own.

    A failure here is only remembered (:attr:`error`): the render mixes and encodes again and
    reports it as it always did. :meth:`cancel` (Ctrl-C, SIGTERM, a failed job, the end of the
    build) stops the mix between blocks, kills an encoder not taken over and removes the
    thread's scratch folder (beside the output): nothing is cached half-made."""

    def __init__(self, timeline: Timeline, cache: Cache, folder: Path) -> None:
        self.timeline, self.cache, self.folder = timeline, cache, folder
        self.key = audio_key(timeline)
        self.needs = frozenset(c.artifact for c in timeline.audio)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._work: Path | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def wanted(self) -> bool:
        """Whether there is anything to make (the encoded sound is not cached yet)."""
        return not self.cache.has(self.key)

    def start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name="nyeshc-sound", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        tl = self.timeline
        try:
            audio = mix(tl, self.cache, stop=self._stop.is_set)
            with self._lock:
                if self._stop.is_set():
                    return
                self._work = Path(tempfile.mkdtemp(prefix=".sound-", dir=self.folder))
            proc = _start_sound_encode(audio, self._work, tl.sample_rate, "encoding the film's sound")
            del audio
            with self._lock:
                if not self._stop.is_set():
                    self._proc, proc = proc, None
            if proc is not None:  # cancelled meanwhile
                proc.kill()
                proc.wait()
        except BaseException as exc:  # noqa: BLE001 - met again, and reported, by the render
            self.error = exc

    def join(self) -> None:
        """Wait for the thread (started or not): the mix is made (or failed), the encoder started."""
        if self._thread is not None:
            self._thread.join()

    def take(self) -> tuple[subprocess.Popen[bytes], Path] | None:
        """The encoder the thread started and the file it writes (the caller finishes it), or
        ``None``; call after :meth:`join`."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or self._work is None:
            return None
        return proc, self._work / "audio.m4a"

    def cancel(self) -> None:
        with self._lock:
            self._stop.set()
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self.join()
        with self._lock:
            work, self._work = self._work, None
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def assembly_key(timeline: Timeline, settings: Mapping[str, Any], metadata: Mapping[str, str] | None) -> str:
    """What the assembled file is made of: every segment's key in order, the encoded sound
    (:func:`audio_key`: the mix and its encoding) and the tags. Two builds with the same key write the same MP4."""
    return content_key({"segments": [segment_key(timeline, sp, dict(settings)) for sp in spans(timeline)],
                        "sound": audio_key(timeline),
                        "metadata": dict(metadata or {}), "movflags": "+faststart"}, loose=True)


def _stamp_path(cache: Cache, out: Path) -> Path:
    name = content_key({"output": os.fspath(out.resolve())}, loose=True)[:24]
    return cache.root / OUTPUTS / f"{name}.json"


def _file_state(out: Path) -> dict[str, int] | None:
    try:
        st = out.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def assembled(cache: Cache, out: Path, key: str) -> bool:
    """Whether ``out`` is, untouched, the file this cache last assembled for ``key``: the note
    written at assembly names the key and the file's size, modification time and inode, so a file
    replaced, edited or touched since is assembled again."""
    state = _file_state(out)
    if state is None:
        return False
    try:
        note = json.loads(_stamp_path(cache, out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(note, dict) and note.get("key") == key and note.get("file") == state


def _note_assembled(cache: Cache, out: Path, key: str) -> None:
    state = _file_state(out)
    if state is None:
        return
    with contextlib.suppress(OSError):  # only an optimisation: the next build assembles again
        path = _stamp_path(cache, out)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "file": state, "output": os.fspath(out.resolve())}))


def _write_bytes(path: Path, data: np.ndarray) -> None:
    """A cached byte array (a segment, the encoded sound) as the file ffmpeg reads."""
    with open(path, "wb") as fh:
        fh.write(memoryview(np.ascontiguousarray(data)).cast("B"))


def _render_segmented(timeline: Timeline, cache: Cache, out: Path, audio: np.ndarray, preset: str, crf: int,
                      progress: bool | ProgressCallback | None, metadata: Mapping[str, str] | None = None,
                      workers: int = 1, ahead: SoundAhead | None = None) -> Path:
    settings = encode_settings(preset, crf)
    whole = assembly_key(timeline, settings, metadata)
    if assembled(cache, out, whole):  # nothing changed since this file was written: no ffmpeg at all
        with _progress(progress, timeline.frames, out.name) as tick:
            tick(timeline.frames, timeline.frames)
        return out
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.segments-", dir=out.parent))
    partial: Path | None = None
    sound, sound_key = work / "audio.m4a", audio_key(timeline)
    sound_proc: subprocess.Popen[bytes] | None = None  # the AAC encode, beside the segments
    try:
        encoded = cache.get(sound_key)
        handed = ahead.take() if ahead is not None else None
        if encoded is not None:
            _write_bytes(sound, encoded)
        elif handed is not None:  # the encode begun while the jobs ran: finished at assembly
            sound_proc, sound = handed
        else:
            sound_proc = _start_sound_encode(audio, work, timeline.sample_rate, f"encoding the sound of {out.name}")
        files: list[Path] = []
        todo: list[Piece] = []
        done = 0
        for i, sp in enumerate(spans(timeline)):
            key = segment_key(timeline, sp, settings)
            seg = work / f"{i:05d}.mp4"
            data = cache.get(key)
            if data is not None:
                _write_bytes(seg, data)
                done += sp.end - sp.start
            else:
                todo.append((sp.start, sp.end, key, seg))
            files.append(seg)
        groups = share(todo, workers)
        video = _video_args(preset, crf)
        composers = Composers(timeline, cache, groups, video) if len(groups) > 1 else None
        try:
            with _progress(progress, timeline.frames, out.name) as tick, sigterm_guard():
                tick(done, timeline.frames)

                def step(frames: int) -> None:
                    nonlocal done
                    done += frames
                    tick(done, timeline.frames)

                if composers is not None:
                    composers.wait(step)
                elif todo:
                    compose_spans(timeline, cache, todo, video, step)
        finally:
            if composers is not None:
                composers.stop()
        listing = work / "segments.ffconcat"
        listing.write_text("ffconcat version 1.0\n" + "".join(f"file {p.name}\n" for p in files), encoding="utf-8")
        if sound_proc is not None:
            media.finish(sound_proc, f"encoding the sound of {out.name}", error=EncodeError)
            sound_proc = None
            cache.put(sound_key, np.fromfile(sound, dtype=np.uint8), kind="render.audio")
        partial = partial_path(out, out.suffix or ".mp4")
        run_ffmpeg(["-y", "-f", "concat", "-safe", "0", "-i", os.fspath(listing), "-i", os.fspath(sound),
                    "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                    *metadata_args(metadata), "-movflags", "+faststart", os.fspath(partial)],
                   f"assembling {out.name}")
        publish(partial, out)
        partial = None
        _note_assembled(cache, out, whole)
        return out
    finally:
        if sound_proc is not None and sound_proc.poll() is None:  # and the sound's encoder
            sound_proc.kill()
            sound_proc.wait()
        unlink_quietly(partial)
        shutil.rmtree(work, ignore_errors=True)
