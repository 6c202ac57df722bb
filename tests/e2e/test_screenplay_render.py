"""A screenplay as writers write it, rendered (issue #15): the flow, a voice off screen, dual
dialogue with stacked subtitles, a title card and a fade through white, read from the MP4's
pixels at times taken from ``nyeshc plan --json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from e2e_support import cli_capture, decode_video, plan_json

W, H, FPS = 320, 180, 12

FILM = f'''canvas: {W}x{H}, {FPS}fps
subtitles: plain

character KEEPER:
    portrait: generate, seed 4
character GULL:
    portrait: generate, seed 9

INT. LIGHTHOUSE - NIGHT:
    "The keeper climbs the stairs.", show
    KEEPER:
        "Every night I write the sea."
    GULL (O.S.):
        "Kra."
    KEEPER:
        "And every night it answers."
    GULL ^:
        "Kra kra."
    "THE END", center, show

FADE TO WHITE: 2s

SCENE 2, 2s:
    caption: "after"
'''


def test_the_lighthouse_renders_as_written(tmp_path: Path) -> None:
    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    out = tmp_path / "film.mp4"
    rc, _, err = cli_capture(script, "-o", out, "-q", "--cache", tmp_path / "cache")
    assert rc == 0, err
    frames = decode_video(out, W, H).astype(np.int16)
    scene = plan_json(script)["timeline"]["scenes"][0]
    layers = scene["layers"]
    portraits = [L for L in layers if L.get("role") == "portrait"]
    subs = [L for L in layers if L.get("role") == "subtitle"]
    action, card = [L for L in layers if L.get("role") == "caption"]
    # the action line is read first, on screen, with no one there yet
    assert action["start"] == 0 and portraits[0]["start"] >= action["end"]
    assert frames[action["start"] + 2][150:, :].max() > 150  # its words, bottom of the frame
    # the gull is heard (a subtitle) while the keeper stays on screen, alone
    gull = subs[1]
    keeper = portraits[0]
    assert keeper["start"] < gull["start"] and keeper["end"] > gull["end"]
    assert len([p for p in portraits if p["start"] <= gull["start"] < p["end"]]) == 1
    # dual dialogue: two portraits side by side, two subtitles stacked
    # (the first two portraits that start together: their beats' holds, drawn in pieces after the
    # lines, may start together too)
    starts = [p["start"] for p in portraits]
    both = [p for p in portraits if p["start"] == min(t for t in starts if starts.count(t) == 2)]
    assert sorted(p["box"]["x"] < W // 2 for p in both) == [False, True]
    together = [s for s in subs if s["start"] == both[0]["start"]]
    assert sorted(s["row"] for s in together) == [0, 1]
    f = together[0]["start"] + 3
    rows = (frames[f][:, 60:260] > 200).any(axis=(1, 2))  # text rows in the middle of the frame
    lit = np.flatnonzero(rows[H // 2:])
    assert lit.size and lit.max() - lit.min() > 20  # two lines of text, one above the other
    # the title card in the centre, then through white into scene 2
    mid = (card["start"] + card["end"]) // 2
    assert frames[mid][70:110, 120:200].max() > 200
    assert frames[scene["end"] - 1].mean() > 240  # white at the cut
