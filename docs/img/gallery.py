"""The animatic backends' gallery (docs/backends.md): places × times of day, a cast of eight.

    python docs/img/gallery.py                 # all sheets into docs/img/
    python docs/img/gallery.py places --size 320x180 --out /tmp
    python docs/img/gallery.py visemes film      # the mouth chart, the example film's frames

Sheets:

* ``gallery-places.jpg``: 12 places (rows) × dawn, day, dusk, night (columns), each the prompt
  ``"<place> <time>"`` at the place's own seed, as ``INT. <PLACE> - <TIME>`` headings get them;
* ``gallery-weather.jpg``: a few places in rain and fog, and prompts with unknown words;
* ``gallery-cast.png``: eight generated characters side by side (portraits of seeds 1..8);
* ``gallery-visemes.png``: the puppet's twelve visemes, each on one face (two faces);
* ``film-frames.png``: eight frames of ``examples/nyeshkerh.nysh`` rendered at 384x216 at known
  times (``nyeshc still``; about a minute on two cores).

Everything comes from the embedded backends (CPU, deterministic): running it again gives the
same pictures.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

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


def visemes(size: int, out: Path, seeds: tuple[int, ...] = (3, 6)) -> Path:
    """Every viseme of :mod:`nyeshc.backends.procedural.visemes` on one face per row (the
    mouth and chin cropped from portraits of ``seeds``), labelled with its name."""
    from nyeshc.backends.procedural import visemes as vis
    from nyeshc.backends.procedural.puppet import (
        PuppetPortrait,
        draw_face,
        face_geometry,
    )

    pp = PuppetPortrait()
    big = size * 4  # the face is drawn at 4x the tile and the region from nose to chin cropped
    rows = []
    for seed in seeds:
        latent = pp.sample(seed)
        (mx, my), _ = face_geometry(latent, big)
        x0, y0 = int(mx - size / 2), int(my - size * 0.5)
        row = []
        for name, v in vis.VISEMES.items():
            face = draw_face(latent, big, mouth_open=v.openness, width=v.width, teeth=v.teeth)
            bg = Image.new("RGBA", (big, big), (70, 74, 82, 255))
            bg.alpha_composite(Image.fromarray(face, "RGBA"))
            row.append(_label(bg.crop((x0, y0, x0 + size, y0 + size)).convert("RGB"), name))
        rows.append(row)
    path = out / "gallery-visemes.png"
    _sheet(rows).save(path, optimize=True)
    return path


FILM_TIMES = (("3s", "scene 1: the word, a morph"), ("12s", "the narrator: 'The names are gone.'"),
              ("19s", "crossfade to the cathedral"), ("25s", "the girl sings"),
              ("33s", "'She sang in a language…'"), ("38.5s", "morph to scene 3"),
              ("50s", "close-up: 'Say it, and…'"), ("60s", "credits"))
"""Frames of the example film in ``film-frames.png``: (time, what it shows)."""


def film(size: tuple[int, int], out: Path, cache: Path | None = None) -> Path:
    """Frames of ``examples/nyeshkerh.nysh`` at :data:`FILM_TIMES`, rendered at ``size`` (the
    script's canvas line replaced; nothing else changes) by ``nyeshc still``, in a 4 x 2 sheet."""
    import re
    import tempfile

    from nyeshc.cli import main as nyeshc

    w, h = size
    text = (ROOT / "examples" / "nyeshkerh.nysh").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^canvas: *\d+x\d+", f"canvas: {w}x{h}", text)
    if n != 1:
        raise SystemExit("examples/nyeshkerh.nysh has no 'canvas: WxH' line to resize")
    with tempfile.TemporaryDirectory(prefix="nyeshc-gallery-") as tmp:
        script = Path(tmp) / "nyeshkerh.nysh"
        script.write_text(text, encoding="utf-8")
        tiles = []
        for at, what in FILM_TIMES:
            png = Path(tmp) / f"{at}.png"
            code = nyeshc(["still", str(script), "--at", at, "-o", str(png), "-q",
                           "--cache", str(cache or Path(tmp) / "cache")])
            if code != 0:
                raise SystemExit(f"nyeshc still --at {at} failed ({code})")
            with Image.open(png) as im:
                # the label goes in a bar under the frame: the film's own subtitles and credits
                # sit at the bottom of the picture
                bar = max(16, h // 9)
                tile = Image.new("RGB", (w, h + bar), (24, 24, 24))
                tile.paste(im.convert("RGB"), (0, 0))
                d = ImageDraw.Draw(tile)
                d.text((4, h + 2), f"{at}  {what}", font=font(bar - 5), fill=(235, 235, 235))
                tiles.append(tile)
    path = out / "film-frames.png"
    _sheet([tiles[:4], tiles[4:]]).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sheets", nargs="*", help="places, weather, cast, visemes, film (default: all)")
    ap.add_argument("--size", default="288x162", help="tile size for the backdrops (WxH)")
    ap.add_argument("--portrait", type=int, default=200, help="portrait side for the cast")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    args.sheets = args.sheets or ["places", "weather", "cast", "visemes", "film"]
    bad = set(args.sheets) - {"places", "weather", "cast", "visemes", "film"}
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
        elif sheet == "visemes":
            print(visemes(args.portrait * 2 // 3, args.out))
        elif sheet == "film":
            print(film((w + w // 3, h + h // 3), args.out))
        else:
            print(cast(args.portrait, args.out))


if __name__ == "__main__":
    main()
