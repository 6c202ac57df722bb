"""Edge aliasing of the procedural image backend (issue #18, "clean edges").

For each look, the backend's frame at ``--size`` is compared with a reference: the same look
rendered with the network evaluated at every pixel of a frame twice as large, box-filtered
down (a 4-sample supersampled render). The score is the mean absolute difference, in grey
levels, over the reference's strongest edges (its top 5 % of gradient magnitude), so both
stair steps and blur count. "grid shading" repeats the measurement with the shading done at the
network's grid and upsampled (how the backend worked before), for comparison.

    python benchmarks/aliasing.py                     # 1280x720, a few looks
    python benchmarks/aliasing.py --size 640x360
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nyeshc.backends.procedural.image import CPPNImage  # noqa: E402

LOOKS = (("example RUINS (seed 1913, truncation 0.8)", 1913, 0.8, None),
         ("example DUSK (seed 42, truncation 0.7)", 42, 0.7, None),
         ("example SEA (seed 77, truncation 0.9)", 77, 0.9, None),
         ('"street dusk"', 7, 1.0, "street dusk"),
         ('"ruins day"', 5, 1.0, "ruins day"),
         ('"cathedral dawn"', 311, 1.0, "cathedral dawn"))


def edge_error(img: np.ndarray, ref: np.ndarray) -> float:
    lum = ref.mean(-1)
    gy, gx = np.gradient(lum)
    mag = np.hypot(gx, gy)
    sel = mag > np.percentile(mag, 95)
    return float(np.abs(img.astype(np.float64) - ref).mean(-1)[sel].mean())


def reference(cppn_full: CPPNImage, z: np.ndarray, w: int, h: int) -> np.ndarray:
    big = cppn_full.render(z, 2 * w, 2 * h).astype(np.float64)
    return big.reshape(h, 2, w, 2, 3).mean(axis=(1, 3))


class GridShaded(CPPNImage):
    """The backend with its shading at the network's grid and the pre-emphasis it used before
    the bicubic upsampling (how it worked before issue #18)."""

    def _grids(self, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
        self._upsampling = self._grid(width, height) != (width, height)
        return self._grid(width, height), self._grid(width, height)

    def _shade(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        col, parts = super()._shade(*args, **kwargs)
        if getattr(self, "_upsampling", False):
            from scipy.ndimage import gaussian_filter

            col = col + np.float32(0.6) * (col - gaussian_filter(col, sigma=(1.0, 1.0, 0.0), mode="nearest"))
        return col, parts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    cppn, grid, full = CPPNImage(), GridShaded(), CPPNImage(detail=4 * w * h)
    print(f"edge error at {w}x{h} (grey levels on the strongest 5 % of edges; lower is cleaner)")
    print(f"{'look':44} {'grid shading':>13} {'now':>8} {'CPU s/frame (grid, now)':>24}")
    for name, seed, trunc, prompt in LOOKS:
        z = cppn.sample(seed, trunc, prompt=prompt)
        ref = reference(full, z, w, h)
        t0 = time.process_time()
        a = grid.render(z, w, h)
        t1 = time.process_time()
        b = cppn.render(z, w, h)
        t2 = time.process_time()
        print(f"{name:44} {edge_error(a, ref):13.2f} {edge_error(b, ref):8.2f} {t1 - t0:12.3f} {t2 - t1:10.3f}")


if __name__ == "__main__":
    main()
