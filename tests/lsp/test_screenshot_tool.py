"""``editors/screenshot/ansi_png.py``: a terminal capture drawn cell by cell, colours kept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("PIL")

TOOL = Path(__file__).resolve().parents[2] / "editors" / "screenshot" / "ansi_png.py"


def _tool():  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location("nyeshc_ansi_png", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_cells_keep_colours_attributes_and_wide_characters() -> None:
    tool = _tool()
    capture = ("\x1b[38;2;10;20;30m\x1b[48;2;1;2;3mab\x1b[1m\x1b[38;5;196mC\x1b[0m\x1b[4m\x1b[58;2;255;0;0mD\n"
               "é🎬x\x1b[7m\x1b[31my")
    rows = tool.cells(capture)
    assert [c for c, _ in rows[0]] == ["a", "b", "C", "D"]
    a, c, d = rows[0][0][1], rows[0][2][1], rows[0][3][1]
    assert (a.fg, a.bg, a.bold) == ((10, 20, 30), (1, 2, 3), False)
    assert (c.fg, c.bg, c.bold) == ((255, 0, 0), (1, 2, 3), True)  # 196 in the 6x6x6 cube
    assert (d.fg, d.bg, d.underline, d.ul) == (None, None, True, (255, 0, 0))  # after a reset
    # the style carries to the next line; the emoji takes two cells
    assert [c for c, _ in rows[1]] == ["é", "🎬", "", "x", "y"]
    assert rows[1][0][1].underline and rows[1][4][1].reverse and rows[1][4][1].fg == tool.BASIC[1]


@pytest.mark.skipif(not Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf").is_file(),
                    reason="needs DejaVu Sans Mono (fonts-dejavu-core)")
def test_draw_paints_each_cell_in_its_colours() -> None:
    tool = _tool()
    image = tool.draw("\x1b[38;2;200;200;200m\x1b[48;2;0;0;0mab\x1b[48;2;0;0;255m  \x1b[48;2;0;0;0m\nxy", size=14, pad=0)
    cw = round(tool.ImageFont.truetype(tool.FONT, 14).getlength("M"))
    assert image.width == 4 * cw and image.height % 2 == 0
    assert image.getpixel((2 * cw + 1, 2)) == (0, 0, 255)  # the blue cells
    assert image.getpixel((cw * 4 - 1, image.height - 1)) == (0, 0, 0)  # the default background
    ink = {image.getpixel((x, y)) for x in range(cw) for y in range(image.height // 2)}
    assert (200, 200, 200) in ink  # the letter a, drawn in its colour
