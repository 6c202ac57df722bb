"""A real editor's engine renders the exported project: MLT's ``melt`` (the engine of Kdenlive
and Shotcut; Debian package ``melt``) plays the ``.otio`` export, converted by OTIO's MLT adapter
(``otio-mlt-adapter``), and its frames are compared with nyeshc's own compositor.

What this verifies: the media are the pictures nyeshc draws at the canvas size (cover-fitted,
placed), the cut lands on the same frames, and a ``CROSSFADE TO`` is a dissolve of the same
length at the same place. What the adapter does not carry (it writes no effects: fades, Ken
Burns, opacity; no compositing between video tracks) is not in the film used here and is
documented in docs/interchange.md.

Two things the adapter leaves out are set here, as a Kdenlive/Shotcut user's project has them:
square pixels in the profile (without them MLT assumes another aspect and pillarboxes the
picture) and ``force_aspect_ratio=1`` on each image producer. The export uses ``--bundle`` so the
media are relative paths: MLT's image producers do not open ``file://`` URLs (a still given as
one renders as a blank white frame)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from test_interchange import cli

otio = pytest.importorskip("opentimelineio")
MELT = shutil.which("melt")
pytestmark = [
    pytest.mark.skipif(MELT is None, reason="melt is not installed (Debian: apt-get install melt)"),
    pytest.mark.skipif("mlt_xml" not in otio.adapters.available_adapter_names(),
                       reason="OTIO's MLT adapter is not installed (pip install otio-mlt-adapter)"),
]

W, H = 128, 72
FILM = '''title: "Melt"
canvas: 128x72, 24fps
seed: 3

look A:
    image: generate, seed 1
look B:
    image: generate, seed 2
look C:
    image: generate, seed 5

SCENE 1 "One", 1s:
    backdrop: A

CUT TO:

SCENE 2 "Two", 1s:
    backdrop: B

CROSSFADE TO: 500ms

SCENE 3 "Three", 1s:
    backdrop: C
'''


def _mlt(otio_path: Path, fps: int) -> Path:
    """The exported timeline as an MLT project, with the profile and producer properties a
    Kdenlive/Shotcut project has."""
    t = otio.adapters.read_from_file(str(otio_path))
    text = otio.adapters.write_to_string(t, adapter_name="mlt_xml", width=W, height=H, frame_rate_num=fps,
                                         frame_rate_den=1, sample_aspect_num=1, sample_aspect_den=1,
                                         display_aspect_num=W, display_aspect_den=H, progressive=1,
                                         colorspace=709)
    root = ET.fromstring(text)
    for producer in root.iter("producer"):
        resource = producer.find("property[@name='resource']")
        if resource is not None and (resource.text or "").endswith(".png"):
            ET.SubElement(producer, "property", name="force_aspect_ratio").text = "1"
    out = otio_path.with_suffix(".mlt")
    out.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")
    return out


def test_melt_renders_the_export_as_nyeshc_does(tmp_path: Path) -> None:
    from nyeshc.commands.common import prepare
    from nyeshc.render.compositor import Compositor
    from nyeshc.store.cache import Cache

    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    cache = tmp_path / "cache"
    out = tmp_path / "out" / "film.otio"
    rc, _, err = cli("export", script, "-o", out, "--bundle", "-q", "--cache", cache)
    assert rc == 0, err
    project = _mlt(out, 24)
    raw = tmp_path / "melt.rgb"
    run = subprocess.run([MELT, str(project), "-consumer", f"avformat:{raw}", "f=rawvideo", "pix_fmt=rgb24"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = np.fromfile(raw, np.uint8).reshape(-1, H, W, 3).astype(np.int16)

    plan = prepare(argparse.Namespace(script=str(script), cache=str(cache), quiet=True), "test").plan
    tl = plan.timeline
    assert len(theirs) == tl.frames == 60
    (ov,) = tl.overlaps
    comp = Compositor(tl, Cache(cache))
    ours = np.stack([comp.frame(f).copy() for f in range(tl.frames)]).astype(np.int16)
    # the two scenes of the dissolve, apart: what one frame of the dissolve's weight is worth
    step = float(np.abs(ours[ov.start - 1] - ours[ov.end]).mean()) / (ov.end - ov.start)
    assert step > 1.0  # the scenes differ enough that a misplaced cut or dissolve would show
    diff = np.abs(ours - theirs).reshape(tl.frames, -1).mean(axis=1)
    for f in range(tl.frames):
        if ov.start <= f < ov.end:
            # MLT's luma dissolve and nyeshc's linear ramp may weigh a frame differently by up
            # to one frame of the ramp; plus a level of rounding
            assert diff[f] <= step + 1.0, (f, diff[f], step)
        else:
            # the same 8-bit pixels: an RGB PNG at the canvas size, nothing rescaled (measured 0)
            assert diff[f] <= 0.5, (f, diff[f])
    # the cut: frame 23 is scene 1 and frame 24 scene 2 in both
    assert diff[23] <= 0.5 and diff[24] <= 0.5 and float(np.abs(ours[23] - ours[24]).mean()) > 5
