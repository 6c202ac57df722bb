"""The few filters the voice and the mixer need, without importing ``scipy.signal``.

``import scipy.signal`` takes 1.4-2.5 s on this project's machines (scipy 1.17 rewrites the
docstring of every public function at import, and imports ``scipy.stats``). A build whose only
changed job is one spoken line paid it twice on its critical path: in the worker that spoke the
line (the formant voice filters with ``sosfilt``/``lfilter`` and designs Butterworth sections) and
in the driver's mix (BS.1770 K-weighting, the 4x oversampled true peak).

Here the same computations run on scipy's own compiled kernels (``_sosfilt``, ``_sigtools``,
``_upfirdn_apply``), loaded from their files in ``scipy/signal/`` without running the package's
``__init__``; the filter designs (Butterworth by zeros, poles and gain; the windowed-sinc
interpolator of ``resample_poly``) are the same numpy operations as scipy's, in the same order.
``tests/render/test_dsp.py`` holds each function bit-identical to its ``scipy.signal``
counterpart (``resample_poly`` within rounding: its window's Bessel function is numpy's). Where
scipy's layout differs (a kernel is missing or will not load), every function falls back to
``scipy.signal`` itself: slower to import, the same numbers.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["butter_sos", "fftconvolve", "interpolator", "k_weighting", "lfilter", "oaconvolve", "resample_poly", "scipy_kernel",
           "sosfilt", "sosfilt_inplace"]


@functools.cache
def scipy_kernel(package: str, name: str) -> Any:
    """scipy's compiled module ``scipy.<package>.<name>`` (e.g. ``signal``, ``_sosfilt``), loaded
    from its file without importing the package; ``None`` where it cannot be (the callers then
    use the package itself). A module scipy has already imported is used as it is."""
    loaded = sys.modules.get(f"scipy.{package}.{name}")
    if loaded is not None:
        return loaded
    try:
        spec = importlib.util.find_spec("scipy")
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations))) / package
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"{name}{suffix}"
            if path.is_file():
                break
        else:
            return None
        found = importlib.util.spec_from_file_location(f"scipy.{package}.{name}", path)
        if found is None or found.loader is None:
            return None
        module = importlib.util.module_from_spec(found)
        found.loader.exec_module(module)
        return module
    except Exception:  # noqa: BLE001 - any failure means: use scipy.signal
        return None


def _signal() -> Any:
    import scipy.signal  # the slow, always-correct fallback

    return scipy.signal


# --------------------------------------------------------------------------- filtering


def sosfilt(sos: np.ndarray, x: np.ndarray, axis: int = -1, zi: np.ndarray | None = None) -> Any:
    """``scipy.signal.sosfilt`` for real float input: the filtered ``x``, and the final state
    when ``zi`` (sections, ..., 2, ...) is given."""
    kernel = scipy_kernel("signal", "_sosfilt")
    if kernel is None:
        return _signal().sosfilt(sos, x, axis=axis, zi=zi)
    x = np.asarray(x)
    sos = np.atleast_2d(np.asarray(sos))
    if sos.ndim != 2 or sos.shape[1] != 6 or not np.all(sos[:, 3] == 1):
        raise ValueError("sos must have shape (n_sections, 6) with sos[:, 3] == 1")
    n_sections = sos.shape[0]
    zi_shape = list(x.shape)
    zi_shape[axis] = 2
    zi_shape = [n_sections, *zi_shape]
    dtype = np.result_type(sos, x, *([] if zi is None else [np.asarray(zi)]))
    if dtype.char not in "fdg":
        raise NotImplementedError(f"input type '{dtype}' not supported")
    if zi is not None:
        state = np.array(zi, dtype=dtype)
        if state.shape != tuple(zi_shape):
            raise ValueError(f"zi must have shape {tuple(zi_shape)}, got {state.shape}")
    else:
        state = np.zeros(zi_shape, dtype=dtype)
    axis = axis % x.ndim
    x = np.moveaxis(x, axis, -1)
    state = np.moveaxis(state, (0, axis + 1), (-2, -1))
    x_shape, zi_moved = x.shape, state.shape
    work = np.array(np.reshape(x, (-1, x.shape[-1])), dtype, order="C")
    z3 = np.ascontiguousarray(np.reshape(state, (-1, n_sections, 2)))
    kernel._sosfilt(sos.astype(dtype, copy=False), work, z3)
    out = np.moveaxis(work.reshape(x_shape), -1, axis)
    if zi is None:
        return out
    return out, np.moveaxis(z3.reshape(zi_moved), (-2, -1), (0, axis + 1))


def lfilter(b: Any, a: Any, x: np.ndarray, axis: int = -1, zi: np.ndarray | None = None) -> Any:
    """``scipy.signal.lfilter`` for an IIR filter (``len(a) > 1``) or an FIR one without state."""
    b, a = np.atleast_1d(b), np.atleast_1d(a)
    kernel = scipy_kernel("signal", "_sigtools")
    if kernel is None or (len(a) == 1 and zi is not None):
        return _signal().lfilter(b, a, x, axis=axis, zi=zi)
    x = np.asarray(x)
    if len(a) == 1:  # scipy's own FIR path, step by step
        dtype = np.result_type(b, a, x)
        if dtype.char not in "fdg":
            raise NotImplementedError(f"input type '{dtype}' not supported")
        taps = np.array(b, dtype=dtype)
        taps /= np.asarray(a, dtype=dtype)[0]
        full = np.apply_along_axis(lambda y: np.convolve(taps, y), axis, np.asarray(x, dtype=dtype))
        keep = full.ndim * [slice(None)]
        keep[axis] = slice(full.shape[axis] - len(taps) + 1)
        return full[tuple(keep)]
    if zi is None:
        return kernel._linear_filter(b, a, x, axis)
    return kernel._linear_filter(b, a, x, axis, np.asarray(zi))


def k_weighting(rate: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The BS.1770 K-weighting as (b, a) pairs, in order: pyloudnorm's own ``Meter`` filters
    (RBJ high shelf +4 dB at 1.5 kHz, Q 1/sqrt 2; high pass at 38 Hz, Q 0.5), the same
    arithmetic as its ``IIRfilter.generate_coefficients``, passband gain 1."""
    def shelf(gain: float, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
        A = 10 ** (gain / 40.0)  # the cookbook's names
        w0 = 2.0 * np.pi * (fc / rate)
        alpha = np.sin(w0) / (2.0 * q)
        b0 = A * ((A + 1) + (A - 1) * np.cos(w0) + 2 * np.sqrt(A) * alpha)
        b1 = -2 * A * ((A - 1) + (A + 1) * np.cos(w0))
        b2 = A * ((A + 1) + (A - 1) * np.cos(w0) - 2 * np.sqrt(A) * alpha)
        a0 = (A + 1) - (A - 1) * np.cos(w0) + 2 * np.sqrt(A) * alpha
        a1 = 2 * ((A - 1) - (A + 1) * np.cos(w0))
        a2 = (A + 1) - (A - 1) * np.cos(w0) - 2 * np.sqrt(A) * alpha
        return np.array([b0, b1, b2]) / a0, np.array([a0, a1, a2]) / a0

    def high_pass(q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
        w0 = 2.0 * np.pi * (fc / rate)
        alpha = np.sin(w0) / (2.0 * q)
        b0 = (1 + np.cos(w0)) / 2
        b1 = -(1 + np.cos(w0))
        b2 = (1 + np.cos(w0)) / 2
        a0 = 1 + alpha
        a1 = -2 * np.cos(w0)
        a2 = 1 - alpha
        return np.array([b0, b1, b2]) / a0, np.array([a0, a1, a2]) / a0

    return shelf(4.0, 1 / np.sqrt(2), 1500.0), high_pass(0.5, 38.0)


# --------------------------------------------------------------------------- Butterworth


def butter_sos(order: int, cutoff: float | tuple[float, float], btype: str, fs: float) -> np.ndarray:
    """``scipy.signal.butter(order, cutoff, btype, fs=fs, output="sos")`` for ``btype`` low,
    high or band (lowpass, highpass, bandpass)."""
    btype = {"low": "lowpass", "high": "highpass", "band": "bandpass"}.get(btype, btype)
    wn = np.asarray(cutoff, dtype=np.float64) / (fs / 2)
    if np.any(wn <= 0) or np.any(wn >= 1):
        raise ValueError(f"Butterworth cutoffs must lie in (0, {fs / 2}) Hz, got {cutoff}")
    # buttap
    z = np.asarray([], dtype=np.float64)
    p = -np.exp(1j * np.pi * np.arange(-order + 1, order, 2, dtype=np.float64) / (2 * order))
    k = 1.0
    warped = 2 * 2.0 * np.tan(np.pi * wn / 2.0)
    degree = len(p) - len(z)
    if btype == "lowpass":
        wo = float(warped)
        z, p, k = wo * z, wo * p, k * wo ** degree
    elif btype == "highpass":
        wo = float(warped)
        k = k * np.real(np.prod(-z) / np.prod(-p))
        z, p = np.concatenate((wo / z, np.zeros(degree))), wo / p
    elif btype == "bandpass":
        bw, wo = float(warped[1] - warped[0]), float(np.sqrt(warped[0] * warped[1]))
        z_lp = (z * bw / 2).astype(np.complex128)
        p_lp = (p * bw / 2).astype(np.complex128)
        z = np.concatenate((z_lp + np.sqrt(z_lp ** 2 - wo ** 2), z_lp - np.sqrt(z_lp ** 2 - wo ** 2)))
        p = np.concatenate((p_lp + np.sqrt(p_lp ** 2 - wo ** 2), p_lp - np.sqrt(p_lp ** 2 - wo ** 2)))
        z = np.concatenate((z, np.zeros(degree)))
        k = k * bw ** degree
    else:
        raise ValueError(f"unknown Butterworth band type {btype!r}")
    # bilinear_zpk at fs = 2
    degree = len(p) - len(z)
    fs2 = 2.0 * 2.0
    z_z = np.concatenate(((fs2 + z) / (fs2 - z), -np.ones(degree)))
    p_z = (fs2 + p) / (fs2 - p)
    k_z = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    return _zpk2sos(z_z, p_z, k_z)


def _cplxreal(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's ``_cplxreal``: the conjugate pairs (positive imaginary halves) and the reals."""
    z = np.atleast_1d(z)
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real_indices = abs(z.imag) <= tol * abs(z)
    zr = z[real_indices].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real_indices]
    zp, zn = z[z.imag > 0], z[z.imag < 0]
    if len(zp) != len(zn):
        raise ValueError("a complex value has no matching conjugate")
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    for start, stop in zip(np.nonzero(diffs > 0)[0], np.nonzero(diffs < 0)[0] + 1, strict=True):
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    if any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ValueError("a complex value has no matching conjugate")
    return (zp + zn.conj()) / 2, zr


def _nearest(fro: np.ndarray, to: complex, which: str) -> int:
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return int(order[0])
    mask = np.isreal(fro[order])
    if which == "complex":
        mask = ~mask
    return int(order[np.nonzero(mask)[0][0]])


def _section(z: list[Any], p: list[Any]) -> np.ndarray:
    sos = np.zeros(6)
    b = np.multiply(np.asarray([1.0]), np.poly(z)) if len(z) else np.asarray([1.0])
    a = np.atleast_1d(np.asarray(np.poly(p)))
    sos[3 - len(b):3] = b
    sos[6 - len(a):6] = a
    return sos


def _zpk2sos(z: np.ndarray, p: np.ndarray, k: float) -> np.ndarray:
    """scipy's ``zpk2sos`` with its default digital pairing, ``nearest``."""
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p, z = np.concatenate((p, [0.0])), np.concatenate((z, [0.0]))
    z = np.concatenate(_cplxreal(z))
    p = np.concatenate(_cplxreal(p))
    k = float(np.real(k))

    def worst(q: np.ndarray) -> int:
        return int(np.argmin(np.abs(1 - np.abs(q))))

    sos = np.zeros((n_sections, 6))
    for si in range(n_sections - 1, -1, -1):
        i = worst(p)
        p1 = p[i]
        p = np.delete(p, i)
        if np.isreal(p1) and np.isreal(p).sum() == 0:
            j = _nearest(z, p1, "real")
            z1 = z[j]
            z = np.delete(z, j)
            sos[si] = _section([z1, 0], [p1, 0])
            continue
        if len(p) + 1 == len(z) and not np.isreal(p1) and np.isreal(p).sum() == 1 and np.isreal(z).sum() == 1:
            j = _nearest(z, p1, "complex")
            z1 = z[j]
            z = np.delete(z, j)
            sos[si] = _section([z1, z1.conj()], [p1, p1.conj()])
            continue
        if np.isreal(p1):
            reals = np.flatnonzero(np.isreal(p))
            j = int(reals[worst(p[reals])])
            p2 = p[j]
            p = np.delete(p, j)
        else:
            p2 = p1.conj()
        if len(z) == 0:
            sos[si] = _section([], [p1, p2])
            continue
        j = _nearest(z, p1, "any")
        z1 = z[j]
        z = np.delete(z, j)
        if not np.isreal(z1):
            sos[si] = _section([z1, z1.conj()], [p1, p2])
        elif len(z) > 0:
            j = _nearest(z, p1, "real")
            z2 = z[j]
            z = np.delete(z, j)
            sos[si] = _section([z1, z2], [p1, p2])
        else:
            sos[si] = _section([z1], [p1, p2])
    sos[0][:3] *= k
    return sos


# --------------------------------------------------------------------------- resampling


@functools.cache
def interpolator(up: int, down: int) -> np.ndarray:
    """``resample_poly``'s default filter for ``up``/``down``: a Kaiser-windowed (beta 5) sinc of
    ``20 * max(up, down) + 1`` taps cut at ``1 / max(up, down)``, scaled by ``up`` (scipy's
    ``firwin``, step by step, with numpy's Bessel function ``i0``: scipy.special is 0.2 s away,
    and its ``i0`` differs from numpy's by up to 4e-16 relative on some machines, so a float64 tap
    can differ from scipy's in its last bit)."""
    rate = max(up, down)
    numtaps, cutoff = 2 * 10 * rate + 1, 1.0 / rate
    alpha = (numtaps - 1) / 2.0
    n = np.arange(0, numtaps, dtype=np.float64)
    h = cutoff * np.sinc(cutoff * (n - alpha))  # firwin's one band from 0 (its sum of bands)
    beta = 5.0
    h *= np.i0(beta * np.sqrt(1 - ((n - alpha) / alpha) ** 2.0)) / np.i0(beta)
    return h / np.sum(h)  # unit gain at DC (firwin's scaling at frequency 0)


def resample_poly(x: np.ndarray, up: int, down: int = 1, axis: int = 0) -> np.ndarray:
    """``scipy.signal.resample_poly(x, up, down, axis=axis)`` with its default Kaiser window
    and zero padding, for real float ``x``."""
    x = np.asarray(x)
    kernel = scipy_kernel("signal", "_upfirdn_apply")
    if kernel is None or x.dtype.kind != "f":
        return _signal().resample_poly(x, up, down, axis=axis)
    g = math.gcd(up, down)
    up, down = up // g, down // g
    if up == down == 1:
        return np.array(x, copy=True)
    n_in = x.shape[axis]
    n_out = n_in * up
    n_out = n_out // down + bool(n_out % down)
    half_len = 10 * max(up, down)
    h = np.asarray(interpolator(up, down), dtype=x.dtype) * up
    n_pre_pad = down - half_len % down
    n_post_pad = 0
    n_pre_remove = (half_len + n_pre_pad) // down
    while kernel._output_len(h.shape[0] + n_pre_pad + n_post_pad, n_in, up, down) < n_out + n_pre_remove:
        n_post_pad += 1
    h = np.concatenate((np.zeros(n_pre_pad, dtype=h.dtype), h, np.zeros(n_post_pad, dtype=h.dtype)))
    out_type = np.result_type(h.dtype, x.dtype, np.float32)
    taps = np.asarray(h, out_type)
    padded = np.zeros(len(taps) + -len(taps) % up, taps.dtype)
    padded[:len(taps)] = taps
    flipped = np.ascontiguousarray(padded.reshape(-1, up).T[:, ::-1].ravel())
    shape = np.asarray(x.shape, dtype=np.int64)
    shape[axis] = kernel._output_len(len(taps), x.shape[axis], up, down)
    y = np.zeros(shape, dtype=out_type, order="C")
    axis = axis % x.ndim
    kernel._apply(np.asarray(x, out_type), flipped, y, up, down, axis, kernel.mode_enum("constant"), 0)
    keep = [slice(None)] * x.ndim
    keep[axis] = slice(n_pre_remove, n_pre_remove + n_out)
    return y[tuple(keep)]


# --------------------------------------------------------------------------- convolution


def _next_fast_len(target: int, primes: tuple[int, ...]) -> int:
    """The smallest number >= ``target`` whose prime factors are all in ``primes`` (scipy.fft's
    ``next_fast_len``: 2, 3, 5 for real transforms, up to 11 otherwise)."""
    if target <= 1:
        return 1
    best = 1 << (target - 1).bit_length()
    stack = [(1, 0)]
    while stack:
        value, i = stack.pop()
        for j in range(i, len(primes)):
            v = value * primes[j]
            while v < target:
                stack.append((v, j + 1))
                v *= primes[j]
            best = min(best, v)
    return best


def _lambertw_m1(x: float) -> float:
    """The lower branch W_{-1}(x) of Lambert's W for x in (-1/e, 0), by Halley's iteration."""
    w = math.log(-x) - math.log(-math.log(-x))
    for _ in range(64):
        ew = math.exp(w)
        f = w * ew - x
        step = f / (ew * (w + 1) - (w + 2) * f / (2 * w + 2))
        w -= step
        if abs(step) <= 4e-16 * abs(w):
            break
    return w


def _oa_lengths(s1: int, s2: int) -> tuple[int, int | None, int, int]:
    """scipy's ``_calc_oa_lens``: (block size, overlap, step in in1, step in in2)."""
    fallback = (s1 + s2 - 1, None, s1, s2)
    if s1 == s2 or s1 == 1 or s2 == 1:
        return fallback
    swapped = s2 > s1
    if swapped:
        s1, s2 = s2, s1
    if s2 >= s1 / 2:
        return fallback
    overlap = s2 - 1
    opt_size = -overlap * _lambertw_m1(-1 / (2 * math.e * overlap))
    block = _next_fast_len(math.ceil(opt_size), (2, 3, 5, 7, 11))
    if block >= s1:
        return fallback
    return (block, overlap, s2, block - s2 + 1) if swapped else (block, overlap, block - s2 + 1, s2)


def fftconvolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.signal.fftconvolve(a, b)`` (full) for real 1-D float64 arrays, by numpy's FFT
    (the same pocketfft as scipy.fft, the same numbers)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or b.ndim != 1 or a.dtype != np.float64 or b.dtype != np.float64:
        return _signal().fftconvolve(a, b)  # scipy's own dtype and shape rules
    if a.size == 0 or b.size == 0:
        return np.asarray([])
    if a.size == 1 or b.size == 1:
        return a * b
    n = a.size + b.size - 1
    size = _next_fast_len(n, (2, 3, 5))
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n].copy()


def oaconvolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.signal.oaconvolve(a, b)`` (full) for real 1-D float64 arrays: overlap-add in
    blocks of scipy's size, by numpy's FFT."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or b.ndim != 1 or a.dtype != np.float64 or b.dtype != np.float64:
        return _signal().oaconvolve(a, b)  # scipy's own dtype and shape rules
    if a.size == 0 or b.size == 0:
        return np.asarray([])
    if a.shape == b.shape or a.size == 1 or b.size == 1:
        return fftconvolve(a, b)
    s1, s2 = a.size, b.size
    block, overlap, step1, step2 = _oa_lengths(s1, s2)
    if overlap is None or (step1 == s1 and step2 == s2):
        return fftconvolve(a, b)
    final = s1 + s2 - 1

    def steps(size: int, step: int) -> int:
        if size <= step:
            return 1
        n = math.ceil((size + 1) / step)
        return n + 1 if (block - overlap) * n < final else n

    n1, n2 = steps(s1, step1), steps(s2, step2)
    a = np.pad(a, (0, n1 * step1 - s1)).reshape(n1, step1)
    b = np.pad(b, (0, n2 * step2 - s2)).reshape(n2, step2)
    ret = np.fft.irfft(np.fft.rfft(a, block, axis=-1) * np.fft.rfft(b, block, axis=-1), block, axis=-1)
    ret, over = ret[:, :-overlap], ret[:, -overlap:]
    ret[1:, :overlap] += over[:-1]
    return ret.reshape(-1)[:final].copy()


def sosfilt_inplace(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    """Filter the contiguous float64 1-D ``x`` in place, carrying state ``zi`` (sections, 2):
    the compiled kernel called directly, without ``sosfilt``'s checks (~100 us per call, which
    the formant synthesiser's 5 ms blocks would pay thousands of times)."""
    kernel = scipy_kernel("signal", "_sosfilt")
    if kernel is not None:
        kernel._sosfilt(np.ascontiguousarray(sos, dtype=np.float64), x.reshape(1, -1), zi.reshape(1, -1, 2))
        return
    y, z = _signal().sosfilt(sos, x, zi=zi)
    x[:] = y
    zi[:] = z
