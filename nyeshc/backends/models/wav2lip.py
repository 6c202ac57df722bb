"""Wav2Lip lip-sync (Prajwal et al., ACM MM 2020) behind the :class:`MotionBackend` protocol.

This file is long (about 600 lines) on purpose: one adapter: loading the user's checkout or
package and checkpoint, the face detection and crop, Wav2Lip's mel spectrogram (reimplemented to
match its ``audio.py`` exactly) and the batched inference with its paste-back; each part is
small, and they share the model's fixed sizes and the crop boxes.

The network comes from the user's clone of https://github.com/Rudrabha/Wav2Lip (``checkout``:
``models/__init__.py`` exports ``Wav2Lip``) or from the PyPI package ``lipsync`` (``package =
"lipsync"``: ``lipsync.models.wav2lip.Wav2Lip``, the same network with the same parameter names),
and its weights from ``checkpoint`` (``wav2lip.pth`` / ``wav2lip_gan.pth``). Everything around the
network follows the original ``inference.py`` for a static image:

* audio: the voice (48 kHz) is resampled to 16 kHz and turned into the original's mel
  spectrogram (``audio.py`` + ``hparams.py``, reimplemented here in numpy so librosa is not
  needed; see :func:`melspectrogram`); frame ``i`` sees the 16 mel columns from
  ``int(i * 80 / fps)``, the last window clamped to the end (:func:`mel_starts`);
* face: one box for the whole shot (the portrait is a still), from the ``face_box`` setting,
  else OpenCV's bundled Haar cascade when OpenCV is installed, else the portrait's own
  ``face_box``; ``pads`` extend it as ``--pads`` does. No detector is ever downloaded;
* per frame: the crop resized to 96×96 (BGR, as ``cv2.imread`` gives the original), its lower
  half blanked, stacked with the unmasked crop (6 channels, /255), the network's ``(3, 96, 96)``
  output in [0, 1] scaled, truncated to uint8, resized back into the box and pasted over the
  portrait; the portrait's alpha is kept.

Resizing uses OpenCV's ``INTER_LINEAR`` sampling (half-pixel centres, edge clamp) written in
numpy, so the frames do not depend on whether OpenCV happens to be installed.

torch and the model code are imported on the first call only (see ``common.py``).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import SAMPLE_RATE, BackendError, CostModel, Portrait, ProgressFn, chunks
from nyeshc.backends.models.common import (
    checkout_module,
    import_torch,
    pick_device,
    require_checkout,
    require_file,
    setting_name,
    sha256_file,
)

__all__ = ["IMG_SIZE", "MEL_STEP_SIZE", "Wav2LipMotion", "mel_filters", "mel_starts", "melspectrogram",
           "mouth_weights", "resize_linear", "to_16k"]

ID = "motion.wav2lip"
MODALITY = "motion"
HINT = "see docs/models/wav2lip.md"

# hparams.py of Rudrabha/Wav2Lip
AUDIO_RATE = 16_000
N_FFT = 800
HOP = 200
WIN = 800
NUM_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS_VALUE = 4.0
# inference.py
MEL_STEP_SIZE = 16
IMG_SIZE = 96
MELS_PER_SECOND = AUDIO_RATE / HOP  # 80: inference.py's `mel_idx_multiplier = 80. / fps`
MOUTH_MAX = 2.0  # the lip-sync option `mouth` runs 0..2 (docs/language.md)

_MEL_BLOCK = 2048  # STFT columns computed at a time (bounded memory for long shots)
# measured here (issue #22, docs/models/wav2lip.md): the real network with random weights takes
# 0.24-0.33 s of CPU per frame in batches of 16-64 (torch, one thread, a loaded machine), i.e.
# ~0.12-0.16 s a frame on 2 threads, and adapter runs measured 0.06-0.12 s a frame; the 0.9 s
# first measured (batch 1, one thread, a busier machine) made plans ~7x too long. The network
# always runs at 96², so the cost is per frame whatever the portrait's size
_CPU_PER_FRAME = 0.15


# --------------------------------------------------------------------------- audio


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's auditory-toolbox mel scale (librosa's ``htk=False``)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filters(sr: int = AUDIO_RATE, n_fft: int = N_FFT, n_mels: int = NUM_MELS,
                fmin: float = FMIN, fmax: float = FMAX) -> np.ndarray:
    """``float32 (n_mels, 1 + n_fft // 2)``: the triangular Slaney-normalised mel filter bank that
    ``librosa.filters.mel(sr, n_fft, n_mels=..., fmin=..., fmax=...)`` builds (its defaults
    ``htk=False``, ``norm="slaney"``, ``dtype=float32``), which Wav2Lip's ``audio.py`` uses."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


_MEL_BASIS: np.ndarray | None = None


def _mel_basis() -> np.ndarray:
    global _MEL_BASIS
    if _MEL_BASIS is None:
        _MEL_BASIS = mel_filters()
    return _MEL_BASIS


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """``float64 (80, 1 + len(wav) // 200)``: Wav2Lip's ``audio.melspectrogram`` of a 16 kHz mono
    signal — pre-emphasis 0.97, a centred (reflect-padded) Hann STFT with n_fft = win = 800 and
    hop 200 (librosa's defaults up to 0.9, the versions Wav2Lip was written for), magnitude through
    the mel bank above, 20·log10 with a floor at -100 dB, minus the 20 dB reference level, and the
    symmetric normalisation to [-4, 4] with clipping."""
    x = np.asarray(wav, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise BackendError(f"{ID}: cannot compute a mel spectrogram of empty audio")
    y = x.copy()
    y[1:] -= PREEMPHASIS * x[:-1]  # scipy.signal.lfilter([1, -k], [1], x)
    pad = N_FFT // 2
    y = np.pad(y, pad, mode="reflect")
    n_cols = 1 + (len(y) - N_FFT) // HOP
    n = np.arange(WIN)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WIN)  # periodic Hann (scipy get_window, fftbins=True)
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP]
    basis = _mel_basis()
    min_level = np.exp(MIN_LEVEL_DB / 20 * np.log(10))
    out = np.empty((NUM_MELS, n_cols), np.float64)
    for c0, c1 in chunks(n_cols, _MEL_BLOCK):
        spec = np.abs(np.fft.rfft(frames[c0:c1] * window, n=N_FFT, axis=1)).T  # (401, cols)
        mel = np.dot(basis, spec)
        db = 20 * np.log10(np.maximum(min_level, mel)) - REF_LEVEL_DB
        out[:, c0:c1] = np.clip((2 * MAX_ABS_VALUE) * ((db - MIN_LEVEL_DB) / (-MIN_LEVEL_DB)) - MAX_ABS_VALUE,
                                -MAX_ABS_VALUE, MAX_ABS_VALUE)
    return out


def to_16k(voice: np.ndarray) -> np.ndarray:
    """``float64 (M,)``: a ``float32 (N, 1)`` voice at 48 kHz resampled to 16 kHz (polyphase, 1/3),
    padded with silence to at least one 16-column mel window."""
    from scipy.signal import resample_poly  # noqa: PLC0415

    v = np.asarray(voice, dtype=np.float64)
    if v.ndim == 2:
        v = v.mean(axis=1) if v.shape[1] > 1 else v[:, 0]
    if v.ndim != 1:
        raise BackendError(f"{ID}: the voice must be float32 (N, 1) audio, got shape {np.shape(voice)}")
    if not np.all(np.isfinite(v)):
        raise BackendError(f"{ID}: the voice contains NaN or infinite samples")
    if SAMPLE_RATE % AUDIO_RATE:
        raise BackendError(f"{ID}: cannot resample {SAMPLE_RATE} Hz to {AUDIO_RATE} Hz")
    w = resample_poly(v, 1, SAMPLE_RATE // AUDIO_RATE) if len(v) else v
    need = (MEL_STEP_SIZE - 1) * HOP  # 1 + len // 200 >= 16 columns
    if len(w) < need:
        w = np.concatenate([w, np.zeros(need - len(w))])
    return w


def mel_starts(n_mels: int, fps: float, frames: int) -> np.ndarray:
    """``int64 (frames,)``: the first mel column of each frame's 16-column window, as
    ``inference.py`` chooses them: ``int(i * (80. / fps))``, and once a window would run past
    the end, the last 16 columns (every later frame keeps that clamped window)."""
    if n_mels < MEL_STEP_SIZE:
        raise BackendError(f"{ID}: {n_mels} mel columns, fewer than one window ({MEL_STEP_SIZE})")
    mult = 80.0 / float(fps)
    last = n_mels - MEL_STEP_SIZE
    return np.array([min(int(i * mult), last) for i in range(frames)], dtype=np.int64)


# --------------------------------------------------------------------------- images


def _linear_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV ``INTER_LINEAR`` source indices and weights along one axis."""
    scale = src / dst
    f = (np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5
    i0 = np.floor(f).astype(np.int64)
    w = f - i0
    low = i0 < 0
    i0[low], w[low] = 0, 0.0
    high = i0 >= src - 1
    i0[high], w[high] = src - 1, 0.0
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, w


def resize_linear(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """``uint8 (height, width, C)``: ``img`` (``(h, w, C)``, uint8 or float) resized with the
    sampling of ``cv2.resize(img, (width, height))`` (bilinear, no antialiasing), rounded."""
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape[:2]
    if width < 1 or height < 1 or h < 1 or w < 1:
        raise BackendError(f"{ID}: cannot resize a {w}x{h} image to {width}x{height}")
    y0, y1, wy = _linear_taps(h, height)
    x0, x1, wx = _linear_taps(w, width)
    wy32 = wy.astype(np.float32)[:, None, None]
    wx32 = wx.astype(np.float32)[None, :, None]
    top = a[y0]
    rows = top + (a[y1] - top) * wy32
    left = rows[:, x0]
    out = left + (rows[:, x1] - left) * wx32
    out += 0.5
    np.floor(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


_CASCADE = "haarcascade_frontalface_default.xml"


def _opencv_version() -> str | None:
    """The installed OpenCV's version when it ships the Haar cascades (found without importing
    cv2, so a constructor stays cheap), else ``None``. OpenCV 5 dropped them (no
    ``cv2.CascadeClassifier``, no ``cv2/data/*.xml``): install ``opencv-python-headless<5``."""
    spec = importlib.util.find_spec("cv2")
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or []) or ([str(Path(spec.origin).parent)] if spec.origin else [])
    if not any((Path(r) / "data" / _CASCADE).is_file() for r in roots):
        return None
    for dist in ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless",
                 "opencv-contrib-python"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def mouth_weights(mouth: float, height: int, width: int) -> np.ndarray:
    """``float32 (height, width, 1)``: how much of the network's change each pixel of the box
    takes for the lip-sync option ``mouth`` (0..2): ``min(mouth, 1)`` everywhere, plus, above 1,
    ``mouth - 1`` more over the lower half of the face (the half Wav2Lip masks and redraws),
    faded in across the middle (from 40 % to 60 % of the box's height) and out toward the box's
    sides and bottom edge (the last 12 % of each), so the extrapolation never marks the seam."""
    base = min(mouth, 1.0)
    w = np.full((height, width, 1), base, np.float32)
    extra = max(mouth - 1.0, 0.0)
    if extra > 0.0:
        def ramp(x: np.ndarray, a: float, b: float) -> np.ndarray:
            t = np.clip((x - a) / (b - a), 0.0, 1.0)
            return t * t * (3.0 - 2.0 * t)

        ys = (np.arange(height) + 0.5) / height
        xs = (np.arange(width) + 0.5) / width
        rows = ramp(ys, 0.4, 0.6) * ramp(1.0 - ys, 0.0, 0.12)
        cols = ramp(xs, 0.0, 0.12) * ramp(1.0 - xs, 0.0, 0.12)
        w += (extra * rows[:, None] * cols[None, :])[..., None].astype(np.float32)
    return w


def _haar_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest frontal face OpenCV's bundled Haar cascade finds, as ``(x0, y0, x1, y1)``."""
    import cv2  # noqa: PLC0415

    path = Path(cv2.data.haarcascades) / _CASCADE
    cascade = cv2.CascadeClassifier(str(path)) if hasattr(cv2, "CascadeClassifier") else None
    if cascade is None or cascade.empty():
        raise BackendError(f"{ID}: OpenCV's Haar cascade {path} could not be loaded; set "
                           f"{setting_name(MODALITY, 'face_box')} = [x0, y0, x1, y1] (fractions of the portrait) "
                           f"or {setting_name(MODALITY, 'detector')} = \"portrait\"")
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    side = min(gray.shape[:2])
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(max(8, side // 8),) * 2)
    if len(found) == 0:
        return None
    x, y, w, h = max((tuple(int(v) for v in f) for f in found), key=lambda b: (b[2] * b[3], -b[0], -b[1]))
    return x, y, x + w, y + h


# --------------------------------------------------------------------------- the backend


_KNOWN = ("checkout", "package", "checkpoint", "device", "batch_size", "face_box", "pads", "detector")


def _code_sha256(checkout: Path | None, package: str | None) -> str:
    """SHA-256 over the network's source files (``models/*.py`` of the checkout or of the
    installed ``lipsync`` package, found without importing it): edited code changes the keys."""
    import hashlib  # noqa: PLC0415

    if checkout is not None:
        folder = checkout / "models"
    else:
        spec = importlib.util.find_spec(str(package))
        origin = spec.origin if spec is not None else None
        if origin is None:
            raise BackendError(f"{ID}: cannot locate the installed {package} package (pip install {package})")
        folder = Path(origin).parent / "models"
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode("utf-8") + b"\0" + sha256_file(path).encode("ascii") + b"\n")
    return h.hexdigest()


def _ints(value: Any, n: int, key: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        vals = ()
    if len(vals) != n or any(float(v) != float(w) for v, w in zip(vals, value, strict=True)):
        raise BackendError(f"{ID}: {setting_name(MODALITY, key)} must be {n} integers, not {value!r}")
    return vals


class Wav2LipMotion:
    """Lip-sync with Wav2Lip: the lower half of the face re-drawn from the voice, frame by frame."""

    id = ID
    version = "1"
    modality = "motion"
    # The real generator (36.3 M parameters) costs 7.9 GFLOPs per 96x96 frame (counted with
    # torch.utils.flop_counter on Rudrabha/Wav2Lip's Wav2Lip(), docs/models/wav2lip.md): around
    # 1 ms per frame in batches of 128 on a current GPU at a few FP32 TFLOPS effective, plus the
    # paste-back (a resize of the 96x96 output into the box, numpy on the CPU, ~18 ms per frame
    # for a 260x300 box on the busy dev machine). The
    # planner scales per_frame by portrait pixels / (1280*720): 0.02 is ~6 ms at 512 px.
    # per_call: importing the code and loading the checkpoint (145 MB of weights; 436 MB files
    # with the optimiser state) — a few seconds.
    cost = CostModel(device="gpu", per_call=5.0, per_frame=0.02, scale_by_pixels=False)

    def __init__(self, *, checkout: str | None = None, package: str | None = None, checkpoint: str | None = None,
                 device: str = "auto", batch_size: int = 128, face_box: Sequence[float] | None = None,
                 pads: Sequence[int] = (0, 10, 0, 0), detector: str = "auto", checkpoint_sha256: str | None = None,
                 code_sha256: str | None = None, face_detector: str | None = None, **unknown: Any):
        # checkpoint_sha256, code_sha256 and face_detector are what :attr:`settings` reports; the
        # executor passes them back, and they must still hold (else the plan is stale)
        if unknown:
            raise BackendError(f"{ID}: unknown setting(s) {', '.join(sorted(unknown))} in "
                               f"[profile.<name>.{MODALITY}]; known: {', '.join(_KNOWN)} ({HINT})")
        if checkout and package:
            raise BackendError(f"{ID}: set either {setting_name(MODALITY, 'checkout')} (a clone of "
                               f"Rudrabha/Wav2Lip) or {setting_name(MODALITY, 'package')} = \"lipsync\", not both")
        if package:
            if str(package) != "lipsync":
                raise BackendError(f"{ID}: {setting_name(MODALITY, 'package')} = {package!r} is not supported; "
                                   "the only packaged Wav2Lip network known to work is \"lipsync\" "
                                   f"(pip install lipsync), or set {setting_name(MODALITY, 'checkout')} ({HINT})")
            if importlib.util.find_spec("lipsync") is None:
                raise BackendError(f"{ID}: {setting_name(MODALITY, 'package')} = \"lipsync\" but the package is "
                                   f"not installed: pip install lipsync ({HINT})")
            self._checkout: Path | None = None
            self.package: str | None = "lipsync"
        else:
            if not checkout:
                raise BackendError(f"{ID} needs the Wav2Lip code: set {setting_name(MODALITY, 'checkout')} = "
                                   "\"path/to/Wav2Lip\" (git clone https://github.com/Rudrabha/Wav2Lip) or "
                                   f"{setting_name(MODALITY, 'package')} = \"lipsync\" in nysh.toml ({HINT})")
            self._checkout = require_checkout(ID, MODALITY, "checkout", checkout, "a Wav2Lip checkout",
                                              ("models/__init__.py", "models/wav2lip.py"), HINT)
            self.package = None
        self._checkpoint = require_file(ID, MODALITY, "checkpoint", checkpoint,
                                        "a Wav2Lip checkpoint (wav2lip.pth or wav2lip_gan.pth)", HINT)
        self._sha256 = sha256_file(self._checkpoint)
        self.device = str(device or "auto")
        if self.device.strip().lower() not in ("auto", "cpu") and not self.device.strip().lower().startswith("cuda"):
            raise BackendError(f"{ID}: {setting_name(MODALITY, 'device')} must be \"auto\", \"cpu\" or "
                               f"\"cuda[:N]\", not {device!r}")
        ok = isinstance(batch_size, int) and not isinstance(batch_size, bool)
        self.batch_size = int(batch_size) if ok else 0
        if self.batch_size < 1:
            raise BackendError(f"{ID}: {setting_name(MODALITY, 'batch_size')} must be a positive integer, "
                               f"not {batch_size!r}")
        self.face_box: tuple[float, float, float, float] | None = None
        if face_box is not None:
            try:
                fb = tuple(float(v) for v in face_box)
            except (TypeError, ValueError):
                fb = ()
            if (len(fb) != 4 or not all(0.0 <= v <= 1.0 for v in fb) or fb[2] <= fb[0] or fb[3] <= fb[1]):
                raise BackendError(f"{ID}: {setting_name(MODALITY, 'face_box')} must be [x0, y0, x1, y1], "
                                   f"fractions of the portrait with x0 < x1 and y0 < y1, not {face_box!r}")
            self.face_box = fb  # type: ignore[assignment]
        self.pads = _ints(pads, 4, "pads")
        det = str(detector or "auto").lower()
        if det not in ("auto", "haar", "portrait"):
            raise BackendError(f"{ID}: {setting_name(MODALITY, 'detector')} must be \"auto\", \"haar\" or "
                               f"\"portrait\", not {detector!r}")
        cv = _opencv_version()
        if det == "haar" and cv is None and self.face_box is None:
            raise BackendError(f"{ID}: {setting_name(MODALITY, 'detector')} = \"haar\" needs OpenCV 4 with its "
                               "Haar cascades: pip install \"opencv-python-headless<5\" (OpenCV 5 dropped them; or "
                               f"set detector = \"auto\" / \"portrait\", or {setting_name(MODALITY, 'face_box')})")
        self.detector = det
        # which detector really runs (part of the job keys: installing OpenCV changes the boxes)
        if self.face_box is not None:
            self._detector_used = "face_box"
        elif det in ("auto", "haar") and cv is not None:
            self._detector_used = f"haar (opencv {cv})"
        else:
            self._detector_used = "portrait"
        self._code_sha256 = _code_sha256(self._checkout, self.package)
        for given, have, what in ((checkpoint_sha256, self._sha256, f"the checkpoint {self._checkpoint}"),
                                  (code_sha256, self._code_sha256, "the Wav2Lip network code"),
                                  (face_detector, self._detector_used,
                                   "the face detector (OpenCV installed or removed)")):
            if given is not None and given != have:
                raise BackendError(f"{ID}: {what} changed since the film was planned; plan it again")
        if self.device.strip().lower() == "cpu" or (self.device.strip().lower() == "auto"
                                                     and pick_device(ID, "auto") == "cpu"):
            self.cost = CostModel(device="cpu", per_call=3.0, per_frame=_CPU_PER_FRAME, scale_by_pixels=False)
        self._lock = threading.Lock()
        self._net: Any = None
        self._torch: Any = None
        self._device_used: str | None = None

    @property
    def settings(self) -> Mapping[str, Any]:
        return {
            "checkout": str(self._checkout) if self._checkout is not None else None,
            "package": self.package,
            "checkpoint": str(self._checkpoint),
            "checkpoint_sha256": self._sha256,
            "device": self.device,
            "batch_size": self.batch_size,
            "face_box": list(self.face_box) if self.face_box is not None else None,
            "pads": list(self.pads),
            "detector": self.detector,
            "face_detector": self._detector_used,
            "code_sha256": self._code_sha256,
        }

    # ---------------------------------------------------------------- the network

    def _wav2lip_class(self) -> Any:
        if self._checkout is not None:
            module = checkout_module(ID, self._checkout, "models")
            where = f"{self._checkout}/models"
        else:
            try:
                module = importlib.import_module("lipsync.models.wav2lip")
            except ImportError as exc:
                raise BackendError(f"{ID}: could not import lipsync.models.wav2lip: {exc} "
                                   f"(pip install lipsync, with its requirements; {HINT})") from exc
            where = "the lipsync package"
        cls = getattr(module, "Wav2Lip", None)
        if cls is None:
            raise BackendError(f"{ID}: {where} has no class Wav2Lip; check {setting_name(MODALITY, 'checkout')}")
        return cls

    def _network(self) -> tuple[Any, Any, str]:
        with self._lock:  # the executor may call one backend from several threads
            if self._net is None:
                self._net, self._torch, self._device_used = self._load()
            return self._net, self._torch, self._device_used  # type: ignore[return-value]

    def _load(self) -> tuple[Any, Any, str]:
        torch = import_torch(ID)
        device = pick_device(ID, self.device)
        cls = self._wav2lip_class()
        try:
            ckpt = torch.load(str(self._checkpoint), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 — any unpickling failure means the file is unusable
            raise BackendError(f"{ID}: could not load the checkpoint {self._checkpoint}: {exc} "
                               f"(check {setting_name(MODALITY, 'checkpoint')}; it must be wav2lip.pth or "
                               "wav2lip_gan.pth)") from exc
        state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, Mapping) else None
        if not isinstance(state, Mapping) or not state:
            raise BackendError(f"{ID}: {self._checkpoint} holds no state dict; check "
                               f"{setting_name(MODALITY, 'checkpoint')}")
        state = {str(k).replace("module.", ""): v for k, v in state.items()}  # as inference.py's load_model
        net = cls()
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BackendError(f"{ID}: {self._checkpoint} is not a Wav2Lip generator checkpoint ({first} ...); "
                               f"{setting_name(MODALITY, 'checkpoint')} must be wav2lip.pth or wav2lip_gan.pth, "
                               "not the lip-sync expert (lipsync_expert.pth) or a discriminator") from exc
        net = net.to(device=device, dtype=torch.float32).eval()
        return net, torch, device

    # ---------------------------------------------------------------- geometry

    def box(self, portrait: Portrait) -> tuple[int, int, int, int]:
        """The crop ``(x0, y0, x1, y1)`` in pixels (pads applied, clamped to the portrait)."""
        img = portrait.image
        h, w = img.shape[:2]
        if self.face_box is not None:
            fx0, fy0, fx1, fy1 = self.face_box
            raw = (round(fx0 * w), round(fy0 * h), round(fx1 * w), round(fy1 * h))
        else:
            found = None
            if self._detector_used.startswith("haar"):
                found = _haar_box(img[..., :3])
                if found is None and self.detector == "haar":
                    raise BackendError(f"{ID}: OpenCV's Haar cascade found no face in the portrait; set "
                                       f"{setting_name(MODALITY, 'face_box')} = [x0, y0, x1, y1] (fractions) or "
                                       f"{setting_name(MODALITY, 'detector')} = \"portrait\"")
            if found is None:
                fx0, fy0, fx1, fy1 = (float(v) for v in portrait.face_box)
                found = (int(round(fx0)), int(round(fy0)), int(round(fx1)), int(round(fy1)))
            raw = found
        top, bottom, left, right = self.pads
        x0 = max(0, raw[0] - left)
        y0 = max(0, raw[1] - top)
        x1 = min(w, raw[2] + right)
        y1 = min(h, raw[3] + bottom)
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise BackendError(f"{ID}: the face box {raw} (with pads {list(self.pads)}) is empty in a {w}x{h} "
                               f"portrait; set {setting_name(MODALITY, 'face_box')} = [x0, y0, x1, y1] (fractions)")
        return x0, y0, x1, y1

    @staticmethod
    def _check(portrait: Portrait, frames: int, fps: float) -> None:
        if frames < 0:
            raise BackendError(f"{ID}: frames must be >= 0 (got {frames})")
        if fps <= 0:
            raise BackendError(f"{ID}: fps must be > 0 (got {fps})")
        im = portrait.image
        if im.ndim != 3 or im.shape[0] != im.shape[1] or im.shape[2] != 4 or im.dtype != np.uint8:
            raise BackendError(f"{ID}: the portrait image must be uint8 (S, S, 4), got {im.dtype} {im.shape}")

    @staticmethod
    def _buffer(portrait: Portrait, frames: int, out: np.ndarray | None) -> np.ndarray:
        s = portrait.image.shape[0]
        if out is None:
            return np.empty((frames, s, s, 4), np.uint8)
        if out.shape != (frames, s, s, 4) or out.dtype != np.uint8:
            raise BackendError(f"{ID}: out must be uint8 {(frames, s, s, 4)}, got {out.dtype} {out.shape}")
        return out

    # ---------------------------------------------------------------- protocol

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int,
                seed: int, progress: ProgressFn | None = None, *, out: np.ndarray | None = None,
                mouth: float = 1.0) -> np.ndarray:
        """The portrait speaking ``voice``. Wav2Lip has no randomness: ``seed`` is unused (no
        blinks, no head motion — only the mouth and jaw move).

        ``mouth`` (0..2, the script's ``mouth X``) weighs the network's redrawn face against the
        portrait (:func:`mouth_weights`): below 1 the pasted box is blended with the portrait by
        ``mouth`` (0: the portrait itself, and the network is not run), 1 is Wav2Lip's own frame,
        and above 1 the change the network makes to the lower half of the face (the half it
        redraws) is extrapolated, ``portrait + mouth × (synced − portrait)``, clipped to 0..255:
        a darker, more marked mouth, not a geometrically wider one."""
        self._check(portrait, frames, fps)
        if isinstance(mouth, bool) or not isinstance(mouth, (int, float)) or not 0.0 <= mouth <= MOUTH_MAX:
            raise BackendError(f"{ID}: the lip-sync option `mouth` must be a number from 0 to {MOUTH_MAX:g} "
                               f"(got {mouth!r}; `motion: lipsync, mouth X`)")
        mouth = float(mouth)
        out = self._buffer(portrait, frames, out)
        if frames == 0:
            return out
        if mouth == 0.0:  # the portrait unchanged: no GPU time spent redrawing it
            out[...] = portrait.image
            if progress is not None:
                progress(1.0)
            return out
        x0, y0, x1, y1 = self.box(portrait)
        weights = mouth_weights(mouth, y1 - y0, x1 - x0) if mouth != 1.0 else None
        still = portrait.image[y0:y1, x0:x1, :3].astype(np.float32)
        mel = melspectrogram(to_16k(voice))
        starts = mel_starts(mel.shape[1], fps, frames)
        # the face input, shared by every frame (a still portrait: inference.py's --static)
        bgr = np.ascontiguousarray(portrait.image[y0:y1, x0:x1, 2::-1])  # RGB -> BGR, as cv2.imread
        face = resize_linear(bgr, IMG_SIZE, IMG_SIZE)
        masked = face.copy()
        masked[IMG_SIZE // 2:] = 0
        img6 = (np.concatenate((masked, face), axis=2) / 255.0).astype(np.float32).transpose(2, 0, 1)
        net, torch, device = self._network()
        img_t = torch.from_numpy(np.ascontiguousarray(img6)).to(device)
        base = portrait.image
        cols = np.arange(MEL_STEP_SIZE)
        with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
            for b0, b1 in chunks(frames, self.batch_size):
                windows = mel[:, starts[b0:b1, None] + cols]  # (80, B, 16)
                mel_b = np.ascontiguousarray(windows.transpose(1, 0, 2)[:, None], dtype=np.float32)  # (B, 1, 80, 16)
                mel_t = torch.from_numpy(mel_b).to(device)
                faces_t = img_t.unsqueeze(0).expand(b1 - b0, -1, -1, -1).contiguous()
                pred = net(mel_t, faces_t)
                if tuple(pred.shape) != (b1 - b0, 3, IMG_SIZE, IMG_SIZE):
                    raise BackendError(f"{ID}: the network returned {tuple(pred.shape)}, expected "
                                       f"{(b1 - b0, 3, IMG_SIZE, IMG_SIZE)}; is this the Wav2Lip generator?")
                pred = (pred.float().cpu().numpy().transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)
                for k in range(b1 - b0):
                    patch = resize_linear(pred[k, :, :, ::-1], x1 - x0, y1 - y0)  # BGR -> RGB, into the box
                    if weights is not None:  # `mouth`: blended with (or pushed past) the portrait
                        patch = np.clip(np.rint(still + weights * (patch - still)), 0, 255).astype(np.uint8)
                    frame = out[b0 + k]
                    frame[...] = base
                    frame[y0:y1, x0:x1, :3] = patch
                if progress is not None:
                    progress(b1 / frames)
        return out

    def still(self, portrait: Portrait, fps: float, frames: int, seed: int, *,
              out: np.ndarray | None = None) -> np.ndarray:
        """The portrait unchanged in every frame: Wav2Lip only moves a mouth to sound, and running
        it on silence would spend GPU time to redraw a closed mouth."""
        self._check(portrait, frames, fps)
        out = self._buffer(portrait, frames, out)
        out[...] = portrait.image
        return out

    def drive(self, portrait: Portrait, driving: np.ndarray, driving_fps: float,
              audio: np.ndarray | None, fps: float, frames: int, seed: int,
              progress: ProgressFn | None = None, *, out: np.ndarray | None = None) -> np.ndarray:
        raise BackendError(f"{ID} animates only the mouth from a voice and cannot follow a driving video "
                           "(motion: driven \"...\"); set [profile.<name>.drive] backend = \"motion.fomm\" "
                           "(First Order Motion Model) or backend = \"motion.procedural\" in nysh.toml, so driven "
                           "shots use that while lip-sync shots keep Wav2Lip (see docs/config.md)")
