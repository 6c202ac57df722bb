"""The procedural puppet's backends: :class:`PuppetPortrait` (painted portraits from a latent,
or a photo rigged) and :class:`PuppetMotion` (lip-sync to a voice, driven by a video, or still).

This is the animatic stand-in for StyleGAN2-FFHQ portraits and for Wav2Lip / First Order
Motion. Pure numpy + Pillow + scipy, deterministic. The painting of a face is
:mod:`.face`; the mouth's shapes :mod:`.visemes`; blinks, head motion and breath :mod:`.idle`;
tracking a driving video :mod:`.tracking`.

Mouth and eyes are the only parts that change while speaking, so the head layer is rebuilt
per ``(mouth_open, blink)`` state and memoised; per frame only a Pillow affine warp and an
alpha composite run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from nyeshc import ndi
from nyeshc.backends.base import (
    BackendError,
    CostModel,
    Phonemes,
    Portrait,
    ProgressFn,
    RigState,
)
from nyeshc.backends.procedural import visemes
from nyeshc.backends.procedural.face import (
    LATENT_DIM,
    MOUTH_MAX,
    WIDTH_RANGE,
    Field,
    Layer,
    Rig,
    draw_face,
    face_geometry,
    jaw_drop,
    rig_for,
    warp_layer,
)
from nyeshc.backends.procedural.idle import blinks, breathing, envelope, head_movement
from nyeshc.backends.procedural.tracking import mouth_activity, track_motion


__all__ = ["LATENT_DIM", "MOUTH_MAX", "WIDTH_RANGE", "PuppetMotion", "PuppetPortrait", "blinks", "draw_face",
           "envelope", "face_geometry", "track_motion"]

_F32 = np.float32

# --------------------------------------------------------------------------- photos


def _photo_mouth_estimate(img: np.ndarray) -> tuple[float, float]:
    """Mouth as fractions: 0.5 width, ~0.7 height, refined by the darkest band lower-middle."""
    S = img.shape[0]
    g = img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    y0, y1 = int(0.58 * S), int(0.82 * S)
    x0, x1 = int(0.40 * S), int(0.60 * S)
    rows = g[y0:y1, x0:x1].mean(axis=1)
    if rows.size < 5:
        return 0.5, 0.7
    rows = ndi.uniform_filter1d(rows, max(1, S // 64), mode="nearest")
    i = int(np.argmin(rows))
    if np.median(rows) - rows[i] > 12.0:
        return 0.5, (y0 + i + 0.5) / S
    return 0.5, 0.7


# --------------------------------------------------------------------------- backends


class PuppetPortrait:
    """Procedural painted portraits (the animatic stand-in for StyleGAN2-FFHQ)."""

    id = "portrait.procedural"
    # 3: a cast that differs (head shapes, hairstyles, garments, accessories, facial hair, build;
    #    the latent has 32 entries)
    version = "3"
    modality = "portrait"
    # measured on the 2-core dev box: ~0.38 s per cold 256 px portrait (~1.4 s at 512), i.e. about
    # 5 s per 720p-sized frame; estimate with ``cost.estimate(frames=1, pixels=size * size)``
    cost = CostModel(device="cpu", per_call=0.05, per_frame=5.0)
    latent_dim = LATENT_DIM

    def __init__(self, *, latent_dim: int = LATENT_DIM):
        if latent_dim != LATENT_DIM:
            raise BackendError(f"portrait.procedural has a fixed latent_dim of {LATENT_DIM}")
        self.latent_dim = latent_dim

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"latent_dim": self.latent_dim}

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFF, 0xFACE])
        return (rng.standard_normal(self.latent_dim) * float(truncation)).astype(_F32)

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        t = float(t)
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na < 1e-8 or nb < 1e-8:
            return (a + (b - a) * t).astype(_F32)
        cos = float(np.clip(a @ b / (na * nb), -1.0, 1.0))
        om = math.acos(cos)
        if om < 1e-4 or abs(math.pi - om) < 1e-4:
            return (a + (b - a) * t).astype(_F32)
        so = math.sin(om)
        return (math.sin((1 - t) * om) / so * a + math.sin(t * om) / so * b).astype(_F32)

    def portrait(self, latent: np.ndarray, size: int) -> Portrait:
        lat = np.asarray(latent, dtype=_F32).ravel()
        image = draw_face(lat, int(size))
        mouth, box = face_geometry(lat, int(size))
        return Portrait(image=image, mouth=mouth, face_box=box, latent=lat.copy(), source="generated")

    def from_image(self, image: np.ndarray, size: int, mouth: tuple[float, float] | None = None) -> Portrait:
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, -1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise BackendError(f"from_image needs uint8 (H, W, 3|4), got {arr.shape}")
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        h, w = arr.shape[:2]
        side = min(h, w)
        y0, x0 = (h - side) // 2, (w - side) // 2
        crop = arr[y0:y0 + side, x0:x0 + side]
        if crop.shape[2] == 3:
            crop = np.concatenate([crop, np.full(crop.shape[:2] + (1,), 255, np.uint8)], -1)
        img = Image.fromarray(np.ascontiguousarray(crop), "RGBA")
        if side != size:
            img = img.convert("RGBa").resize((size, size), Image.Resampling.LANCZOS).convert("RGBA")
        out = np.asarray(img, dtype=np.uint8).copy()
        if mouth is None:
            fx, fy = _photo_mouth_estimate(out)
        else:
            # fractions of the *original* picture -> fractions of the crop
            fx = (float(mouth[0]) * w - x0) / side
            fy = (float(mouth[1]) * h - y0) / side
        mx, my = fx * size, fy * size
        box = (max(0.0, mx - 0.28 * size), max(0.0, my - 0.52 * size),
               min(float(size), mx + 0.28 * size), min(float(size), my + 0.2 * size))
        return Portrait(image=out, mouth=(mx, my), face_box=box, latent=None, source="file")


class PuppetMotion:
    """Animates portraits: re-renders the puppet, or warps a photo (stand-in for Wav2Lip/FOMM)."""

    id = "motion.procedural"
    # 3: draws the cast of portrait.procedural version 3; 4: visemes (the mouth says the phonemes
    #    a voice backend reports; lip shapes and coarticulation in .visemes)
    version = "4"
    modality = "motion"
    renders_any_size = True
    """``out`` may be ``(frames, D, D, 4)`` for any D: frames are drawn at ``out``'s size (the
    executor passes the displayed size, so the compositor only copies them)."""
    renders_frame_ranges = True
    """:meth:`lipsync` takes ``frame_range=(a, b)``: the frames ``a`` to ``b`` of the beat, the same
    pixels as those frames of the whole (its curves are worked out for the whole beat), so the
    planner may split a long beat into parts that run side by side."""
    # measured on the 2-core dev box (CPU seconds): rig ~1.5 s per call at 512 (memoised states
    # ~40 ms each), then ~7 ms per 512² frame and ~12 ms per 684² frame, i.e. ~0.03 s per
    # 720p-sized frame (the estimate is per pixel of the stored frames); 0.05 covers cold states
    cost = CostModel(device="cpu", per_call=1.5, per_frame=0.05)

    def __init__(self, *, mouth_levels: int = 16, blink_levels: int = 4, head_motion: float = 1.0):
        if mouth_levels < 2 or blink_levels < 2:
            raise BackendError("mouth_levels and blink_levels must be at least 2")
        self.mouth_levels = int(mouth_levels)
        self.blink_levels = int(blink_levels)
        self.head_motion = float(head_motion)

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"mouth_levels": self.mouth_levels, "blink_levels": self.blink_levels,
                "head_motion": self.head_motion}

    # ---------------------------------------------------------------- shared
    def _q(self, x: float, levels: int) -> float:
        return round(float(np.clip(x, 0, 1)) * (levels - 1)) / (levels - 1)

    def rig(self, portrait: Portrait) -> RigState:
        """The painted puppet's set-up for ``portrait`` (its rig's textures and layers,
        :meth:`.face.Rig.state`), for :meth:`lipsync` and :meth:`still` to start from (``rig=``)
        instead of working it out again in each job. A photo portrait's rig is only its
        picture: an empty state."""
        if portrait.latent is None:
            return RigState(backend=self.id, arrays={})
        S = int(portrait.image.shape[0])
        return RigState(backend=self.id, arrays=rig_for(portrait.latent, S).state())

    def _rig(self, portrait: Portrait, state: RigState | None) -> Rig | _PhotoRig:
        if portrait.latent is None:
            return _PhotoRig(portrait)
        if state is not None and (not isinstance(state, RigState) or state.backend != self.id):
            made = getattr(state, "backend", type(state).__name__)
            raise BackendError(f"{self.id}: rig= must be a RigState this backend made (got one of {made!r})")
        return rig_for(portrait.latent, int(portrait.image.shape[0]), None if state is None else state.arrays)

    def _render(self, portrait: Portrait, mouth: np.ndarray, blink: np.ndarray, head: np.ndarray,
                breath: np.ndarray, progress: ProgressFn | None, out: np.ndarray | None = None,
                scale: float = 1.0, shape: tuple[np.ndarray, np.ndarray] | None = None,
                state: RigState | None = None) -> np.ndarray:
        """Draw the frames. ``shape``: per-frame lip ``(width, teeth)`` of visemes, quantised
        (width in steps of 0.05, so the neutral 1 is exact; teeth to 0, ½, 1) to keep the
        memoised head states few; a photo's painted mouth only opens."""
        S = portrait.image.shape[0]
        n = len(mouth)
        if out is None:
            out = np.empty((n, S, S, 4), np.uint8)
        elif (out.dtype != np.uint8 or out.ndim != 4 or out.shape[0] != n or out.shape[1] != out.shape[2]
              or out.shape[3] != 4 or out.shape[1] < 2):
            raise BackendError(f"out must be uint8 ({n}, D, D, 4), got {out.dtype} {out.shape}")
        rig = self._rig(portrait, state)
        step = max(1, n // 20)
        for i in range(n):
            m = self._q(mouth[i], self.mouth_levels)
            if scale != 1.0:  # lipsync's `mouth`: the quantised opening, scaled (states stay few)
                m = min(m * scale, MOUTH_MAX)
            b = self._q(blink[i], self.blink_levels)
            if shape is not None and isinstance(rig, Rig):
                wd = round(float(np.clip(shape[0][i], *WIDTH_RANGE)) / 0.05) * 0.05
                th = round(float(np.clip(shape[1][i], 0, 1)) * 2) / 2
                rig.render(out[i], m, b, tuple(float(v) for v in head[i]), float(breath[i]), width=wd, teeth=th)
            else:
                rig.render(out[i], m, b, tuple(float(v) for v in head[i]), float(breath[i]))
            if progress is not None and (i % step == 0 or i == n - 1):
                progress((i + 1) / n)
        return out

    @staticmethod
    def _check(portrait: Portrait, frames: int, fps: float) -> None:
        if frames < 0:
            raise BackendError(f"frames must be >= 0 (got {frames})")
        if fps <= 0:
            raise BackendError(f"fps must be > 0 (got {fps})")
        im = portrait.image
        if im.ndim != 3 or im.shape[0] != im.shape[1] or im.shape[2] != 4:
            raise BackendError(f"portrait image must be (S, S, 4), got {im.shape}")

    # ---------------------------------------------------------------- protocol
    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int,
                seed: int, progress: ProgressFn | None = None, *, out: np.ndarray | None = None,
                mouth: float = 1.0, speech: Sequence[tuple[int, Phonemes]] | None = None,
                frame_range: tuple[int, int] | None = None, rig: RigState | None = None,
                phase: int = 0) -> np.ndarray:
        """The portrait speaking ``voice``.

        ``speech`` (``(sample, Phonemes)`` of the lines and songs in ``voice`` whose phonemes are
        known): inside them the mouth makes the visemes of the phonemes, coarticulated
        (:func:`.visemes.curves`: openness, lip width, teeth on the lip); elsewhere (a recording,
        a song or voice whose backend cannot tell its phonemes) it follows loudness
        (``1.1 × envelope``). The head's speaking nod follows loudness everywhere.

        ``mouth`` (0..2) scales the opening: each frame's opening (quantised to
        ``mouth_levels``) is multiplied by it, so 2 opens twice as far, the chin dropping with
        the lower lip past 1 so the mouth stays on the face. The speaking nod is scaled by
        ``min(mouth, 1)``: at 0 the frames are exactly those of silence (a character who does
        not move their face while their voice plays; the lips keep their neutral shape too).

        ``frame_range`` ``(a, b)``: only frames ``a`` to ``b`` (exclusive) of the ``frames``, drawn
        as they are in the whole (``out`` then holds ``b - a`` frames).

        ``rig``: :meth:`rig`'s state for this portrait (cached by the executor): the same
        frames, without working the rig out again.

        ``phase``: these frames are a *section* of a longer beat that starts ``phase`` frames
        earlier (the planner cuts a beat of several lines in the pauses between them): blinks,
        breath and the head's drift go on from there as in the whole beat, while the mouth and
        the speaking nod follow this call's ``voice`` and ``speech`` only (silence before it)."""
        self._check(portrait, frames, fps)
        a, b = (0, frames) if frame_range is None else (int(frame_range[0]), int(frame_range[1]))
        if not 0 <= a <= b <= frames:
            raise BackendError(f"frame_range must lie within the {frames} frames (got {frame_range!r})")
        if isinstance(mouth, bool) or not isinstance(mouth, (int, float)) or not 0.0 <= mouth <= MOUTH_MAX:
            raise BackendError(f"motion.procedural: the lip-sync option `mouth` must be a number from 0 to "
                               f"{MOUTH_MAX:g} (got {mouth!r}; `motion: lipsync, mouth X`)")
        mouth = float(mouth)
        if isinstance(phase, bool) or not isinstance(phase, (int, np.integer)) or phase < 0:
            raise BackendError(f"phase must be a whole number of frames >= 0 (got {phase!r})")
        p = int(phase)
        S = portrait.image.shape[0]
        env = envelope(voice, fps, frames)
        opening = np.clip(env * 1.1, 0, 1)
        shape = None
        if speech and mouth > 0:
            said, width, teeth, covered = visemes.curves(speech, fps, frames)
            opening = np.where(covered, np.clip(said, 0, 1), opening)
            shape = (width, teeth)
        blink = blinks(fps, p + frames, seed)[p:]
        nod = env if mouth >= 1.0 else (env * mouth).astype(env.dtype)
        if p:  # silence before the section: the nod's smoothing starts from rest
            nod = np.concatenate([np.zeros(p, nod.dtype), nod])
        head = head_movement(fps, p + frames, seed, S, nod, self.head_motion)[p:]
        breath = breathing(fps, p + frames, seed)[p:] * 0.5
        if shape is not None:
            shape = (shape[0][a:b], shape[1][a:b])
        return self._render(portrait, opening[a:b], blink[a:b], head[a:b], breath[a:b], progress, out,
                            scale=mouth, shape=shape, state=rig)

    def still(self, portrait: Portrait, fps: float, frames: int, seed: int, *,
              out: np.ndarray | None = None, rig: RigState | None = None) -> np.ndarray:
        self._check(portrait, frames, fps)
        S = portrait.image.shape[0]
        mouth = np.zeros(frames, _F32)
        blink = blinks(fps, frames, seed)
        head = head_movement(fps, frames, seed, S, None, self.head_motion * 0.6)
        breath = breathing(fps, frames, seed)
        return self._render(portrait, mouth, blink, head, breath, None, out, state=rig)

    def drive(self, portrait: Portrait, driving: np.ndarray, driving_fps: float,
              audio: np.ndarray | None, fps: float, frames: int, seed: int,
              progress: ProgressFn | None = None, *, out: np.ndarray | None = None) -> np.ndarray:
        self._check(portrait, frames, fps)
        if driving_fps <= 0:
            raise BackendError(f"driving_fps must be > 0 (got {driving_fps})")
        S = portrait.image.shape[0]
        drv = np.asarray(driving)
        if drv.ndim != 4 or drv.shape[0] < 1:
            raise BackendError(f"driving video must be uint8 (M, H, W, 3), got {drv.shape}")
        M, H, W = drv.shape[:3]
        motion = track_motion(drv)  # (M, 4): dx, dy (driving px), angle, scale — relative to frame 0
        k = S / float(max(H, W))
        t_out = np.arange(frames) / float(fps)
        t_in = np.arange(M) / float(driving_fps)
        head = np.empty((frames, 4))
        for j in range(4):
            head[:, j] = np.interp(t_out, t_in, motion[:, j])
        head[:, 0:2] *= k
        if audio is not None:
            mouth = np.clip(envelope(audio, fps, frames) * 1.1, 0, 1)
        else:
            act = mouth_activity(drv)
            mouth = np.interp(t_out, t_in, act)
        blink = blinks(fps, frames, seed)
        breath = np.zeros(frames)
        return self._render(portrait, mouth, blink, head, breath, progress, out)


class _PhotoRig:
    """A photo portrait animated by affine warps and a painted-in mouth."""

    def __init__(self, portrait: Portrait):
        self.img = portrait.image
        self.S = self.img.shape[0]
        self.mouth = portrait.mouth
        x0, y0, x1, y1 = portrait.face_box
        self.face_w = max(8.0, x1 - x0)
        self.pad = max(4, self.S // 10)
        self._states: dict[float, Image.Image] = {}
        self._scaled: dict[tuple[float, int], Layer] = {}

    def _state(self, m: float) -> Image.Image:
        hit = self._states.get(m)
        if hit is not None:
            return hit
        S = self.S
        rgb = self.img[..., :3].astype(_F32) / 255.0
        a = self.img[..., 3].astype(_F32) / 255.0
        mx, my = self.mouth
        if m > 0:
            hh = self.face_w / S * 0.75
            # past the natural opening (1) the chin drops as fast as the cavity's lower edge
            # (1.5 * 0.075 per unit), as the puppet's jaw does (:func:`_jaw`)
            drop = m * 0.035 if m <= 1.0 else 0.035 + 0.1125 * (m - 1.0)
            rgb_pm, a2 = jaw_drop(rgb * a[..., None], a, (mx / S, my / S), drop * self.face_w / S, S, hh)
            rgb = rgb_pm / np.maximum(a2, 1e-6)[..., None]
            a = a2
            f = Field(S)
            rx = 0.12 * self.face_w / S
            ry = max(0.5 / S, m * 0.075 * self.face_w / S)
            cy = my / S + ry * 0.5
            d = ((f.x - mx / S) / rx) ** 2 + ((f.y - cy) / ry) ** 2
            feather = 1.5 / (S * min(rx, ry)) + 0.25
            cov = np.clip((1 - d) / feather, 0, 1) ** 1.2
            cav = rgb * np.array([0.22, 0.12, 0.12], _F32) + np.array([0.05, 0.01, 0.01], _F32)
            rgb = rgb * (1 - cov[..., None]) + cav * cov[..., None]
        pad = self.pad
        arr = np.concatenate([np.clip(rgb, 0, 1), a[..., None]], -1)
        arr = np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        u8 = np.round(arr * 255).astype(np.uint8)
        img = Image.fromarray(u8, "RGBA").convert("RGBa")
        if len(self._states) < 64:
            self._states[m] = img
        return img

    def render(self, dst: np.ndarray, m: float, b: float, head: tuple[float, float, float, float],
               breath: float) -> None:
        """One frame into ``dst`` (``uint8 (D, D, 4)``); ``head`` in pixels of the portrait."""
        del b  # a photo cannot blink without a face model
        dx, dy, ang, sc = head
        sc = sc * (1 + breath * 0.5)
        S, D, pad = self.S, dst.shape[0], self.pad
        L = min(D, S)
        layer = self._scaled.get((m, L))
        if layer is None:
            img = self._state(m)  # padded by ``pad`` on every side
            n = round((S + 2 * pad) * L / S) if L != S else S + 2 * pad
            if n != img.width:
                img = img.resize((n, n), Image.Resampling.BILINEAR)
            layer = Layer(img, n / (S + 2 * pad), img.getbbox())
            if len(self._scaled) < 64:
                self._scaled[(m, L)] = layer
        pivot = (self.mouth[0] + pad, self.mouth[1] + pad + 0.15 * self.face_w)
        canvas = Image.new("RGBA", (D, D))
        # the padded picture, moved, then seen through the window [pad, pad + S): moved by -pad
        part = warp_layer(layer, D / S, D, dx - pad, dy - pad, ang, sc, pivot)
        if part is not None:
            canvas.paste(part[0].convert("RGBA"), part[1])
        dst[...] = np.asarray(canvas)

    def frame(self, m: float, b: float, head: tuple[float, float, float, float], breath: float) -> np.ndarray:
        out = np.empty((self.S, self.S, 4), np.uint8)
        self.render(out, m, b, head, breath)
        return out


