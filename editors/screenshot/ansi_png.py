"""Draw a terminal capture (``tmux capture-pane -e -p``: text with SGR colour escapes) as a PNG.

Each character cell is drawn as the terminal showed it: foreground and background colours
(24-bit, 256-colour and the 16 basic ones), bold, underline (with its colour, SGR 58) and
reverse video; double-width characters take two cells. Nothing is added or restyled. Needs
Pillow and a monospace TrueType font (default: DejaVu Sans Mono, Debian's ``fonts-dejavu-core``).

    python ansi_png.py screen.ansi out.png [--font PATH] [--size 15]
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BASIC = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188),
         (17, 168, 205), (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67),
         (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255)]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Style:
    fg: RGB | None = None  # None: the terminal's default
    bg: RGB | None = None
    bold: bool = False
    underline: bool = False
    ul: RGB | None = None
    reverse: bool = False


def colour256(n: int) -> RGB:
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    v = 8 + 10 * (n - 232)
    return v, v, v


def apply(style: Style, params: str) -> Style:
    codes = [int(c) if c else 0 for c in re.split(r"[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c in (38, 48, 58) and i + 1 < len(codes):
            if codes[i + 1] == 2 and i + 4 < len(codes):
                rgb: RGB = (codes[i + 2], codes[i + 3], codes[i + 4])
                i += 5
            elif codes[i + 1] == 5 and i + 2 < len(codes):
                rgb = colour256(codes[i + 2])
                i += 3
            else:
                i += 1
                continue
            style = replace(style, **{38: {"fg": rgb}, 48: {"bg": rgb}, 58: {"ul": rgb}}[c])
            continue
        if c == 0:
            style = Style()
        elif c == 1:
            style = replace(style, bold=True)
        elif c == 22:
            style = replace(style, bold=False)
        elif c == 4:
            style = replace(style, underline=True)
        elif c == 24:
            style = replace(style, underline=False)
        elif c == 7:
            style = replace(style, reverse=True)
        elif c == 27:
            style = replace(style, reverse=False)
        elif 30 <= c <= 37:
            style = replace(style, fg=BASIC[c - 30])
        elif 90 <= c <= 97:
            style = replace(style, fg=BASIC[c - 90 + 8])
        elif c == 39:
            style = replace(style, fg=None)
        elif 40 <= c <= 47:
            style = replace(style, bg=BASIC[c - 40])
        elif 100 <= c <= 107:
            style = replace(style, bg=BASIC[c - 100 + 8])
        elif c == 49:
            style = replace(style, bg=None)
        elif c == 59:
            style = replace(style, ul=None)
        i += 1
    return style


def cells(text: str) -> list[list[tuple[str, Style]]]:
    """Rows of ``(character, style)``; a double-width character is followed by an empty cell.
    The style carries from one line to the next, as on the terminal."""
    rows: list[list[tuple[str, Style]]] = []
    style = Style()
    for line in text.split("\n"):
        row: list[tuple[str, Style]] = []
        pos = 0
        for m in SGR.finditer(line):
            for ch in line[pos:m.start()]:
                row.append((ch, style))
                if unicodedata.east_asian_width(ch) in "WF":
                    row.append(("", style))
            style = apply(style, m.group(1))
            pos = m.end()
        for ch in line[pos:]:
            row.append((ch, style))
            if unicodedata.east_asian_width(ch) in "WF":
                row.append(("", style))
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def first_colours(rows: list[list[tuple[str, Style]]]) -> tuple[RGB, RGB]:
    """The terminal's default colours, taken as the first ones the capture sets (the editor's
    normal text and background)."""
    fg = next((s.fg for row in rows for _, s in row if s.fg), (229, 229, 229))
    bg = next((s.bg for row in rows for _, s in row if s.bg), (0, 0, 0))
    return fg, bg


def draw(text: str, font_path: str = FONT, size: int = 15, pad: int = 10) -> Image.Image:
    rows = cells(text)
    regular = ImageFont.truetype(font_path, size)
    bold_path = font_path.replace(".ttf", "-Bold.ttf")
    bold = ImageFont.truetype(bold_path, size) if Path(bold_path).is_file() else regular
    cw = round(regular.getlength("M"))
    ascent, descent = regular.getmetrics()
    ch = ascent + descent + 2
    width = max(len(r) for r in rows)
    default_fg, default_bg = first_colours(rows)
    image = Image.new("RGB", (width * cw + 2 * pad, len(rows) * ch + 2 * pad), default_bg)
    pen = ImageDraw.Draw(image)
    for y, row in enumerate(rows):
        for x, (char, s) in enumerate(row):
            fg, bg = s.fg or default_fg, s.bg or default_bg
            if s.reverse:
                fg, bg = bg, fg
            left, top = pad + x * cw, pad + y * ch
            wide = 2 if char and unicodedata.east_asian_width(char) in "WF" else 1
            if bg != default_bg:
                pen.rectangle([left, top, left + wide * cw - 1, top + ch - 1], fill=bg)
            if char.strip():
                pen.text((left, top + 1), char, font=bold if s.bold else regular, fill=fg)
            if s.underline:
                pen.line([left, top + ascent + 2, left + cw - 1, top + ascent + 2], fill=s.ul or fg, width=1)
    return image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("capture", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--font", default=FONT)
    p.add_argument("--size", type=int, default=15)
    args = p.parse_args()
    image = draw(args.capture.read_text(encoding="utf-8"), args.font, args.size)
    image.save(args.png, optimize=True)
    print(f"wrote {args.png} ({image.width}x{image.height}, {args.png.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
