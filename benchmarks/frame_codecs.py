"""Candidate codecs for cached frame sequences: size against decode (and encode) speed.

Reads real ``frames`` artifacts from a cache that holds the example film's jobs (render
``examples/nyeshkerh.nysh`` first, at any canvas), takes ``--frames`` consecutive frames from
the middle of each of the largest lip-sync and morph artifacts, and for every candidate prints
the compressed size as a fraction of raw and the CPU milliseconds per frame to encode and to
decode sequentially (the compositor's access pattern). Every candidate is checked to decode to
the exact input bytes (the lossy x264 row reports its PSNR instead).

    python benchmarks/frame_codecs.py --cache /tmp/film/.nyeshc-cache [--frames 48] [--zstd-path DIR]

``--zstd-path`` adds a folder holding the ``zstandard`` package to ``sys.path`` (it is not a
dependency of nyeshc; the rows are there to compare).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def pick(cache: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """The largest artifact of each frames-producing kind (and a second lip-sync): name, frames."""
    recs = []
    for meta in (cache / "objects").glob("*/*.json"):
        rec = json.loads(meta.read_text())
        if rec.get("kind") in ("motion.lipsync", "motion.still", "motion.drive", "image.morph", "asset.video"):
            recs.append(rec)
    recs.sort(key=lambda r: -r["size"])
    chosen, per_kind = [], {}
    for r in recs:
        if per_kind.get(r["kind"], 0) < (2 if r["kind"] == "motion.lipsync" else 1):
            per_kind[r["kind"]] = per_kind.get(r["kind"], 0) + 1
            chosen.append(r)
    out = []
    for r in chosen:
        path = next((cache / "objects" / r["key"][:2]).glob(f"{r['key']}.np*"))
        if path.suffix != ".npy":
            continue
        a = np.load(path, mmap_mode="r")
        lo = max(0, len(a) // 2 - count // 2)
        out.append((f"{r['kind']} {r['key'][:8]} {'x'.join(map(str, a.shape[1:]))}", np.array(a[lo: lo + count])))
    return out


# --------------------------------------------------------------------------- candidates
# Each: encode(frames) -> blob list (one per GOP); decode(blobs, shape) -> iterator of frames.

GOP = 16


def _deltas(frames: np.ndarray, order: int) -> np.ndarray:
    """Temporal residuals mod 256 within GOPs: frame - prediction (previous, or linear
    extrapolation of the previous two)."""
    res = frames.copy()
    for g in range(0, len(frames), GOP):
        for i in range(g + 1, min(g + GOP, len(frames))):
            if order == 1 or i == g + 1:
                pred = frames[i - 1]
            else:
                pred = (2 * frames[i - 1].astype(np.int16) - frames[i - 2]).astype(np.uint8)
            res[i] = frames[i] - pred
    return res


def _undelta(res: np.ndarray, order: int) -> np.ndarray:
    out = res.copy()
    for i in range(len(res)):
        g = i - i % GOP
        if i == g:
            continue
        if order == 1 or i == g + 1:
            out[i] += out[i - 1]
        else:
            out[i] += (2 * out[i - 1].astype(np.int16) - out[i - 2]).astype(np.uint8)
    return out


def zlib_codec(level: int, order: int) -> tuple[Callable, Callable]:
    def enc(frames: np.ndarray) -> list[bytes]:
        res = _deltas(frames, order) if order else frames
        return [zlib.compress(res[g: g + GOP].tobytes(), level) for g in range(0, len(frames), GOP)]

    def dec(blobs: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        res = np.concatenate([np.frombuffer(zlib.decompress(b), np.uint8) for b in blobs]).reshape(shape)
        return _undelta(res, order) if order else res

    return enc, dec


def zstd_codec(level: int, order: int) -> tuple[Callable, Callable]:
    import zstandard

    def enc(frames: np.ndarray) -> list[bytes]:
        c = zstandard.ZstdCompressor(level=level)
        res = _deltas(frames, order) if order else frames
        return [c.compress(res[g: g + GOP].tobytes()) for g in range(0, len(frames), GOP)]

    def dec(blobs: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        d = zstandard.ZstdDecompressor()
        res = np.concatenate([np.frombuffer(d.decompress(b), np.uint8) for b in blobs]).reshape(shape)
        return _undelta(res, order) if order else res

    return enc, dec


def pil_codec(fmt: str, order: int = 0, **opts: object) -> tuple[Callable, Callable]:
    from PIL import Image

    def enc(frames: np.ndarray) -> list[bytes]:
        res = _deltas(frames, order) if order else frames
        blobs = []
        for f in res:
            b = io.BytesIO()
            Image.fromarray(f).save(b, fmt, **opts)
            blobs.append(b.getvalue())
        return blobs

    def dec(blobs: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        res = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in blobs]).reshape(shape)
        return _undelta(res, order) if order else res

    return enc, dec


def ffmpeg_codec(args: list[str], container: str, lossy: bool = False) -> tuple[Callable, Callable]:
    from imageio_ffmpeg import get_ffmpeg_exe

    exe = get_ffmpeg_exe()

    def pix(c: int) -> str:
        return "rgba" if c == 4 else "rgb24"

    def enc(frames: np.ndarray) -> list[bytes]:
        n, h, w, c = frames.shape
        cmd = [exe, "-v", "error", "-f", "rawvideo", "-pix_fmt", pix(c), "-s", f"{w}x{h}", "-r", "24",
               "-i", "pipe:0", *[a.replace("{alpha}", "gbrap" if c == 4 else "gbrp") for a in args],
               "-f", container, "pipe:1"]
        if lossy and c == 4:
            cmd[cmd.index("-pix_fmt", 6) + 1] = "yuv420p"
        p = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, check=True)
        return [p.stdout]

    def dec(blobs: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        n, h, w, c = shape
        out_c = 3 if lossy else c
        cmd = [exe, "-v", "error", "-f", container, "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", pix(out_c), "pipe:1"]
        p = subprocess.run(cmd, input=blobs[0], capture_output=True, check=True)
        return np.frombuffer(p.stdout, np.uint8).reshape(n, h, w, out_c)

    return enc, dec


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--zstd-path")
    ap.add_argument("--only", help="comma-separated candidate names to run")
    args = ap.parse_args()
    if args.zstd_path:
        sys.path.insert(0, args.zstd_path)
    cands: dict[str, tuple[Callable, Callable]] = {
        "zlib-1 intra": zlib_codec(1, 0),
        "zlib-1 delta": zlib_codec(1, 1),
        "zlib-6 delta": zlib_codec(6, 1),
        "zlib-1 delta2": zlib_codec(1, 2),
        "png-1 intra": pil_codec("PNG", compress_level=1),
        "png-6 intra": pil_codec("PNG", compress_level=6),
        "png-1 delta": pil_codec("PNG", 1, compress_level=1),
        "qoi intra": pil_codec("QOI"),
        "ffv1 intra": ffmpeg_codec(["-c:v", "ffv1", "-level", "3", "-g", "1", "-pix_fmt", "{alpha}"], "nut"),
        "ffv1 gop16": ffmpeg_codec(["-c:v", "ffv1", "-level", "1", "-g", "16", "-pix_fmt", "{alpha}"], "nut"),
        "x264 crf10 (lossy, no alpha)": ffmpeg_codec(["-c:v", "libx264", "-preset", "veryfast", "-crf", "10",
                                                      "-g", "16", "-pix_fmt", "yuv444p"], "nut", lossy=True),
    }
    try:
        import zstandard  # noqa: F401

        cands.update({"zstd-3 intra": zstd_codec(3, 0), "zstd-1 delta": zstd_codec(1, 1),
                      "zstd-3 delta": zstd_codec(3, 1), "zstd-9 delta": zstd_codec(9, 1),
                      "zstd-3 delta2": zstd_codec(3, 2)})
    except ImportError:
        pass
    if args.only:
        keep = set(args.only.split(","))
        cands = {k: v for k, v in cands.items() if k in keep}
    samples = pick(Path(args.cache), args.frames)
    print(f"{os.cpu_count()} cores; load average {load()}; {args.frames} frames each; GOP {GOP}")
    for name, frames in samples:
        raw = frames.nbytes
        print(f"\n{name}: raw {raw / len(frames) / 1e6:.2f} MB a frame")
        print(f"  {'codec':30} {'size':>7} {'enc ms/f':>9} {'dec ms/f':>9}  exact")
        for cname, (enc, dec) in cands.items():
            c0 = cpu()
            blobs = enc(frames)
            c1 = cpu()
            got = dec(blobs, frames.shape)
            c2 = cpu()
            size = sum(len(b) for b in blobs)
            exact = "yes" if got.shape == frames.shape and np.array_equal(got, frames) else \
                f"PSNR {psnr(got, frames[..., :3]):.1f} dB"
            n = len(frames)
            print(f"  {cname:30} {size / raw:7.1%} {1000 * (c1 - c0) / n:9.2f} {1000 * (c2 - c1) / n:9.2f}  {exact}",
                  flush=True)
    print(f"\nload average {load()}")


if __name__ == "__main__":
    main()
