"""A long beat's lip-sync in two parts, where the motion backend can draw part of a beat.

The dialogue edit's longest job was one beat's lip-sync in one worker; in two halves the two
cores share it. The parts are the whole's frames (tests/backends/test_puppet.py) and the film's
pictures are the same frame for frame (the end-to-end test below).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nyeshc.config import animatic_profile
from nyeshc.execute import Cache, execute
from nyeshc.plan import graph, plan
from nyeshc.plan.model import SequenceLayer
from nyeshc.resolve.services import BackendInfo
from nyeshc.syntax import read
from plan_fakes import FakeServices, plan_text


class RangedServices(FakeServices):
    """A motion backend that draws part of a beat (as the procedural puppet does)."""

    def backend(self, modality: str) -> BackendInfo:
        return dataclasses.replace(super().backend(modality), frame_ranges=modality == "motion")


LONG = ("canvas: 160x90, 24fps\n\ncharacter C:\n    portrait: generate\n\n"
        "SCENE 1:\n    backdrop: seed 1\n    C, close-up:\n        \"{line}\"\n")
SPEECH = "Keep the light burning, someone is still at sea tonight."  # 57 characters: 4.86 s (the fake voice)


def _lipsyncs(p):  # noqa: ANN001, ANN202
    return [j for j in p.jobs if j.kind == "motion.lipsync"]


def _portraits(p) -> list[SequenceLayer]:  # noqa: ANN001
    return [L for s in p.timeline.scenes for L in s.layers if getattr(L, "role", "") == "portrait"]


def test_a_long_beat_is_drawn_in_two_halves_that_cover_it() -> None:
    text = LONG.format(line=SPEECH)
    whole, halves = plan_text(text), plan_text(text, RangedServices())
    [one] = _lipsyncs(whole)
    n = one.params["frames"]
    assert n >= graph.LIPSYNC_SPLIT and "first" not in one.params
    a, b = _lipsyncs(halves)
    assert [(j.params["first"], j.params["frames"], j.params["beat"]) for j in (a, b)] == [(0, n // 2, n),
                                                                                          (n // 2, n - n // 2, n)]
    assert a.inputs == b.inputs == one.inputs and a.seed == b.seed == one.seed  # the same voice, the same motion
    assert (a.name, b.name) == (f"{one.name} / part 1", f"{one.name} / part 2")
    [layer] = _portraits(whole)
    first, second = _portraits(halves)
    assert (first.start, first.end, second.start, second.end) == (layer.start, layer.start + n // 2,
                                                                  layer.start + n // 2, layer.end)
    assert (first.artifact, second.artifact) == (a.key, b.key) and first.box == second.box == layer.box
    # the frames of the film are the same: only the lip-sync jobs and the portrait layers differ
    assert halves.timeline.frames == whole.timeline.frames and halves.timeline.audio == whole.timeline.audio


def test_the_parts_meet_at_a_segment_cut_when_one_is_near_the_middle() -> None:
    """A beat from 1 s (frame 24) of ~140 frames: the render cuts its scene every 4 s (frame 96),
    near the beat's middle, so the parts meet there and add no segment to the film."""
    text = LONG.format(line=SPEECH + " The lamp is lit.").replace("C, close-up:", "C, at 1s, close-up:")
    a, b = _lipsyncs(plan_text(text, RangedServices()))
    first, second = _portraits(plan_text(text, RangedServices()))
    assert first.start == 24 and first.end == second.start == 96 == 24 + a.params["frames"]
    assert b.params["first"] == 72 and a.params["beat"] == b.params["beat"] > 2 * 72


def test_a_short_beat_or_a_backend_without_ranges_keeps_one_job() -> None:
    short = plan_text(LONG.format(line="Hi."), RangedServices())
    assert [j.params["frames"] for j in _lipsyncs(short)] == [_portraits(short)[0].end - _portraits(short)[0].start]
    assert "first" not in _lipsyncs(short)[0].params
    assert len(_lipsyncs(plan_text(LONG.format(line=SPEECH)))) == 1  # FakeServices: no ranges


@pytest.mark.slow
def test_the_film_is_the_same_frame_for_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The procedural puppet draws the halves in two workers; every frame of the beat, composited,
    is the frame the whole beat's lip-sync gives."""
    from nyeshc.backends.procedural.puppet import PuppetMotion
    from nyeshc.pipeline import RegistryServices
    from nyeshc.render.compositor import Compositor

    text = LONG.format(line=SPEECH).replace("24fps", "8fps")
    film, _ = read(text, str(tmp_path / "film.nysh"))
    profile = animatic_profile()
    monkeypatch.setattr(graph, "LIPSYNC_SPLIT", 16)  # 8 fps: the beat is ~40 frames
    frames = {}
    for ranged in (False, True):
        monkeypatch.setattr(PuppetMotion, "renders_frame_ranges", ranged)
        p = plan(film, profile, RegistryServices(profile), root=tmp_path)
        assert len(_lipsyncs(p)) == (2 if ranged else 1)
        cache = Cache(tmp_path / f"cache-{ranged}")
        execute(p, cache, jobs=2, progress=False)
        comp = Compositor(p.timeline, cache)
        layer = _portraits(p)[0]
        frames[ranged] = [comp.frame(f).copy() for f in range(layer.start, _portraits(p)[-1].end)]
    assert len(frames[True]) == len(frames[False]) >= graph.LIPSYNC_SPLIT
    assert all(np.array_equal(x, y) for x, y in zip(frames[False], frames[True], strict=True))


def test_a_storyboard_shows_a_beat_in_parts_as_one_beat() -> None:
    """Its parts' layers meet in the middle of the beat: no shot starts there."""
    from nyeshc.export import storyboard

    text = LONG.format(line=SPEECH)
    whole, halves = plan_text(text), plan_text(text, RangedServices())
    _, second = _portraits(halves)
    assert [(s.start, s.end, s.cause) for s in storyboard.shots(halves)] == \
        [(s.start, s.end, s.cause) for s in storyboard.shots(whole)]
    assert second.start not in {s.start for s in storyboard.shots(halves)}


def test_the_timeline_picture_shows_a_beat_in_parts_as_one_beat() -> None:
    from nyeshc.export import timeline

    text = LONG.format(line=SPEECH)
    svg = {name: timeline.to_svg(timeline.layout(plan_text(text, services)))
           for name, services in (("whole", FakeServices()), ("parts", RangedServices()))}
    assert svg["parts"] == svg["whole"]  # one "C on screen" block, in C's row


class RiggedServices(RangedServices):
    """A motion backend with a set-up per portrait (``rig``), as the procedural puppet has."""

    def backend(self, modality: str) -> BackendInfo:
        return dataclasses.replace(super().backend(modality), rigs=modality == "motion")


def test_each_portrait_has_one_rig_job_and_its_beats_start_from_it() -> None:
    """Two beats of one character (one in two parts, one still) and a second character: one
    ``motion.rig`` per portrait, the last input of each of its lip-syncs and stills, whose
    estimates then leave out the backend's per-call set-up; without ``rig()``, no rig job."""
    text = (LONG.format(line=SPEECH) + "    C, at 6s, medium:\n        (silent)\n"
            + "    D, at 8s, wide:\n        \"Yes.\"\n").replace("character C:", "character D:\n"
                                                             "    portrait: generate, seed 9\n\ncharacter C:")
    rigged, plain = plan_text(text, RiggedServices()), plan_text(text, RangedServices())
    rigs = [j for j in rigged.jobs if j.kind == "motion.rig"]
    portraits = {j.key: j for j in rigged.jobs if j.output == "portrait"}
    assert sorted(j.name for j in rigs) == ["character C / rig", "character D / rig"]
    assert all(j.output == "rig" and len(j.inputs) == 1 and j.inputs[0] in portraits for j in rigs)
    rig_of = {j.inputs[0]: j.key for j in rigs}
    drawn = [j for j in rigged.jobs if j.kind in ("motion.lipsync", "motion.still")]
    assert len(drawn) == 4 and {j.kind for j in drawn} == {"motion.lipsync", "motion.still"}
    assert all(j.inputs[-1] == rig_of[j.inputs[0]] for j in drawn)
    per_call = RiggedServices().backend("motion").cost.per_call
    same = {j.name: j for j in plain.jobs}
    assert all(j.cost_seconds == pytest.approx(same[j.name].cost_seconds - per_call, abs=1e-6) for j in drawn)
    side = portraits[rigs[0].inputs[0]].params["size"]
    assert rigs[0].cost_seconds == pytest.approx(per_call * (side / graph.RIG_SIDE) ** 2, abs=1e-6)
    assert not any(j.kind == "motion.rig" for j in plain.jobs)
    assert [j.inputs for j in plain.jobs if j.kind.startswith("motion.")] == \
        [j.inputs[:-1] for j in rigged.jobs if j.kind.startswith("motion.") and j.kind != "motion.rig"]
