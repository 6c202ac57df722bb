"""The image filters the procedural face draws with, without importing ``scipy.ndimage``.

``import scipy.ndimage`` takes 0.2–0.5 s (scipy 1.17: its array-API dispatch layer imports
array_api_compat and scipy.special), and every worker process that draws a face paid it: on a
one-line dialogue edit, in the lip-sync job on the critical path. The filters themselves are
thin Python wrappers around scipy's compiled ``_nd_image`` module, which loads in ~10 ms from
its file (:func:`nyeshc.dsp.scipy_kernel`). This module is those wrappers, written again for
the cases nyeshc uses — :func:`gaussian_filter`, :func:`uniform_filter1d`, and
:func:`map_coordinates`, :func:`shift` and :func:`rotate` at spline order 0 or 1 — with the same
argument handling, defaults and calls, so the numbers are scipy.ndimage's to the bit
(``tests/render/test_ndi.py``). :func:`rotate` needs the cosine and sine of an angle in degrees
as scipy computes them (``scipy.special.cosdg``/``sindg``, Cephes' ``sindg.c``); they are
written here too. Anything else (a higher spline order, complex data, an array of more than two
dimensions to rotate) is handed to ``scipy.ndimage`` itself, as is everything when the compiled
module cannot be loaded apart.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nyeshc.dsp import scipy_kernel

__all__ = ["cosdg", "gaussian_filter", "map_coordinates", "rotate", "shift", "sindg", "uniform_filter1d"]

_MODES = {"nearest": 0, "wrap": 1, "reflect": 2, "grid-mirror": 2, "mirror": 3, "constant": 4,
          "grid-wrap": 5, "grid-constant": 6}


def _kernel() -> Any:
    return scipy_kernel("ndimage", "_nd_image")


def _ndimage() -> Any:
    import scipy.ndimage  # the slow, always-correct fallback

    return scipy.ndimage


def _mode(mode: str, is_filter: bool = False) -> int:
    """``scipy.ndimage._ni_support._extend_mode_to_code``."""
    if is_filter and mode == "grid-wrap":
        return 1
    if is_filter and mode == "grid-constant":
        return 4
    if mode not in _MODES:
        raise RuntimeError("boundary mode not supported")
    return _MODES[mode]


def _sequence(value: Any, rank: int) -> list[Any]:
    """``scipy.ndimage._ni_support._normalize_sequence``."""
    if not isinstance(value, str) and np.iterable(value):
        out = list(value)
        if len(out) != rank:
            raise RuntimeError("sequence argument must have length equal to input rank")
        return out
    return [value] * rank


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def _plain(a: np.ndarray) -> bool:
    """Real numbers the compiled filters take as they are (complex data goes to scipy)."""
    return a.dtype.kind in "biuf"


# --------------------------------------------------------------------------- filters


def _gaussian_kernel1d(sigma: Any, radius: int) -> np.ndarray:
    """scipy's Gaussian weights of order 0, ``2 * radius + 1`` of them (its operations, in order)."""
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi_x = np.exp(-0.5 / sigma2 * x ** 2)
    return phi_x / phi_x.sum()


def gaussian_filter(input: Any, sigma: Any, mode: str = "reflect", cval: float = 0.0,
                    truncate: float = 4.0) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(input, sigma, mode=mode, cval=cval, truncate=truncate)``
    (order 0, every axis): one 1-D pass per axis whose sigma is above 1e-15, each into the
    output."""
    kernel = _kernel()
    input = np.asarray(input)
    if kernel is None or not _plain(input):
        return _ndimage().gaussian_filter(input, sigma, mode=mode, cval=cval, truncate=truncate)
    output = np.zeros(input.shape, dtype=input.dtype.name)
    n = input.ndim
    passes = [(ax, s, m) for ax, (s, m) in enumerate(zip(_sequence(sigma, n), _sequence(mode, n), strict=True))
              if s > 1e-15]
    if not passes:
        output[...] = input[...]
        return output
    for ax, s, m in passes:
        radius = int(truncate * float(s) + 0.5)
        weights = np.asarray(_gaussian_kernel1d(s, radius)[::-1], dtype=np.float64)
        if not weights.flags.contiguous:
            weights = weights.copy()
        kernel.correlate1d(input, weights, ax, output, _mode(m), cval, 0)
        input = output
    return output


def uniform_filter1d(input: Any, size: int, axis: int = -1, mode: str = "reflect", cval: float = 0.0,
                     origin: int = 0) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d``: the mean of ``size`` neighbours along ``axis``."""
    kernel = _kernel()
    input = np.asarray(input)
    if kernel is None or not _plain(input):
        return _ndimage().uniform_filter1d(input, size, axis=axis, mode=mode, cval=cval, origin=origin)
    axis = _axis(axis, input.ndim)
    if size < 1:
        raise RuntimeError("incorrect filter size")
    output = np.zeros(input.shape, dtype=input.dtype.name)
    if (size // 2 + origin < 0) or (size // 2 + origin >= size):
        raise ValueError("invalid origin")
    kernel.uniform_filter1d(input, size, axis, output, _mode(mode), cval, origin)
    return output


# --------------------------------------------------------------------------- interpolation (spline order ≤ 1)


def map_coordinates(input: Any, coordinates: Any, order: int = 3, mode: str = "constant",
                    cval: float = 0.0) -> np.ndarray:
    """``scipy.ndimage.map_coordinates(input, coordinates, order=order, mode=mode, cval=cval)``;
    orders above 1 (which prefilter with a spline) go to scipy."""
    kernel = _kernel()
    input = np.asarray(input)
    coordinates = np.asarray(coordinates)
    if kernel is None or order > 1 or not _plain(input) or np.iscomplexobj(coordinates):
        return _ndimage().map_coordinates(input, coordinates, order=order, mode=mode, cval=cval)
    if order < 0:
        raise RuntimeError("spline order not supported")
    shape = coordinates.shape[1:]
    if input.ndim < 1 or len(shape) < 1:
        raise RuntimeError("input and output rank must be > 0")
    if coordinates.shape[0] != input.ndim:
        raise RuntimeError("invalid shape for coordinate array")
    output = np.zeros(shape, dtype=input.dtype.name)
    kernel.geometric_transform(input, None, coordinates, None, None, output, order, _mode(mode), cval, 0,
                               None, None)
    return output


def shift(input: Any, shift: Any, order: int = 3, mode: str = "constant", cval: float = 0.0) -> np.ndarray:
    """``scipy.ndimage.shift(input, shift, order=order, mode=mode, cval=cval)``; orders above 1 go
    to scipy."""
    kernel = _kernel()
    input = np.asarray(input)
    if kernel is None or order > 1 or not _plain(input):
        return _ndimage().shift(input, shift, order=order, mode=mode, cval=cval)
    if order < 0:
        raise RuntimeError("spline order not supported")
    if input.ndim < 1:
        raise RuntimeError("input and output rank must be > 0")
    output = np.zeros(input.shape, dtype=input.dtype.name)
    by = np.asarray([-v for v in _sequence(shift, input.ndim)], dtype=np.float64)
    if not by.flags.contiguous:
        by = by.copy()
    kernel.zoom_shift(input, None, by, output, order, _mode(mode), cval, 0, False)
    return output


def rotate(input: Any, angle: float, reshape: bool = True, order: int = 3, mode: str = "constant",
           cval: float = 0.0) -> np.ndarray:
    """``scipy.ndimage.rotate(input, angle, reshape=reshape, order=order, mode=mode, cval=cval)``
    of a 2-D array (the plane of axes 0 and 1) for order ≤ 1; anything else goes to scipy."""
    kernel = _kernel()
    input = np.asarray(input)
    if kernel is None or order > 1 or input.ndim != 2 or not _plain(input):
        return _ndimage().rotate(input, angle, reshape=reshape, order=order, mode=mode, cval=cval)
    if order < 0:
        raise RuntimeError("spline order not supported")
    c, s = cosdg(angle), sindg(angle)
    rot = np.array([[c, s], [-s, c]])
    in_plane = np.asarray(input.shape)
    if reshape:
        iy, ix = in_plane
        bounds = rot @ [[0, 0, iy, iy], [0, ix, 0, ix]]
        out_plane = (np.ptp(bounds, axis=1) + 0.5).astype(int)
    else:
        out_plane = in_plane
    offset = (in_plane - 1) / 2 - rot @ ((out_plane - 1) / 2)
    output = np.zeros(tuple(out_plane), dtype=input.dtype.name)
    matrix = np.asarray(rot, dtype=np.float64)
    offsets = np.asarray(_sequence(offset, 2), dtype=np.float64)
    kernel.geometric_transform(input, None, None, matrix, offsets, output, order, _mode(mode), cval, 0,
                               None, None)
    return output


# --------------------------------------------------------------------------- angles in degrees (Cephes)

_SINCOF = (1.58962301572218447952E-10, -2.50507477628503540135E-8, 2.75573136213856773549E-6,
           -1.98412698295895384658E-4, 8.33333333332211858862E-3, -1.66666666666666307295E-1)
_COSCOF = (1.13678171382044553091E-11, -2.08758833757683644217E-9, 2.75573155429816611547E-7,
           -2.48015872936186303776E-5, 1.38888888888806666760E-3, -4.16666666666666348141E-2,
           4.99999999999999999798E-1)
_PI180 = 1.74532925199432957692E-2
_LOSSTH = 1.0e14


def _polevl(x: float, coef: tuple[float, ...]) -> float:
    ans = coef[0]
    for c in coef[1:]:
        ans = ans * x + c
    return ans


def _octant(x: float) -> tuple[float, int]:
    """``x`` (≥ 0 degrees) reduced as Cephes does: the multiple of 45° it is measured from, and
    which of the eight octants that is (odd octants measured from the next multiple)."""
    y = math.floor(x / 45.0)
    z = y - math.ldexp(math.floor(math.ldexp(y, -4)), 4)
    j = int(z)
    if j & 1:
        j += 1
        y += 1.0
    return y, j & 7


def sindg(x: float) -> float:
    """The sine of ``x`` degrees, as ``scipy.special.sindg`` computes it."""
    x = float(x)
    sign = 1
    if x < 0:
        x, sign = -x, -1
    if x > _LOSSTH:
        return 0.0
    y, j = _octant(x)
    if j > 3:
        sign, j = -sign, j - 4
    z = (x - y * 45.0) * _PI180
    zz = z * z
    out = 1.0 - zz * _polevl(zz, _COSCOF) if j in (1, 2) else z + z * (zz * _polevl(zz, _SINCOF))
    return -out if sign < 0 else out


def cosdg(x: float) -> float:
    """The cosine of ``x`` degrees, as ``scipy.special.cosdg`` computes it."""
    x = abs(float(x))
    if x > _LOSSTH:
        return 0.0
    sign = 1
    y, j = _octant(x)
    if j > 3:
        sign, j = -sign, j - 4
    if j > 1:
        sign = -sign
    z = (x - y * 45.0) * _PI180
    zz = z * z
    out = z + z * (zz * _polevl(zz, _SINCOF)) if j in (1, 2) else 1.0 - zz * _polevl(zz, _COSCOF)
    return -out if sign < 0 else out
