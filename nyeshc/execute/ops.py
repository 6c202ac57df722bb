"""The dispatcher: one small function per job kind (the table in ``docs/dev/jobs.md``).

This file is long (about 800 lines) on purpose: one small function per job kind (the table in
``docs/dev/jobs.md``), with the checks they share; a kind is found by reading its function here.

:func:`run_job` looks the job's ``kind`` up in :data:`OPS`, loads its backend with
``registry.load(job.backend, job.settings)``, calls it with the decoded input artifacts and
checks that what comes back is what the job declared (dtype, shape, channels): a backend that
returns something else is a :class:`BackendError` naming the job and the backend, never a
confusing failure in the renderer three stages later.

Long outputs are streamed: ``image.morph`` renders frame by frame and ``asset.video`` decodes
frame by frame straight into a ``Cache.writer`` memory map, so a 2,000-frame morph never sits
in memory. Such ops store the artifact themselves and return the cached (memory-mapped) array;
the caller sees that ``cache.has(job.key)`` is already true. Every other op returns the
artifact for the caller to store. With ``cache=None`` everything is built in memory.

Built-in operations (``backend == ""``) decode the user's assets with Pillow and, through
:mod:`nyeshc.media` (the ffmpeg gate), the ffmpeg binary of ``imageio-ffmpeg``.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc import media
from nyeshc.backends import registry
from nyeshc.backends.base import (
    SAMPLE_RATE,
    Alphabet,
    BackendError,
    Phonemes,
    Portrait,
    ProgressFn,
    RigState,
)
from nyeshc.plan.model import Job
from nyeshc.store.cache import Cache
from nyeshc.store.frames import FrameSequence
from nyeshc.world import reserve_space

Op = Callable[[Job, Sequence[Any], "Cache | None", ProgressFn], Any]


def _noop(_fraction: float) -> None:
    pass


def run_job(job: Job, inputs: Sequence[Any], cache: Cache | None = None,
            progress: ProgressFn | None = None) -> Any:
    """Perform ``job`` on its decoded ``inputs`` (artifacts in ``job.inputs`` order).

    Returns the artifact. Ops that stream (``image.morph``, ``asset.video``) write it into
    ``cache`` under ``job.key`` themselves when a cache is given. Raises :class:`BackendError`
    for a bad job, a failing backend or an output that is not what the job declared.
    """
    op = OPS.get(job.kind)
    if op is None:
        raise BackendError(f"unknown job kind {job.kind!r} (job {job.name!r}); "
                           f"known kinds: {', '.join(sorted(OPS))}")
    if len(job.inputs) != len(inputs):
        raise BackendError(f"job {job.name!r} ({job.kind}) lists {len(job.inputs)} inputs "
                           f"but was given {len(inputs)}")
    return op(job, inputs, cache, progress or _noop)


# --------------------------------------------------------------------------- helpers


def _param(job: Job, name: str) -> Any:
    try:
        return job.params[name]
    except KeyError:
        raise BackendError(f"job {job.name!r} ({job.kind}) lacks the parameter {name!r}") from None


def _int(job: Job, name: str, minimum: int = 0) -> int:
    value = _param(job, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value \
            or value < minimum:
        raise BackendError(f"job {job.name!r} ({job.kind}): parameter {name!r} must be an integer "
                           f">= {minimum} (got {value!r})")
    return int(value)


def _fps(job: Job, name: str = "fps") -> Fraction:
    """A frame rate given as a number or a fraction string ("24000/1001")."""
    value = _param(job, name)
    try:
        fps = Fraction(str(value)) if not isinstance(value, (int, Fraction)) else Fraction(value)
    except (ValueError, ZeroDivisionError):
        fps = Fraction(-1)
    if fps <= 0:
        raise BackendError(f"job {job.name!r} ({job.kind}): {name} must be positive (got {value!r})")
    return fps


def _rgb(job: Job, name: str) -> tuple[int, int, int]:
    value = _param(job, name)
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise BackendError(f"job {job.name!r} ({job.kind}): {name!r} must be [r, g, b] (got {value!r})")
    return (int(value[0]), int(value[1]), int(value[2]))


def _backend(job: Job) -> Any:
    if not job.backend:
        raise BackendError(f"job {job.name!r} ({job.kind}) names no backend")
    backend = registry.load(job.backend, job.settings)
    version = str(getattr(backend, "version", ""))
    if job.backend_version and version != job.backend_version:
        # the key says another version made it: storing this output under it would lie
        raise BackendError(f"backend {job.backend} is version {version}, but the plan was made with "
                           f"version {job.backend_version}; plan the film again")
    return backend


def _who(job: Job) -> str:
    return f"{job.kind} job {job.name!r} (backend {job.backend or 'built-in'})"


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def check_array(job: Job, value: Any, dtype: type, shape: tuple[int | None, ...],
                channels: tuple[int, ...] | None = None, what: str = "output") -> np.ndarray:
    """``value`` as an array of ``dtype`` whose shape matches ``shape`` (``None``: any size) and
    whose last axis is one of ``channels``; else a :class:`BackendError` naming the job."""
    ok = isinstance(value, np.ndarray) and value.dtype == np.dtype(dtype) and value.ndim == len(shape)
    if ok:
        ok = all(want is None or got == want for got, want in zip(value.shape, shape))
    if ok and channels is not None:
        ok = value.shape[-1] in channels
    if not ok:
        axes = ["N" if s is None else str(s) for s in shape]
        if channels is not None:
            axes[-1] = "|".join(map(str, channels))
        want = ", ".join(axes)
        raise BackendError(f"{_who(job)} returned a {_describe(value)} as its {what}; "
                           f"expected {np.dtype(dtype)} ({want})")
    return value


def _input(job: Job, inputs: Sequence[Any], i: int, kind: str) -> Any:
    value = inputs[i]
    if kind == "portrait":
        if not isinstance(value, Portrait):
            raise BackendError(f"{_who(job)}: input {i} is a {_describe(value)}, expected a Portrait")
        return value
    if kind == "rig":
        if not isinstance(value, RigState):
            raise BackendError(f"{_who(job)}: input {i} is a {_describe(value)}, expected a RigState")
        return value
    if kind == "alphabet":
        if not isinstance(value, Alphabet):
            raise BackendError(f"{_who(job)}: input {i} is a {_describe(value)}, expected an Alphabet")
        return value
    if kind == "frames" and isinstance(value, FrameSequence):  # a compressed cache entry
        return value
    if not isinstance(value, np.ndarray):
        raise BackendError(f"{_who(job)}: input {i} is a {_describe(value)}, expected an array ({kind})")
    return value


@contextlib.contextmanager
def _frames_array(cache: Cache | None, frames: Any) -> Iterator[np.ndarray]:
    """``frames`` as the ``np.ndarray`` the backend protocols promise: a compressed sequence is
    decoded into a scratch memory map (disk, not memory, as the raw cache entry was)."""
    if not isinstance(frames, FrameSequence):
        yield frames
        return
    with _scratch_frames(cache, tuple(frames.shape)) as buf:
        for i in range(len(frames)):
            buf[i] = frames[i]
        yield buf


def _inputs(job: Job, inputs: Sequence[Any], *, at_least: int, at_most: int | None = None) -> None:
    n = len(inputs)
    if n < at_least or (at_most is not None and n > at_most):
        want = f"{at_least}" if at_most == at_least else f"{at_least}..{at_most if at_most is not None else 'n'}"
        raise BackendError(f"{_who(job)} needs {want} inputs, got {n}")


@contextlib.contextmanager
def _frames_out(job: Job, cache: Cache | None, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Where a streamed frame sequence goes: the cache's memory map, or memory."""
    if cache is None:
        yield np.zeros(shape, np.uint8)
    else:
        with cache.writer(job.key, shape, np.uint8, backend=job.backend, kind=job.kind) as out:
            yield out


def _cached(job: Job, cache: Cache | None, fallback: np.ndarray) -> np.ndarray:
    if cache is None:
        return fallback
    got = cache.get(job.key, verify=False)
    if got is None:  # pragma: no cover - the writer just committed it
        raise BackendError(f"{_who(job)}: the cache lost the output it just wrote")
    return got


def _progress_steps(n: int, progress: ProgressFn) -> Callable[[int], None]:
    step = max(1, n // 50)

    def tick(i: int) -> None:
        if i % step == 0 or i == n - 1:
            progress((i + 1) / n)

    return tick


# --------------------------------------------------------------------------- image


def _prompt_option(job: Job, method: Callable[..., Any]) -> dict[str, str]:
    """``{"prompt": text}`` when the job's params hold the look's words (``generate "…"``, or a
    scene heading's place and time of day), for a backend whose ``sample`` takes them; ``{}``
    without, so backends written before prompts existed keep working. As
    :func:`_script_option`: a backend without the keyword is a :class:`BackendError` naming the
    option."""
    value = job.params.get("prompt")
    if value is None:
        return {}
    if not isinstance(value, str):
        raise BackendError(f"job {job.name!r} ({job.kind}): parameter 'prompt' must be text (got {value!r})")
    import inspect

    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):
        return {"prompt": value}
    if "prompt" not in sig.parameters and not any(p.kind is inspect.Parameter.VAR_KEYWORD
                                                  for p in sig.parameters.values()):
        raise BackendError(f"{_who(job)}: the look has a prompt ({value!r}, from `generate \"…\"` or a scene "
                           f"heading's place), but backend {job.backend} does not take one (its sample() has no "
                           "'prompt' keyword; see docs/backends.md); remove the prompt, give the scene a "
                           "backdrop, or choose another backend")
    return {"prompt": value}


def op_image_latent(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    backend = _backend(job)
    # "prompt": the look's words (absent: none), which the backend may read into its latent
    extra = _prompt_option(job, backend.sample)
    latent = backend.sample(job.seed, float(job.params.get("truncation", 1.0)), **extra)
    return check_array(job, latent, np.float32, (None,))


def op_image_blend(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=2, at_most=2)
    a, b = _input(job, inputs, 0, "latent"), _input(job, inputs, 1, "latent")
    latent = _backend(job).blend(np.asarray(a), np.asarray(b), float(_param(job, "t")))
    # a prompted latent may carry more entries than a plain one (the CPPN's scene code)
    return check_array(job, latent, np.float32, (max(a.shape[0], b.shape[0]),))


def op_image_render(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=1, at_most=1)
    w, h = _int(job, "width", 1), _int(job, "height", 1)
    image = _backend(job).render(np.asarray(_input(job, inputs, 0, "latent")), w, h)
    return check_array(job, image, np.uint8, (h, w, 3))


def op_image_morph(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    """Frame ``i`` = render(interpolate(keys, i / (N - 1), ease)), streamed frame by frame.

    With ``stride`` S > 1 only every S-th frame (and the last) is rendered from the latent
    path; the frames between are blended from their two rendered neighbours. A morph moves
    slowly in latent space (a few grey levels per frame), so the blend is invisible, and the
    generator runs S times less — the morphs are most of an animatic's asset time."""
    _inputs(job, inputs, at_least=2)
    keys = [np.asarray(_input(job, inputs, i, "latent")) for i in range(len(inputs))]
    w, h, n = _int(job, "width", 1), _int(job, "height", 1), _int(job, "frames", 1)
    stride = max(1, int(job.params.get("stride", 1)))
    ease = job.params.get("ease", "smooth")
    backend = _backend(job)
    tick = _progress_steps(n, progress)

    def render(i: int) -> np.ndarray:
        t = i / (n - 1) if n > 1 else 0.0
        frame = backend.render(backend.interpolate(keys, t, ease), w, h)
        return check_array(job, frame, np.uint8, (h, w, 3), what=f"frame {i}")

    anchors = sorted({*range(0, n, stride), n - 1}) if n > 0 else []
    with _frames_out(job, cache, (n, h, w, 3)) as out:
        previous: tuple[int, np.ndarray] | None = None
        for a in anchors:
            frame = render(a)
            out[a] = frame
            if previous is not None:
                p, pframe = previous
                lo, hi = pframe.astype(np.float32), frame.astype(np.float32)
                for i in range(p + 1, a):
                    u = np.float32((i - p) / (a - p))
                    out[i] = np.clip(lo + (hi - lo) * u + np.float32(0.5), 0, 255).astype(np.uint8)
                    tick(i)
            previous = (a, frame)
            tick(a)
    return _cached(job, cache, out)


# --------------------------------------------------------------------------- assets


def _asset_path(job: Job) -> Path:
    path = Path(str(_param(job, "path")))
    if not path.is_file():
        raise BackendError(f"{_who(job)}: the asset {str(path)!r} does not exist (moved or deleted "
                           "since the script was checked?)")
    want = job.params.get("sha256")
    if want:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        if h.hexdigest() != want:
            raise BackendError(f"{_who(job)}: the asset {str(path)!r} changed after the plan was made; "
                               "run the build again")
    return path


def op_asset_image(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    """Decode with Pillow, RGB, cover-fit to width×height (LANCZOS), centre crop."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = _asset_path(job)
    w, h = _int(job, "width", 1), _int(job, "height", 1)
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated file fails here, not later
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                flat = Image.new("RGB", im.size, (0, 0, 0))
                flat.paste(im, mask=im.getchannel("A"))
                im = flat
            else:
                im = im.convert("RGB")
            fitted = ImageOps.fit(im, (w, h), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
            out = np.asarray(fitted, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BackendError(f"{_who(job)}: cannot decode the image {str(path)!r}: {exc}") from None
    return check_array(job, out, np.uint8, (h, w, 3))


def _audio_channels(path: Path) -> int | None:
    """How many channels ``asset.audio`` decodes ``path`` to: 1 (a mono source) or 2 (stereo,
    or more channels downmixed); None: no audio stream. Probed by :mod:`nyeshc.media`, with the
    demuxer its first bytes name (as ``nyeshc check`` judged them)."""
    try:
        found = media.probe(path).audio
    except media.MediaError as exc:
        raise BackendError(str(exc)) from None
    if found is None:
        return None
    return 1 if found.channels == 1 else 2


def op_asset_audio(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    """Any recording, or a video's soundtrack → float32 (N, C) at 48 kHz, C = 1 or 2 (more
    channels: stereo downmix), through :func:`nyeshc.media.decode_audio`."""
    path = _asset_path(job)
    try:
        data = media.decode_audio(path, rate=SAMPLE_RATE)
    except media.MediaError as exc:
        raise BackendError(f"{_who(job)}: {exc}") from None
    return check_array(job, data, np.float32, (None, data.shape[1]))


def op_asset_video(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    """Decode with ffmpeg (resampled to fps, cover-fit, centre crop), streamed frame by frame;
    the last frame is held when the video is shorter than ``frames``."""
    path = _asset_path(job)
    w, h, n = _int(job, "width", 1), _int(job, "height", 1), _int(job, "frames", 1)
    tick = _progress_steps(n, progress)
    with _frames_out(job, cache, (n, h, w, 3)) as out:
        got = 0
        try:
            with contextlib.closing(media.decode_video(path, w, h, _fps(job), n)) as frames:
                for got, frame in enumerate(frames, start=1):
                    out[got - 1] = frame
                    tick(got - 1)
        except media.MediaError as exc:
            raise BackendError(f"{_who(job)}: {exc}") from None
        if got < n:
            out[got:] = out[got - 1]
            progress(1.0)
    return _cached(job, cache, out)


# --------------------------------------------------------------------------- portraits


def op_portrait_latent(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    latent = _backend(job).sample(job.seed, float(job.params.get("truncation", 1.0)))
    return check_array(job, latent, np.float32, (None,))


def op_portrait_blend(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    return op_image_blend(job, inputs, cache, progress)


def _check_portrait(job: Job, value: Any, size: int) -> Portrait:
    if not isinstance(value, Portrait):
        raise BackendError(f"{_who(job)} returned a {_describe(value)}; expected a Portrait")
    check_array(job, value.image, np.uint8, (size, size, 4), what="portrait image")
    return value


def op_portrait_make(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=1, at_most=1)
    size = _int(job, "size", 1)
    portrait = _backend(job).portrait(np.asarray(_input(job, inputs, 0, "latent")), size)
    return _check_portrait(job, portrait, size)


def op_portrait_file(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=1, at_most=1)
    size = _int(job, "size", 1)
    image = np.asarray(_input(job, inputs, 0, "image"))
    mouth = job.params.get("mouth")
    mouth_xy = (float(mouth[0]), float(mouth[1])) if mouth is not None else None
    portrait = _backend(job).from_image(image, size, mouth_xy)
    return _check_portrait(job, portrait, size)


# --------------------------------------------------------------------------- voice


def op_voice_speak(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    audio = _backend(job).speak(str(_param(job, "text")), pitch=float(job.params.get("pitch", 1.0)),
                                rate=float(job.params.get("rate", 1.0)),
                                lang=str(job.params.get("lang", "")), seed=job.seed)
    return check_array(job, audio, np.float32, (None, 1))


def op_voice_track(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    """A beat's lines as one mono track: input ``i`` (or, with ``clips``, only its samples
    ``[from, from + for)``) added from sample ``offsets[i]``; stereo folded to mono; what
    overflows the track is clipped; overlapping inputs add up."""
    length = _int(job, "length", 0)
    offsets = _param(job, "offsets")
    if not isinstance(offsets, (list, tuple)) or len(offsets) != len(inputs):
        raise BackendError(f"{_who(job)}: {len(inputs)} inputs but offsets {offsets!r}")
    clips = job.params.get("clips")
    if clips is not None and (not isinstance(clips, (list, tuple)) or len(clips) != len(inputs)
                              or any(not isinstance(c, (list, tuple)) or len(c) != 2 for c in clips)):
        raise BackendError(f"{_who(job)}: {len(inputs)} inputs but clips {clips!r}")
    track = np.zeros((length, 1), np.float32)
    for i, offset in enumerate(offsets):
        audio = np.asarray(_input(job, inputs, i, "audio"))
        if audio.ndim == 1:
            audio = audio[:, None]
        if audio.ndim != 2 or audio.shape[1] < 1:
            raise BackendError(f"{_who(job)}: input {i} is a {_describe(audio)}, expected audio (N, C)")
        if clips is not None:
            src, count = int(clips[i][0]), int(clips[i][1])
            audio = audio[max(0, src): max(0, src) + max(0, count)]
        start = int(offset)
        skip = max(0, -start)
        dst0, dst1 = max(0, start), min(length, start + len(audio))
        if dst1 <= dst0:
            continue
        part = audio[skip: skip + dst1 - dst0]  # only this slice of a memory map is read
        mono = part[:, 0] if part.shape[1] == 1 else part.mean(axis=1, dtype=np.float32)
        track[dst0:dst1, 0] += mono.astype(np.float32, copy=False)
    return track


# --------------------------------------------------------------------------- motion


def _motion_size(job: Job, portrait: Portrait) -> int:
    """The side of the frames a motion job stores: its ``size`` parameter (the side of the box
    the beat is shown in), or the portrait's side for plans that give none."""
    if "size" in job.params:
        return _int(job, "size", 2)
    return int(portrait.image.shape[0])


@contextlib.contextmanager
def _scratch_frames(cache: Cache | None, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """A temporary frame buffer: a memory map in a temporary file beside the cache (so a long
    shot never has to fit in memory), or memory without a cache."""
    if cache is None:
        yield np.zeros(shape, np.uint8)
        return
    cache.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=cache.root, prefix=".motion-") as fh:
        buf = np.memmap(fh, dtype=np.uint8, mode="w+", shape=shape)
        reserve_space(fh.fileno(), buf.nbytes)  # a full disk: ENOSPC now, not SIGBUS mid-shot
        try:
            yield buf
        finally:
            del buf


def _resize_rgba(frame: np.ndarray, size: int) -> np.ndarray:
    """A straight-alpha RGBA frame resized to ``size``² (bilinear, antialiased, premultiplied
    while resampling so transparent pixels do not bleed)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame), "RGBA").convert("RGBa")
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR).convert("RGBA"))


def _motion(job: Job, cache: Cache | None, portrait: Portrait,
            call: Callable[[Any, np.ndarray], Any]) -> Any:
    """Run a motion backend into a frame buffer in the cache (streamed, memory bounded).

    The job stores ``uint8 (frames, D, D, 4)``, D = :func:`_motion_size` (the displayed side),
    so the compositor copies the frames instead of resizing every one. A backend whose
    ``renders_any_size`` is true is handed that buffer and draws at D itself; any other backend
    fills ``(frames, S, S, 4)`` at the portrait's side S (the protocol's shape), and the frames
    are resized to D here, once, when the two differ."""
    n = _int(job, "frames", 0)
    s = int(portrait.image.shape[0])
    d = _motion_size(job, portrait)
    backend = _backend(job)
    with _frames_out(job, cache, (n, d, d, 4)) as out:
        if d == s or getattr(backend, "renders_any_size", False) is True:
            got = call(backend, out)
            if got is not out:  # a backend that ignores ``out`` returns its own array
                out[...] = check_array(job, got, np.uint8, (n, d, d, 4))
        else:
            with _scratch_frames(cache, (n, s, s, 4)) as tmp:
                got = call(backend, tmp)
                if got is not tmp:
                    got = check_array(job, got, np.uint8, (n, s, s, 4))
                for i in range(n):
                    out[i] = _resize_rgba(got[i], d)
                del got
    return _cached(job, cache, out)


def _script_option(job: Job, method: Callable[..., Any], param: str, option: str,
                   neutral: float | None = None) -> dict[str, float]:
    """``{param: value}`` when the job's params give the script option ``option`` as ``param``
    (a finite number), for a backend method that takes that keyword; ``{}`` when the params do
    not give it, so the method's default applies and backends written before the option existed
    keep working. A backend method without the keyword is a :class:`BackendError` naming the
    option, not a ``TypeError`` from deep inside the call, unless the value is ``neutral`` (the
    protocol's default, which such a backend already gives)."""
    value = job.params.get(param)
    if value is None:
        return {}
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise BackendError(f"job {job.name!r} ({job.kind}): parameter {param!r} must be a number (got {value!r})")
    import inspect

    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):  # a builtin or C callable: trust it
        return {param: float(value)}
    takes = param in sig.parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    if not takes:
        if neutral is not None and float(value) == neutral:
            return {}
        raise BackendError(f"{_who(job)}: the script sets {option}, but backend {job.backend} does not support it "
                           f"(its {getattr(method, '__name__', 'method')}() has no {param!r} keyword; see "
                           "docs/backends.md); remove the option or choose another backend")
    return {param: float(value)}


def op_motion_rig(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    """A portrait's rig: the motion backend's set-up for it (``rig(portrait)``), cached so that
    each lip-sync and still of the portrait starts from it (docs/dev/jobs.md)."""
    _inputs(job, inputs, at_least=1, at_most=1)
    portrait = _input(job, inputs, 0, "portrait")
    backend = _backend(job)
    make = getattr(backend, "rig", None)
    if not callable(make):
        raise BackendError(f"{_who(job)}: backend {job.backend} has no rig(portrait) (see docs/backends.md)")
    state = make(portrait)
    if not isinstance(state, RigState) or any(not isinstance(a, np.ndarray) for a in state.arrays.values()):
        raise BackendError(f"{_who(job)}: backend {job.backend}'s rig() returned a {_describe(state)}, "
                           "expected a RigState of arrays")
    return state


def _rig_option(job: Job, inputs: Sequence[Any], i: int, method: Callable[..., Any]) -> dict[str, RigState]:
    """``{"rig": state}`` when the job lists the portrait's rig as input ``i`` (the planner adds
    it where the backend has ``rig()``), for a method that takes ``rig``."""
    if len(inputs) <= i:
        return {}
    state = _input(job, inputs, i, "rig")
    if not _takes(method, "rig"):
        raise BackendError(f"{_who(job)}: it is given the portrait's rig, but backend {job.backend}'s "
                           f"{getattr(method, '__name__', 'method')}() takes no rig= (see docs/backends.md)")
    return {"rig": state}


def op_motion_lipsync(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=2, at_most=3)
    portrait = _input(job, inputs, 0, "portrait")
    voice = _input(job, inputs, 1, "audio")
    n = _int(job, "frames", 0)
    # a part of a long section (``first``, ``beat``): its ``frames`` frames from frame ``first`` of
    # the section's ``beat`` frames, drawn as they are in the whole; a section of a beat of
    # several lines (``phase``): its own sound, from frame ``phase`` of the beat (docs/dev/jobs.md,
    # "Sections and parts of a beat")
    part = "first" in job.params
    first = _int(job, "first", 0) if part else 0
    total = _int(job, "beat", first + n) if part else n  # (a beat shorter than the part: an error naming it)

    def call(backend: Any, out: np.ndarray) -> Any:
        extra: dict[str, Any] = dict(_lipsync_options(job, backend))
        extra.update(_rig_option(job, inputs, 2, backend.lipsync))
        if job.params.get("speech") and _takes(backend.lipsync, "speech"):
            extra["speech"] = _speech(job)  # the phonemes, for a mouth that says them (visemes)
        if part or "phase" in job.params:
            if getattr(backend, "renders_frame_ranges", False) is not True:
                raise BackendError(f"{_who(job)}: backend {job.backend} cannot draw part of a beat (its class does "
                                   "not set renders_frame_ranges; see docs/backends.md)")
        if part:
            extra["frame_range"] = (first, first + n)
        if "phase" in job.params:  # a section of a beat: where in the beat it starts
            extra["phase"] = _int(job, "phase", 0)
        return backend.lipsync(portrait, voice, float(_fps(job)), total, job.seed, progress, out=out, **extra)

    return _motion(job, cache, portrait, call)


def _speech(job: Job) -> list[tuple[int, Any]]:
    """The phonemes of the lines in a lip-sync job's voice track: its ``speech`` param names,
    for each line, its place (``at``, samples) and its voice backend (id, version, settings) and
    arguments; each backend is asked ``phonemes(...)``. One without it adds nothing: the mouth
    follows loudness there. The versions are in the job's key, so the answers are too."""
    found: list[tuple[int, Any]] = []
    for entry in job.params["speech"]:
        if "music" in entry:
            found.extend(_sung(job, entry))
            continue
        phonemes = getattr(_backend(_entry_job(job, entry, "voice.speak", "voice")), "phonemes", None)
        if callable(phonemes):
            found.append((int(entry["at"]), phonemes(str(entry["text"]), pitch=float(entry["pitch"]),
                                                     rate=float(entry["rate"]), lang=str(entry["lang"]))))
    return found


def _sung(job: Job, entry: dict[str, Any]) -> list[tuple[int, Any]]:
    """A song in a lip-sync job's voice track (``speech`` entry with ``music``: the cue's
    backend, settings, seed and params; ``from`` and ``samples``: the part of the cue sung
    here, placed ``at``): the music backend's ``sung(...)`` phones, cut to that part. A backend
    without it (a recording, JukeBox) adds nothing: the mouth follows loudness there."""
    cue = _entry_job(job, entry, "music.generate", "music", params=dict(entry["params"]), seed=int(entry["seed"]))
    backend = _backend(cue)
    sung = getattr(backend, "sung", None)
    if not callable(sung):
        return []
    whole = sung(**_music_arguments(cue, backend))
    start, n = int(entry["from"]), int(entry["samples"])
    events = [(0, sym) for at, sym in whole.events if at <= start][-1:]
    events += [(at - start, sym) for at, sym in whole.events if start < at < start + n]
    return [(int(entry["at"]), Phonemes(whole.alphabet, tuple(events), n))]


def _entry_job(job: Job, entry: dict[str, Any], kind: str, backend: str, *, params: dict[str, Any] | None = None,
               seed: int = 0) -> Job:
    """The job a ``speech`` entry names (its ``backend`` id, ``version`` and ``settings``), to ask
    its backend what was said or sung; never run."""
    return Job(key="", kind=kind, backend=str(entry[backend]), backend_version=str(entry["version"]),
               settings=dict(entry.get("settings") or {}), params=params or {}, inputs=(), seed=seed, output="audio",
               name=job.name)


def _takes(method: Callable[..., Any], param: str) -> bool:
    """Whether ``method`` accepts the keyword ``param`` (a backend written before it existed
    does not, and is called without it)."""
    import inspect

    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):
        return False
    return param in sig.parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def _lipsync_options(job: Job, backend: Any) -> dict[str, Any]:
    # "mouth": the script's `motion: lipsync, mouth X` (0..2; absent: 1, the natural opening)
    return _script_option(job, backend.lipsync, "mouth", "`motion: lipsync, mouth X`", neutral=1.0)


def op_motion_drive(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=2, at_most=3)
    portrait = _input(job, inputs, 0, "portrait")
    driving = _input(job, inputs, 1, "frames")
    audio = _input(job, inputs, 2, "audio") if len(inputs) > 2 else None
    n = _int(job, "frames", 0)

    def call(backend: Any, out: np.ndarray) -> Any:
        with _frames_array(cache, driving) as frames:
            return backend.drive(portrait, frames, float(_fps(job, "driving_fps")), audio, float(_fps(job)), n,
                                 job.seed, progress, out=out)

    return _motion(job, cache, portrait, call)


def op_motion_still(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=1, at_most=2)
    portrait = _input(job, inputs, 0, "portrait")
    n = _int(job, "frames", 0)
    return _motion(job, cache, portrait, lambda backend, out: backend.still(
        portrait, float(_fps(job)), n, job.seed, out=out, **_rig_option(job, inputs, 1, backend.still)))


# --------------------------------------------------------------------------- music


def _meter_option(job: Job, method: Callable[..., Any]) -> dict[str, tuple[int, int]]:
    """``{"meter": (beats, unit)}`` when the job's params state a meter (``[beats, unit]``), for
    a backend whose method takes it; ``{}`` without one. As :func:`_script_option`: a backend
    without the keyword is a :class:`BackendError` naming the option."""
    value = job.params.get("meter")
    if value is None:
        return {}
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(x, int) and not isinstance(x, bool) for x in value)
    if not ok:
        raise BackendError(f"job {job.name!r} ({job.kind}): parameter 'meter' must be [beats, note value] "
                           f"(got {value!r})")
    import inspect

    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):
        return {"meter": (int(value[0]), int(value[1]))}
    if "meter" not in sig.parameters and not any(p.kind is inspect.Parameter.VAR_KEYWORD
                                                 for p in sig.parameters.values()):
        raise BackendError(f"{_who(job)}: the script sets `source: generate, meter A/B`, but backend {job.backend} "
                           "does not support it (its generate() has no 'meter' keyword; see docs/backends.md); "
                           "remove the option or choose another backend")
    return {"meter": (int(value[0]), int(value[1]))}


def _music_options(job: Job, backend: Any) -> dict[str, Any]:
    # "temperature": the cue's `source: generate, temperature X` (0..2; absent: the backend's default)
    extra: dict[str, Any] = _script_option(job, backend.generate, "temperature", "`source: generate, temperature X`")
    # "tempo" (bpm) and "meter" ([beats, unit]): the cue's stated grid, which the music must follow
    extra.update(_script_option(job, backend.generate, "tempo", "`source: generate, tempo Nbpm`"))
    extra.update(_meter_option(job, backend.generate))
    return extra


def op_music_generate(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    backend = _backend(job)
    args = _music_arguments(job, backend)
    audio = backend.generate(progress=progress, **args)
    return check_array(job, audio, np.float32, (round(args["seconds"] * SAMPLE_RATE), 2))


def _music_arguments(job: Job, backend: Any) -> dict[str, Any]:
    """``generate``'s (and ``sung``'s) keyword arguments for a ``music.generate`` job."""
    return {"genre": str(job.params.get("genre", "")), "artist": str(job.params.get("artist", "")),
            "lyrics": str(job.params.get("lyrics", "") or ""), "seconds": float(_param(job, "seconds")),
            "seed": job.seed, **_music_options(job, backend)}


# --------------------------------------------------------------------------- text


def op_glyphs_alphabet(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    lo, hi = job.params.get("strokes", (1, 3))
    alphabet = _backend(job).alphabet(seed=job.seed, count=_int(job, "count", 1), strokes=(int(lo), int(hi)))
    if not isinstance(alphabet, Alphabet):
        raise BackendError(f"{_who(job)} returned a {_describe(alphabet)}; expected an Alphabet")
    return alphabet


def _max_width(job: Job) -> int | None:
    value = job.params.get("max_width")
    return None if value is None else int(value)


def op_glyphs_text(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    _inputs(job, inputs, at_least=1, at_most=1)
    alphabet = _input(job, inputs, 0, "alphabet")
    image = _backend(job).render_text(alphabet, str(_param(job, "text")), height=_int(job, "height", 1),
                                      ink=_rgb(job, "ink"), max_width=_max_width(job))
    return check_array(job, image, np.uint8, (None, None, 4))


def op_text_plain(job: Job, inputs: Sequence[Any], cache: Cache | None, progress: ProgressFn) -> Any:
    try:
        from nyeshc.backends.plaintext import render_text
    except ImportError as exc:
        raise BackendError(f"text.plain job {job.name!r} needs nyeshc.backends.plaintext.render_text, "
                           f"which cannot be imported ({exc})") from None
    image = render_text(str(_param(job, "text")), _int(job, "height", 1), _rgb(job, "colour"),
                        _max_width(job))
    return check_array(job, image, np.uint8, (None, None, 4))


# --------------------------------------------------------------------------- the table

OPS: dict[str, Op] = {
    "image.latent": op_image_latent,
    "image.blend": op_image_blend,
    "image.render": op_image_render,
    "image.morph": op_image_morph,
    "asset.image": op_asset_image,
    "asset.audio": op_asset_audio,
    "asset.video": op_asset_video,
    "portrait.latent": op_portrait_latent,
    "portrait.blend": op_portrait_blend,
    "portrait.make": op_portrait_make,
    "portrait.file": op_portrait_file,
    "voice.speak": op_voice_speak,
    "voice.track": op_voice_track,
    "motion.rig": op_motion_rig,
    "motion.lipsync": op_motion_lipsync,
    "motion.drive": op_motion_drive,
    "motion.still": op_motion_still,
    "music.generate": op_music_generate,
    "glyphs.alphabet": op_glyphs_alphabet,
    "glyphs.text": op_glyphs_text,
    "text.plain": op_text_plain,
}
"""Every job kind of ``docs/dev/jobs.md`` → the function that performs it."""

STREAMED = frozenset({"image.morph", "asset.video"})
"""Kinds whose op stores its own output in the cache (streamed through ``Cache.writer``)."""


# --------------------------------------------------------------------------- preflight

_PREFLIGHT: dict[str, Callable[[Job, Any], Any]] = {
    "image.latent": lambda job, backend: _prompt_option(job, backend.sample),
    "motion.lipsync": _lipsync_options,
    "music.generate": _music_options,
}


def preflight(jobs: Sequence[Job]) -> None:
    """Check, without running anything, that each job's backend loads with its settings and
    takes the script options its params hold (a stated tempo on a JukeBox cue, a mouth on a
    motion backend without one, a prompt on an image backend without prompts): the
    :class:`BackendError` a build would otherwise meet only when that job's turn came, after
    minutes of other work. Each backend is loaded once (the registry caches it)."""
    for job in jobs:
        check = _PREFLIGHT.get(job.kind)
        if check is not None and job.params.keys() & {"prompt", "mouth", "temperature", "tempo", "meter"}:
            check(job, _backend(job))
