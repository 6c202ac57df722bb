"""Frame composition: a :class:`~nyeshc.plan.model.Timeline` frame as ``uint8 (H, W, 3)``.

This file is long (about 700 lines) on purpose: the per-layer states (still, frame sequence,
text) and the sprites and scratch buffers they blend through sit beside the one frame loop that
drives them, so that every layer is composed by the same rules and the loop's reuse of buffers
is visible in one place.

The compositor's one job is to cost the encoder as little CPU as possible (the encoder needs
both cores), so it follows four rules:

* **Artifacts stay on disk.** Frame sequences are the cache's compressed ``.nyf`` files
  (:class:`~nyeshc.store.frames.FrameSequence`: a frame is decoded when it is shown, one
  decompression and one addition per frame when played forwards) or, in caches written before
  compression, memory-mapped ``.npy`` files; a sequence is never loaded whole.
* **One resize per layer, not per frame.** A still without a camera move is fitted to its box
  once; a sequence frame is resized once per distinct frame index (a small LRU holds the
  results, already premultiplied for blending); a sequence that already has its box's size is
  drawn straight from the decoded frame. Only a moving Ken Burns window is resampled every frame
  (Pillow's bilinear ``resize`` with a sub-pixel ``box``: the one C path that keeps the motion
  smooth).
* **Integer blending in preallocated buffers.** ``dst * (255 - a) + src * a`` fits ``uint16``
  exactly; ``/255`` is ``(x + 128 + ((x + 128) >> 8)) >> 8`` (exact rounding), computed in
  place in scratch buffers allocated once.
* **Nothing is drawn twice.** Each frame's drawing is summarised by a *signature* (which layers,
  at which sequence index / window / position / opacity); a frame whose signature equals the
  previous one's reuses the buffer as it is, so a static shot costs nothing after its first
  frame.

:meth:`Compositor.frame` returns a view of an internal buffer that the next call overwrites:
consume (write, copy) it before asking for the next frame.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import Any

import numpy as np
from PIL import Image

from nyeshc.plan.model import (
    Box,
    Layer,
    Overlap,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    TextLayer,
    Timeline,
)
from nyeshc.store.cache import Cache
from nyeshc.store.frames import CorruptFrames
from nyeshc.store.pages import release

__all__ = ["Compositor", "RenderError", "load_artifact"]

MARGIN = 0.05  # text placement margin, as a fraction of the canvas side
PAN_ZOOM = 1.1  # a pan with no zoom above 1 travels across this much margin
_LRU = 6  # resized sequence frames kept per layer
LOOP_CACHE = 64 << 20  # bytes of resized frames a looping sequence layer may keep (all its frames)
OVERSAMPLE = 3  # Ken Burns: point-sample a copy upsampled this much (2 when that would be large)
MAX_OVERSAMPLED = 16_000_000  # pixels of the oversampled copy before falling back to 2x
MAX_DENSITY = 1.25  # image pixels per output pixel above which a moving still is pre-shrunk


class RenderError(RuntimeError):
    """A render failure: a missing or malformed artifact, an encoder error."""


def load_artifact(cache: Cache, key: str, what: str) -> Any:
    """The cached artifact ``key`` (memory-mapped, or a lazily decoded
    :class:`~nyeshc.store.frames.FrameSequence` for a compressed frame sequence); a clear
    error when it is absent.

    Checksums are not re-verified here (a 700 MB morph would cost seconds of hashing per render):
    the cache checks sizes on every read and the executor verifies what it reuses."""
    art = cache.get(key, verify=False)
    if art is None:
        raise RenderError(f"{what}: artifact {key[:12]}… is not in the cache (run the jobs first)")
    return art


# --------------------------------------------------------------------------- arithmetic


def _div255(x: np.ndarray, scratch: np.ndarray) -> None:
    """``x = round(x / 255)`` in place for ``uint16`` ``x <= 65025``."""
    x += 128
    np.right_shift(x, 8, out=scratch)
    x += scratch
    x >>= 8


def eased(p: float, ease: str) -> float:
    """``p`` (clamped to 0..1) through the easing curve: ``smooth`` is smoothstep, else linear.
    Shared with the exports, whose keyframes follow the same curve."""
    p = min(1.0, max(0.0, p))
    return p * p * (3.0 - 2.0 * p) if ease == "smooth" else p


def span_progress(f: int, start: int, end: int) -> float:
    """0 at a span's first frame, 1 at its last."""
    n = end - start - 1
    return 0.0 if n <= 0 else (f - start) / n


def _opacity(f: int, start: int, end: int, fade_in: int, fade_out: int) -> int:
    """Opacity 0..255 of a span with fades: 0 on the first frame of a fade in, 0 on the last of
    a fade out, linear between."""
    o = 1.0
    if fade_in > 0:
        o = min(o, (f - start) / fade_in)
    if fade_out > 0:
        o = min(o, (end - 1 - f) / fade_out)
    return int(round(255 * min(1.0, max(0.0, o))))


_INVERT = [255 - v for v in range(256)]


class _Sprite:
    """An image ready to draw.

    Opaque images keep their RGB (possibly a memory map: copied when drawn). Images with alpha
    keep ``pm`` (premultiplied RGB, uint8), ``pm255 = pm * 255`` and ``inv = 255 - a`` replicated
    over the three channels (uint16), all C-contiguous ``(h, w, 3)``: numpy is ten times slower
    on a broadcast ``(h, w, 1)`` alpha or a strided RGBA view, so the channel shuffling is done
    by Pillow's C code (``split``/``merge``) once per sprite, and every blend runs over
    contiguous memory."""

    __slots__ = ("rgb", "alpha", "pm", "pm255", "inv", "h", "w", "pil")

    def __init__(self, image: np.ndarray | None = None, *, rgba: Any = None) -> None:
        """``image``: ``uint8 (h, w, 3|4)`` straight alpha; or ``rgba``: a Pillow image in mode
        ``RGBA`` (straight) or ``RGBa`` (premultiplied)."""
        self.alpha = self.pm = self.pm255 = self.inv = self.pil = None
        if rgba is None:
            assert image is not None
            self.h, self.w = image.shape[:2]
            self.rgb = image[..., :3]
            if image.shape[2] != 4 or int(image[..., 3].min()) == 255:
                return
            rgba = Image.fromarray(np.ascontiguousarray(image))
        self.w, self.h = rgba.size
        bands = (rgba if rgba.mode == "RGBa" else rgba.convert("RGBa")).split()
        inv = bands[3].point(_INVERT)
        self.pm = np.asarray(Image.merge("RGB", bands[:3]))
        if not inv.getbbox():  # fully opaque after all
            self.rgb = self.pm
            self.pm = None
            return
        self.rgb = self.pm
        self.alpha = True
        self.pm255 = np.multiply(self.pm, 255, dtype=np.uint16)
        self.inv = np.asarray(Image.merge("RGB", (inv, inv, inv))).astype(np.uint16)

    @classmethod
    def pasted(cls, rgba: Any) -> _Sprite:
        """A sprite drawn once or a few times (a frame of an animated sequence): kept as a
        straight-alpha ``RGBA`` Pillow image (a frame of a memory map is wrapped, not copied)
        and drawn by Pillow's masked ``paste`` in C. Building the blend-ready arrays above costs
        more than the draw itself (7 ms vs 1.7 ms for a 684² portrait); the paste is ~3.5 ms
        in all and matches the integer blend to ±1."""
        if isinstance(rgba, np.ndarray):
            h, w = rgba.shape[:2]
            rgba = Image.frombuffer("RGBA", (w, h), np.ascontiguousarray(rgba), "raw", "RGBA", 0, 1)
        elif rgba.mode != "RGBA":
            rgba = rgba.convert("RGBA")
        s = cls.__new__(cls)
        s.pm = s.pm255 = s.inv = None
        s.rgb = None
        s.alpha = True
        s.pil = rgba
        s.w, s.h = rgba.size
        return s


class _Scratch:
    """Two flat uint16 buffers the size of the canvas, viewed at any smaller shape."""

    def __init__(self, n: int) -> None:
        self.a = np.empty(n, dtype=np.uint16)
        self.b = np.empty(n, dtype=np.uint16)

    def views(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        n = math.prod(shape)
        return self.a[:n].reshape(shape), self.b[:n].reshape(shape)


def _clip(dst: np.ndarray, h: int, w: int, x: int, y: int) -> tuple[Any, Any] | None:
    H, W = dst.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def draw(dst: np.ndarray, sprite: _Sprite, x: int, y: int, opacity: int, scratch: _Scratch) -> None:
    """Composite ``sprite`` over ``dst`` at ``(x, y)`` (clipped) with ``opacity`` 0..255."""
    if opacity <= 0:
        return
    cl = _clip(dst, sprite.h, sprite.w, x, y)
    if cl is None:
        return
    (dy, dx), (sy, sx) = cl
    d = dst[dy, dx]
    if sprite.pil is not None:
        region = Image.fromarray(d)
        mask = sprite.pil
        if opacity < 255:
            lut = [(v * opacity + 127) // 255 for v in range(256)]
            mask = sprite.pil.getchannel("A").point(lut)
        region.paste(sprite.pil, (-sx.start, -sy.start), mask)  # Pillow clips to the region
        d[...] = np.asarray(region)
        return
    t, u = scratch.views(d.shape)
    if sprite.alpha is None:
        if opacity >= 255:
            d[...] = sprite.rgb[sy, sx]
            return
        np.multiply(d, 255 - opacity, out=t, dtype=np.uint16)
        np.multiply(sprite.rgb[sy, sx], opacity, out=u, dtype=np.uint16)
        t += u
    elif opacity >= 255:
        np.multiply(d, sprite.inv[sy, sx], out=t, dtype=np.uint16)
        t += sprite.pm255[sy, sx]
    else:
        a = np.subtract(255, sprite.inv[sy, sx], dtype=np.uint16)  # alpha, replicated
        a *= opacity
        a += 127
        a //= 255
        np.subtract(255, a, out=a)
        np.multiply(d, a, out=t, dtype=np.uint16)
        np.multiply(sprite.pm[sy, sx], opacity, out=u, dtype=np.uint16)
        t += u
    _div255(t, u)
    np.copyto(d, t, casting="unsafe")


def mix(dst: np.ndarray, a: np.ndarray, b: np.ndarray, w: int, scratch: _Scratch) -> None:
    """``dst = a * (255 - w) / 255 + b * w / 255`` (``dst`` may be ``a``)."""
    t, u = scratch.views(dst.shape)
    np.multiply(a, 255 - w, out=t, dtype=np.uint16)
    np.multiply(b, w, out=u, dtype=np.uint16)
    t += u
    _div255(t, u)
    np.copyto(dst, t, casting="unsafe")


@functools.lru_cache(maxsize=8)
def _darken_pairs(o: int) -> np.ndarray:
    """``darken``'s table for two bytes at once: 65,536 ``uint16`` entries, entry ``256 * a + b``
    holding ``a`` and ``b`` darkened in the same places (so either byte order reads it right);
    read only."""
    lut = ((np.arange(256, dtype=np.uint32) * o + 127) // 255).astype(np.uint16)
    pairs = ((lut[:, None] << 8) | lut[None, :]).reshape(-1)
    pairs.flags.writeable = False
    return pairs


def darken(dst: np.ndarray, o: int) -> None:
    """``dst *= o / 255`` (rounded) through a lookup table: two bytes a gather where ``dst`` is
    contiguous (1.6 against 3.0 ms a 720p frame for one byte a gather), the same bytes."""
    if o >= 255:
        return
    if o <= 0:
        dst.fill(0)
        return
    if dst.flags.c_contiguous and dst.size >= 2:
        flat = dst.reshape(-1)  # a view of a contiguous array
        words = flat[:flat.size & ~1].view(np.uint16)
        np.take(_darken_pairs(int(o)), words, out=words)
        if flat.size & 1:
            flat[-1] = (int(flat[-1]) * o + 127) // 255
        return
    lut = ((np.arange(256, dtype=np.uint32) * o + 127) // 255).astype(np.uint8)
    np.take(lut, dst, out=dst)


# --------------------------------------------------------------------------- layers


def _target(box: Box | None, width: int, height: int) -> tuple[int, int, int, int]:
    return (0, 0, width, height) if box is None else (box.x, box.y, max(1, box.width), max(1, box.height))


def cover_window(iw: int, ih: int, tw: int, th: int) -> tuple[float, float, float, float]:
    """The centred source window of the target's aspect that covers ``tw x th``."""
    aspect = tw / th
    if iw / ih > aspect:
        w, h = ih * aspect, float(ih)
    else:
        w, h = float(iw), iw / aspect
    return (iw - w) / 2, (ih - h) / 2, w, h


def _zoom_at(zooms: tuple[float, ...], p: float) -> float:
    """The zoom at eased progress ``p``: geometric between stops spread evenly over [0, 1]."""
    if len(zooms) < 2:
        return max(zooms[0] if zooms else 1.0, 1e-3)
    n = len(zooms) - 1
    pos = min(max(p, 0.0), 1.0) * n
    i = min(int(pos), n - 1)
    a, b = max(zooms[i], 1e-3), max(zooms[i + 1], 1e-3)
    return a * (b / a) ** (pos - i)


def _has_move(zoom: tuple[float, ...], pan: str | None) -> bool:
    return pan is not None or any(z != 1.0 for z in zoom)


def camera_window(iw: int, ih: int, tw: int, th: int, zooms: tuple[float, ...], pan: str | None,
                  p: float) -> tuple[float, float, float, float]:
    """The source window ``(x0, y0, w, h)`` of an ``iw x ih`` picture shown in a ``tw x th`` box
    at eased progress ``p`` of a Ken Burns move: the centred cover window divided by the zoom,
    travelling along the pan across the picture's margin. A zoom below 1 makes the window
    larger than the picture (centred: the picture shrinks inside black)."""
    if pan is not None and max(zooms) <= 1.0:
        zooms = tuple(z * PAN_ZOOM for z in zooms)  # a pan needs a margin to travel across
    z = _zoom_at(zooms, p)
    bx, by, bw, bh = cover_window(iw, ih, tw, th)
    w, h = bw / z, bh / z
    cx, cy = bx + bw / 2, by + bh / 2
    mx, my = abs(iw - w) / 2, abs(ih - h) / 2  # the margin on each side
    if pan == "left":  # the camera pans left: the window travels right to left
        cx += mx * (1 - 2 * p)
    elif pan == "right":
        cx -= mx * (1 - 2 * p)
    elif pan == "up":
        cy += my * (1 - 2 * p)
    elif pan == "down":
        cy -= my * (1 - 2 * p)
    x0 = min(max(cx - w / 2, 0.0), max(iw - w, 0.0)) if w <= iw else cx - w / 2
    y0 = min(max(cy - h / 2, 0.0), max(ih - h, 0.0)) if h <= ih else cy - h / 2
    return (round(x0, 3), round(y0, 3), round(w, 3), round(h, 3))


def crop_resize(img: Any, box: tuple[float, float, float, float], size: tuple[int, int], resample: Any) -> Any:
    """``img.resize(size, resample, box=box)`` for a ``box`` ``(x0, y0, x1, y1)`` that may reach
    outside the image: the part outside is black (transparent for RGBA/RGBa)."""
    x0, y0, x1, y1 = box
    W, H = img.size
    if x0 >= 0 and y0 >= 0 and x1 <= W and y1 <= H:
        return img.resize(size, resample, box=box)
    tw, th = size
    out = Image.new(img.mode, size)
    ix0, iy0, ix1, iy1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(W)), min(y1, float(H))
    if ix1 <= ix0 or iy1 <= iy0:
        return out
    sx, sy = tw / (x1 - x0), th / (y1 - y0)
    dx0, dy0 = round((ix0 - x0) * sx), round((iy0 - y0) * sy)
    dx1, dy1 = round((ix1 - x0) * sx), round((iy1 - y0) * sy)
    if dx1 > dx0 and dy1 > dy0:
        out.paste(img.resize((dx1 - dx0, dy1 - dy0), resample, box=(ix0, iy0, ix1, iy1)), (dx0, dy0))
    return out


class _StillState:
    """A backdrop with a Ken Burns move: a window of the image, eased from ``zoom[0]`` to
    ``zoom[1]`` (geometrically) and along the pan, fitted to the layer's box.

    A still without a move is resized once (bilinear). A moving window is *point-sampled* from
    a copy of the image upsampled ``OVERSAMPLE`` times (bicubic, once per layer): nearest
    sampling is about ten times cheaper than a per-frame bilinear resize and, with the
    positions quantised to a third of a source pixel, the frames match a bilinear resize to
    about 55 dB PSNR while the motion stays sub-pixel smooth. An image much larger than its
    window is first shrunk (antialiased, once) so point sampling cannot alias.
    """

    def __init__(self, layer: StillLayer, image: np.ndarray, width: int, height: int) -> None:
        self.layer = layer
        self.x, self.y, self.tw, self.th = _target(layer.box, width, height)
        self.ih, self.iw = image.shape[:2]
        self.image = image
        zooms = tuple(layer.zoom) or (1.0,)
        if layer.pan is not None and max(zooms) <= 1.0:
            zooms = tuple(z * PAN_ZOOM for z in zooms)
        self.z0, self.z1 = max(min(zooms), 1e-3), max(max(zooms), 1e-3)  # the extremes of the move
        self.static = len(set(zooms)) == 1 and layer.pan is None
        self.sprite: _Sprite | None = None
        self.window: tuple[float, float, float, float] | None = None
        self._src: Any = None  # the oversampled PIL image (moving windows only)
        self._k = 1.0  # oversampled pixels per image pixel

    def window_at(self, f: int) -> tuple[float, float, float, float]:
        L = self.layer
        p = eased(span_progress(f, L.start, L.end), L.ease)
        return camera_window(self.iw, self.ih, self.tw, self.th, tuple(L.zoom) or (1.0,), L.pan, p)

    def signature(self, f: int) -> Any:
        return self.window_at(f) if not self.static else 0

    def _pil(self) -> Any:
        img = self.image
        return Image.fromarray(np.ascontiguousarray(img if img.shape[2] == 4 else img[..., :3]))

    def _oversampled(self) -> Any:
        if self._src is None:
            pil = self._pil()
            # image pixels per output pixel at the widest window of the move
            bw = cover_window(self.iw, self.ih, self.tw, self.th)[2]
            density = bw / min(self.z0, self.z1) / self.tw
            shrink = min(1.0, MAX_DENSITY / density) if density > MAX_DENSITY else 1.0
            m = OVERSAMPLE if self.iw * self.ih * shrink * shrink * OVERSAMPLE ** 2 <= MAX_OVERSAMPLED else 2
            self._k = shrink * m
            size = (max(1, round(self.iw * self._k)), max(1, round(self.ih * self._k)))
            self._k = size[0] / self.iw
            self._src = pil.resize(size, Image.Resampling.BICUBIC)
        return self._src

    def sprite_at(self, f: int) -> _Sprite:
        win = self.window_at(f)
        if self.sprite is None or win != self.window:
            x0, y0, w, h = win
            if self.static:
                img = crop_resize(self._pil(), (x0, y0, x0 + w, y0 + h), (self.tw, self.th),
                                  Image.Resampling.BILINEAR)
            else:
                src, k = self._oversampled(), self._k
                x1, y1 = (x0 + w) * k, (y0 + h) * k
                if w <= self.iw and h <= self.ih:
                    x1, y1 = min(x1, src.width), min(y1, src.height)
                img = crop_resize(src, (x0 * k, y0 * k, x1, y1), (self.tw, self.th), Image.Resampling.NEAREST)
            self.sprite, self.window = _Sprite(np.asarray(img)), win
        return self.sprite


class _SequenceState:
    """A frame sequence fitted to its box, one resize per distinct frame index (LRU).

    RGBA frames become :meth:`_Sprite.pasted` sprites (4 bytes a pixel), so a looping sequence
    keeps every resized frame when they fit in ``LOOP_CACHE`` bytes and is resized once per
    frame index for the whole film."""

    def __init__(self, layer: SequenceLayer, frames: Any, width: int, height: int,
                 cache: Cache | None = None) -> None:
        if frames.ndim != 4 or frames.shape[3] not in (3, 4) or frames.shape[0] == 0:
            raise RenderError(f"sequence layer {layer.artifact[:12]}…: expected (N, H, W, 3|4) frames, "
                              f"got {frames.shape}")
        self.layer = layer
        self.frames = frames  # an array (memory map) or a compressed FrameSequence
        self.cache = cache
        self.n, fh, fw = frames.shape[:3]
        self.fw, self.fh = fw, fh
        self.x, self.y, self.tw, self.th = _target(layer.box, width, height)
        self.window = cover_window(fw, fh, self.tw, self.th)
        self.path: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # see glide()
        self.moving = _has_move(tuple(layer.zoom), layer.pan)
        if self.moving and len(set(layer.zoom)) == 1 and layer.pan is None:  # a fixed zoom: one window
            self.window = self._window(0.0)
            self.moving = False
        self.fit = (fw, fh) != (self.tw, self.th) or self.window != (0, 0, fw, fh)
        self.lru: OrderedDict[Any, _Sprite] = OrderedDict()
        self.keep = _LRU
        if layer.loop and self.fit:
            per = self.tw * self.th * (4 if frames.shape[3] == 4 else 3)
            self.keep = max(_LRU, min(self.n, LOOP_CACHE // max(1, per)))

    def _window(self, p: float) -> tuple[float, float, float, float]:
        L = self.layer
        x0, y0, w, h = camera_window(self.fw, self.fh, self.tw, self.th, tuple(L.zoom) or (1.0,), L.pan, p)
        # the window's box form (x0, y0, x1, y1) is what Pillow takes: keep (x, y, w, h) here
        return (x0, y0, w, h)

    def glide(self, a: tuple[float, ...], b: tuple[float, ...]) -> None:
        """Move the window from ``a`` to ``b`` (fractions of the frame: ``(x0, y0, w, h)``) over
        the layer: a morph overlap carries the outgoing backdrop's framing into the incoming
        one's, so a zoomed or panned scene does not jump when the morph starts."""
        self.path = (a, b)
        self.moving = True
        self.fit = True

    def window_at(self, f: int) -> tuple[float, float, float, float]:
        L = self.layer
        p = span_progress(f, L.start, L.end)
        if self.path is not None:
            a, b = self.path
            q = eased(p, "smooth")
            x0, y0, w, h = (a[i] + (b[i] - a[i]) * q for i in range(4))
            return (round(x0 * self.fw, 3), round(y0 * self.fh, 3), round(w * self.fw, 3), round(h * self.fh, 3))
        return self._window(eased(p, L.ease))

    def index(self, f: int) -> int:
        i = self.layer.offset + (f - self.layer.start)
        return i % self.n if self.layer.loop else min(max(i, 0), self.n - 1)

    def signature(self, f: int) -> Any:
        return (self.index(f), self.window_at(f)) if self.moving else self.index(f)

    def sprite_at(self, f: int) -> _Sprite:
        if self.moving:
            return self.sprite_of(self.index(f), self.window_at(f))
        return self.sprite_of(self.index(f))

    def sprite_of(self, i: int, window: tuple[float, float, float, float] | None = None) -> _Sprite:
        tag: Any = i if window is None else (i, window)
        s = self.lru.get(tag)
        if s is not None:
            self.lru.move_to_end(tag)
            return s
        try:
            frame = self.frames[i]
        except CorruptFrames as exc:  # damaged since it was written: remove it so a build remakes it
            if self.cache is not None:
                self.cache.discard(self.layer.artifact)
            raise RenderError(f"sequence {self.layer.artifact[:12]}…: {exc}; the entry was removed from the "
                              "cache, build again to make it anew") from None
        if self.fit or window is not None:
            x0, y0, w, h = window or self.window
            img = Image.fromarray(np.ascontiguousarray(frame))
            rgba = img.mode == "RGBA"
            if rgba:  # premultiply at the source's (smaller) size; resize in RGBa
                img = img.convert("RGBa")
            img = crop_resize(img, (x0, y0, x0 + w, y0 + h), (self.tw, self.th), Image.Resampling.BILINEAR)
            s = _Sprite.pasted(img) if rgba else _Sprite(np.asarray(img))
        elif frame.shape[2] == 4:
            s = _Sprite.pasted(frame)  # already the box's size: drawn straight from the memory map
        else:
            s = _Sprite(frame)
        self.lru[tag] = s
        if len(self.lru) > self.keep:
            self.lru.popitem(last=False)
        return s

    def normalised(self, f: int) -> tuple[float, float, float, float]:
        x0, y0, w, h = self.window_at(f) if self.moving else self.window
        return (x0 / self.fw, y0 / self.fh, w / self.fw, h / self.fh)


class _TextState:
    """A straight-alpha RGBA text block, placed by position or rolled bottom to top."""

    def __init__(self, layer: TextLayer, image: np.ndarray, width: int, height: int) -> None:
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise RenderError(f"text layer {layer.artifact[:12]}…: expected an RGBA image, got {image.shape}")
        self.layer = layer
        self.sprite = _Sprite(np.ascontiguousarray(image))
        h, w = self.sprite.h, self.sprite.w
        mx, my = round(MARGIN * width), round(MARGIN * height)
        self.W, self.H = width, height
        pos = layer.position
        self.px = mx if pos == "left" else width - w - mx if pos == "right" else (width - w) // 2
        self.py = my if pos == "top" else height - h - my if pos == "bottom" else (height - h) // 2
        self.py -= layer.row * (h + my // 2) if pos != "top" else -layer.row * (h + my // 2)  # stacked subtitles

    def place(self, f: int) -> tuple[int, int]:
        L = self.layer
        if not L.roll:
            return self.px, self.py
        p = (f - L.start) / max(1, L.end - L.start - 1)
        top = self.H + (-self.sprite.h - self.H) * p  # from just below the canvas to just above
        return (self.W - self.sprite.w) // 2, int(round(top))

    def signature(self, f: int) -> Any:
        return self.place(f)

    def sprite_at(self, f: int) -> _Sprite:
        return self.sprite


_State = _StillState | _SequenceState | _TextState


def _is_backdrop(layer: Layer) -> bool:
    """Layers a morph replaces during a ``MORPH TO`` overlap."""
    if isinstance(layer, StillLayer):
        return layer.box is None
    return isinstance(layer, SequenceLayer) and layer.role == "morph" and layer.box is None


# --------------------------------------------------------------------------- the compositor


class Compositor:
    """Composes frames of ``timeline`` from the artifacts in ``cache``.

    ``frame(f)`` returns ``uint8 (H, W, 3)``: a view of an internal buffer, valid until the
    next call. Frames outside every scene are black; an overlap composes both scenes and blends
    the second over the first with a linear ramp.
    """

    def __init__(self, timeline: Timeline, cache: Cache) -> None:
        self.timeline = timeline
        self.cache = cache
        W, H = timeline.width, timeline.height
        self.out = np.zeros((H, W, 3), dtype=np.uint8)
        self.bufs = [np.zeros((H, W, 3), dtype=np.uint8) for _ in range(2)]
        self.scratch = _Scratch(H * W * 3)
        self.black = np.zeros((H, W, 3), dtype=np.uint8)
        self._states: dict[Layer, _State] = {}
        self._morphs: dict[str, _SequenceState] = {}
        self._evict_at = 0
        self._sig: list[Any] = [None, None, None]  # last signature drawn into bufs[0], bufs[1], out
        self._scenes = sorted(timeline.scenes, key=lambda s: s.start)
        self._by_index = {s.index: s for s in timeline.scenes}

    # ----------------------------------------------------------------- lookups

    def scene_at(self, f: int) -> SceneTrack | None:
        """The scene showing frame ``f`` outside overlaps (the later one if two touch)."""
        found = None
        for s in self._scenes:
            if s.start <= f < s.end:
                found = s
        return found

    def overlap_at(self, f: int) -> Overlap | None:
        for o in self.timeline.overlaps:
            if o.start <= f < o.end:
                return o
        return None

    def state(self, layer: Layer) -> _State:
        st = self._states.get(layer)
        if st is None:
            W, H = self.timeline.width, self.timeline.height
            art = load_artifact(self.cache, layer.artifact, f"{layer.kind} layer")
            if isinstance(layer, StillLayer):
                st = _StillState(layer, art, W, H)
            elif isinstance(layer, SequenceLayer):
                st = _SequenceState(layer, art, W, H, self.cache)
            else:
                st = _TextState(layer, art, W, H)
            self._states[layer] = st
        return st

    def morph_state(self, ov: Overlap) -> _SequenceState:
        assert ov.morph is not None
        st = self._morphs.get(ov.morph)
        if st is None:
            frames = load_artifact(self.cache, ov.morph, "morph overlap")
            layer = SequenceLayer(start=ov.start, end=ov.end, artifact=ov.morph, role="morph")
            st = _SequenceState(layer, frames, self.timeline.width, self.timeline.height, self.cache)
            a = self._framing(self._by_index.get(ov.a), ov.start)
            b = self._framing(self._by_index.get(ov.b), ov.end - 1)
            if a is not None or b is not None:
                full = st.normalised(ov.start)
                st.glide(a or full, b or full)
            self._morphs[ov.morph] = st
        return st

    def _framing(self, scene: SceneTrack | None, f: int) -> tuple[float, float, float, float] | None:
        """The window (fractions of its picture) of ``scene``'s backdrop at frame ``f`` when that
        backdrop has a camera move; None when it shows its whole picture."""
        if scene is None:
            return None
        layer = None
        for L in scene.layers:
            if _is_backdrop(L) and L.start <= f < L.end and L.box is None:
                layer = L
        if layer is None or not _has_move(tuple(layer.zoom), layer.pan):  # type: ignore[union-attr]
            return None
        st = self.state(layer)
        if isinstance(st, _StillState):
            x0, y0, w, h = st.window_at(f)
            return (x0 / st.iw, y0 / st.ih, w / st.iw, h / st.ih)
        if isinstance(st, _SequenceState):
            return st.normalised(f)
        return None

    # ----------------------------------------------------------------- drawing

    def _plan_scene(self, scene: SceneTrack, f: int, morph: Overlap | None) -> list[tuple[Any, int, Any]]:
        """The draw list of ``scene`` at ``f``: (state, opacity, signature) bottom to top."""
        ops: list[tuple[Any, int, Any]] = []
        morph_done = False
        if morph is not None and not any(_is_backdrop(L) and L.start <= f < L.end for L in scene.layers):
            st = self.morph_state(morph)
            ops.append((st, 255, ("m", morph.morph, st.signature(f))))
            morph_done = True
        for L in scene.layers:
            if not (L.start <= f < L.end):
                continue
            o = _opacity(f, L.start, L.end, L.fade.fade_in, L.fade.fade_out)
            if o <= 0:
                continue
            if morph is not None and _is_backdrop(L):
                if morph_done:
                    continue
                st, morph_done = self.morph_state(morph), True
                ops.append((st, o, ("m", morph.morph, st.signature(f), o)))
                continue
            st = self.state(L)
            ops.append((st, o, (id(st), st.signature(f), o)))
        return ops

    def _compose_scene(self, scene: SceneTrack, f: int, slot: int, morph: Overlap | None) -> np.ndarray:
        dst = self.bufs[slot]
        ops = self._plan_scene(scene, f, morph)
        fade = _opacity(f, scene.start, scene.end, scene.fade_in, scene.fade_out)
        white = (scene.fade_in_white and f - scene.start < scene.fade_in) or \
            (scene.fade_out_white and scene.end - 1 - f < scene.fade_out)
        sig = (scene.index, fade, white, tuple(s for _, _, s in ops))
        if sig == self._sig[slot]:
            return dst
        self._sig[slot] = None
        first = True
        for st, o, _ in ops:
            sprite = st.sprite_at(f)
            x, y = st.place(f) if isinstance(st, _TextState) else (st.x, st.y)
            if first and not (o >= 255 and sprite.alpha is None and x <= 0 and y <= 0
                              and x + sprite.w >= dst.shape[1] and y + sprite.h >= dst.shape[0]):
                dst.fill(0)
            first = False
            draw(dst, sprite, x, y, o, self.scratch)
        if first:
            dst.fill(0)
        if white:  # FADE TO WHITE: lighten towards white instead
            np.subtract(255, dst, out=dst)
            darken(dst, fade)
            np.subtract(255, dst, out=dst)
        else:
            darken(dst, fade)
        self._sig[slot] = sig
        return dst

    def frame(self, f: int) -> np.ndarray:
        """Frame ``f`` of the film as ``uint8 (H, W, 3)`` (a reused buffer)."""
        if not 0 <= f < self.timeline.frames:
            raise IndexError(f"frame {f} outside the film (0..{self.timeline.frames - 1})")
        if (self._states or self._morphs) and f >= self._evict_at:
            # films play forward: free what ended (a Ken Burns copy is tens of MB), and unmap the
            # pages read from what is still shown (a long sequence would keep every frame resident)
            for layer in [L for L in self._states if L.end <= f]:
                del self._states[layer]
            for key in [k for k, st in self._morphs.items() if st.layer.end <= f]:
                del self._morphs[key]
            release(*(getattr(st, a, None) for st in (*self._states.values(), *self._morphs.values())
                      for a in ("frames", "image")))
            self._evict_at = f + 24
        ov = self.overlap_at(f)
        if ov is not None and ov.a in self._by_index and ov.b in self._by_index:
            morph = ov if ov.kind == "morph" and ov.morph else None
            a = self._compose_scene(self._by_index[ov.a], f, 0, morph)
            b = self._compose_scene(self._by_index[ov.b], f, 1, morph)
            w = int(round(255 * (f - ov.start + 1) / (ov.end - ov.start + 1)))
            sig = ("x", self._sig[0], self._sig[1], w)
            if sig != self._sig[2]:
                mix(self.out, a, b, w, self.scratch)
                self._sig[2] = sig
            return self.out
        scene = self.scene_at(f)
        if scene is None:
            return self.black
        return self._compose_scene(scene, f, 0, None)
