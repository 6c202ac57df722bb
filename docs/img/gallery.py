"""The animatic backends' gallery (docs/backends.md): places × times of day, a cast of eight.

    python docs/img/gallery.py                 # all sheets into docs/img/
    python docs/img/gallery.py places --size 320x180 --out /tmp

Sheets:

* ``gallery-places.jpg``: 12 places (rows) × dawn, day, dusk, night (columns), each the prompt
  ``"<place> <time>"`` at the place's own seed, as ``INT. <PLACE> - <TIME>`` headings get them;
* ``gallery-weather.jpg``: a few places in rain and fog, and prompts with unknown words;
* ``gallery-cast.png``: eight generated characters side by side (portraits of seeds 1..8).

Everything comes from the embedded backends (CPU, deterministic): running it again gives the
same pictures.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nyeshc.backends.plaintext import font  # noqa: E402
from nyeshc.backends.procedural.image import CPPNImage  # noqa: E402

PLACES = ("sea", "beach", "cathedral", "hall", "ruins", "forest", "city", "street", "kitchen", "office", "desert",
          "space")
TIMES = ("dawn", "day", "dusk", "night")
WEATHER = ("sea rain", "forest fog", "city rain night", "ruins fog dusk", "a drowned cathedral at dusk",
           "a lighthouse", "kitchen rain day", "desert fog dawn")


def place_seed(place: str) -> int:
    """One seed per place, as the planner gives one (any fixed choice would do)."""
    return zlib.crc32(place.encode()) % 10_000


def _label(img: Image.Image, text: str) -> Image.Image:
    d = ImageDraw.Draw(img)
    f = font(max(10, img.height // 12))
    x, y = 6, img.height - f.size - 8
    d.text((x + 1, y + 1), text, font=f, fill=(0, 0, 0))
    d.text((x, y), text, font=f, fill=(255, 255, 255))
    return img


def _sheet(tiles: list[list[Image.Image]], gap: int = 4) -> Image.Image:
    rows, cols = len(tiles), max(len(r) for r in tiles)
    w, h = tiles[0][0].size
    out = Image.new("RGB", (cols * w + (cols + 1) * gap, rows * h + (rows + 1) * gap), (24, 24, 24))
    for r, row in enumerate(tiles):
        for c, t in enumerate(row):
            out.paste(t, (gap + c * (w + gap), gap + r * (h + gap)))
    return out


def places(size: tuple[int, int], out: Path, cppn: CPPNImage | None = None) -> Path:
    cppn = cppn or CPPNImage()
    w, h = size
    tiles = []
    for place in PLACES:
        row = []
        for time in TIMES:
            z = cppn.sample(place_seed(place), prompt=f"{place} {time}")
            row.append(_label(Image.fromarray(cppn.render(z, w, h)), f"{place} {time}"))
        tiles.append(row)
    path = out / "gallery-places.jpg"  # painted skies: a JPEG is a tenth of the PNG
    _sheet(tiles).save(path, quality=88, optimize=True)
    return path


def weather(size: tuple[int, int], out: Path, cppn: CPPNImage | None = None) -> Path:
    cppn = cppn or CPPNImage()
    w, h = size
    tiles = []
    for i in range(0, len(WEATHER), 4):
        row = []
        for prompt in WEATHER[i:i + 4]:
            z = cppn.sample(place_seed(prompt.split()[0]), prompt=prompt)
            row.append(_label(Image.fromarray(cppn.render(z, w, h)), prompt))
        tiles.append(row)
    path = out / "gallery-weather.jpg"
    _sheet(tiles).save(path, quality=88, optimize=True)
    return path


def cast(size: int, out: Path) -> Path:
    from nyeshc.backends.procedural.puppet import PuppetPortrait

    pp = PuppetPortrait()
    row = []
    for seed in range(1, 9):
        p = pp.portrait(pp.sample(seed), size)
        bg = Image.new("RGBA", (size, size), (70, 74, 82, 255))
        bg.alpha_composite(Image.fromarray(p.image, "RGBA"))
        row.append(_label(bg.convert("RGB"), f"seed {seed}"))
    path = out / "gallery-cast.png"
    _sheet([row]).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sheets", nargs="*", help="places, weather, cast (default: all)")
    ap.add_argument("--size", default="288x162", help="tile size for the backdrops (WxH)")
    ap.add_argument("--portrait", type=int, default=200, help="portrait side for the cast")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    args.sheets = args.sheets or ["places", "weather", "cast"]
    bad = set(args.sheets) - {"places", "weather", "cast"}
    if bad:
        ap.error(f"unknown sheet(s): {', '.join(sorted(bad))}")
    w, h = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    cppn = CPPNImage()
    for sheet in args.sheets:
        if sheet == "places":
            print(places((w, h), args.out, cppn))
        elif sheet == "weather":
            print(weather((w, h), args.out, cppn))
        else:
            print(cast(args.portrait, args.out))


if __name__ == "__main__":
    main()
