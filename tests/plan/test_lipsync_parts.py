"""A long beat's lip-sync in two parts, where the motion backend can draw part of a beat.

The dialogue edit's longest job was one beat's lip-sync in one worker; in two halves the two
cores share it. The parts are the whole's frames (tests/backends/test_puppet.py) and the film's
pictures are the same frame for frame (the end-to-end test below).
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nyeshc.config import animatic_profile
from nyeshc.execute import Cache, execute
from nyeshc.plan import graph, lipsync, plan
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
    assert n >= lipsync.LIPSYNC_SPLIT and "first" not in one.params
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
    monkeypatch.setattr(lipsync, "LIPSYNC_SPLIT", 16)  # 8 fps: the beat is ~40 frames
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
    assert len(frames[True]) == len(frames[False]) >= lipsync.LIPSYNC_SPLIT
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


TWO = ("canvas: 160x90, 24fps\n\ncharacter C:\n    portrait: generate\n\n"
       "SCENE 1, 12s:\n    backdrop: seed 1\n    C, at {at}, close-up:\n        \"{one}\"\n        (pause {pause})\n"
       "        \"{two}\"\n")
ONE = "Keep the light burning tonight."


def _sections(p, holds: bool = True):  # noqa: ANN001, ANN202
    """(first frame, end frame, job) of each lip-sync section (or part, or piece of the hold;
    ``holds=False``: not those), in order."""
    [layer, *_] = _portraits(p)
    out = []
    for L in _portraits(p):
        job = next(j for j in p.jobs if j.key == L.artifact)
        if holds or " / hold " not in job.name:
            out.append((L.start, L.end, job))
    return layer.start, out


def test_a_beat_of_two_lines_is_drawn_in_two_sections_cut_in_the_pause() -> None:
    """Each section's lip-sync hears only its own line (its own voice track) and is told where in
    the beat it starts (``phase``); the cut falls in the pause, on the render's segment cut when
    one lies there (frame 96: 4 s), else in the pause's middle. The second section, long enough,
    is drawn in two parts."""
    for at, on_grid in (("1s", True), ("1500ms", False)):
        p = plan_text(TWO.format(at=at, one=ONE, pause="1s", two=SPEECH), RangedServices())
        start, shown = _sections(p, holds=False)  # the hold after the second line: see below
        lines = [c for c in p.timeline.audio if c.role == "dialogue"]
        end1, start2 = (lines[0].start + lines[0].length) * 24 // 48_000, lines[1].start * 24 // 48_000
        cut = shown[1][0]
        assert end1 < cut <= start2 and (cut == 96) == on_grid, (at, end1, cut, start2)
        if not on_grid:
            assert abs(cut - (end1 + 1 + start2) / 2) <= 1
        first, *rest = [j for _, _, j in shown]
        assert first.name.endswith("beat 1 / section 1") and "phase" not in first.params
        assert all(j.params["phase"] == cut - start and j.name.split(" / ")[-2:-1] == ["section 2"]
                   for j in rest) and len(rest) == 2  # section 2: to the scene's end, in two parts
        tracks = {j.key: j for j in p.jobs if j.kind == "voice.track"}
        t1, t2 = tracks[first.inputs[1]], tracks[rest[0].inputs[1]]
        assert rest[0].inputs == rest[1].inputs
        assert (t1.inputs, t2.inputs) == ((lines[0].artifact,), (lines[1].artifact,))
        assert t2.params["offsets"] == [lines[1].start - round((cut) * 48_000 / 24)]
        assert [s["at"] for s in rest[0].params["speech"]] == t2.params["offsets"]
        assert [(a, b) for a, b, _ in shown] == [(start, cut), (cut, shown[1][1]), (shown[1][1], shown[2][1])]


def test_a_line_edit_changes_its_section_and_the_segments_it_is_shown_in_only() -> None:
    """The edited line's section, its voice track and the segments from the cut on are new (from
    the segment holding the cut, when the cut is too near a segment cut to be one); the first
    line's section, its track and every segment before are as they were."""
    from nyeshc.render.segments import encode_settings, segment_key, spans

    settings = encode_settings("veryfast", 18)

    def keys(p):  # noqa: ANN001, ANN202
        return {(sp.start, sp.end): segment_key(p.timeline, sp, settings) for sp in spans(p.timeline)}

    for at in ("1s", "1500ms"):
        before = plan_text(TWO.format(at=at, one=ONE, pause="1s", two=SPEECH), RangedServices())
        after = plan_text(TWO.format(at=at, one=ONE, pause="1s", two=SPEECH.replace("sea", "the sea")),
                          RangedServices())
        (_, old), (_, new) = _sections(before, holds=False), _sections(after, holds=False)
        assert old[0][2].key == new[0][2].key and old[0][2].inputs == new[0][2].inputs
        assert {j.key for _, _, j in old[1:]}.isdisjoint(j.key for _, _, j in new[1:])
        cut = new[1][0]
        k0, k1 = keys(before), keys(after)
        holding = max(a for a, _ in k1 if a <= cut)
        changed = sorted(span for span in k1 if k0.get(span) != k1[span])
        assert changed and changed[0][0] == holding and all(b > cut for _, b in changed)
        assert (holding == cut) == (at == "1s")  # on the segment grid: not one frame before the cut
        assert len(changed) < len(k1)


def test_lines_without_a_pause_or_a_short_section_keep_one_section() -> None:
    """No pause between the lines (or a section under a second, joined to its neighbour): the
    beat is drawn as before, one section; so is a beat for a backend without ranges."""
    quick = plan_text(TWO.format(at="1s", one="Hi.", pause="200ms", two=SPEECH), RangedServices())
    _, shown = _sections(quick, holds=False)
    assert not any("section" in j.name or "phase" in j.params for _, _, j in shown)
    plain = plan_text(TWO.format(at="1s", one=ONE, pause="1s", two=SPEECH))
    _, shown = _sections(plain)
    assert [j.name for _, _, j in shown] == ["scene 1 / C / beat 1"]


HELD = ("canvas: 160x90, {fps}fps\n\ncharacter C:\n    portrait: generate\n\n"
        "SCENE 1, {scene}:\n    backdrop: seed 1\n    C, at {at}, close-up:\n        \"{line}\"\n")


def test_a_held_beat_ends_in_silent_pieces_on_the_grid() -> None:
    """After the last line (and hold_margin's frames for the mouth and the nod to come to rest),
    from the next point of the 1 s grid, the beat is drawn by silent lip-syncs: 1 s pieces up to
    the next 4 s segment cut, whole cells after it; their voice tracks hold nothing."""
    p = plan_text(HELD.format(at="500ms", fps=24, scene="14s", line=ONE), RangedServices())
    [line] = [c for c in p.timeline.audio if c.role == "dialogue"]
    quiet = math.ceil((line.start + line.length) / 48_000 * 24) + lipsync.hold_margin(Fraction(24))
    start, shown = _sections(p)
    holds = [(a, b, j) for a, b, j in shown if " / hold " in j.name]
    speaking = [(a, b, j) for a, b, j in shown if " / hold " not in j.name]
    h0 = holds[0][0]
    assert h0 % 24 == 0 and quiet <= h0 < quiet + 24 and speaking[-1][1] == h0
    # the line ends at ~3.3 s: 1 s pieces from 4 s to the segment cut at 8 s, then cells, to 14 s
    assert h0 == 96 and [(a, b) for a, b, _ in holds] == [(96, 120), (120, 144), (144, 168), (168, 192),
                                                         (192, 288), (288, 336)]
    tracks = {j.key: j for j in p.jobs if j.kind == "voice.track"}
    for a, b, j in holds:
        assert j.params["phase"] == a - start and j.params["frames"] == b - a and "speech" not in j.params
        assert tracks[j.inputs[1]].inputs == () and tracks[j.inputs[1]].params["offsets"] == []
    assert [(a, b) for a, b, _ in shown] == list(zip([start] + [b for _, b, _ in shown[:-1]], [b for _, b, _ in shown]))
    # a beat heard to its end has no hold; nor does one drawn by a backend without ranges
    assert not any(" / hold " in j.name for j in _lipsyncs(plan_text(HELD.format(at="500ms", fps=24, scene="3s", line=ONE),
                                                                      RangedServices())))
    assert not any(" / hold " in j.name for j in _lipsyncs(plan_text(HELD.format(at="500ms", fps=24, scene="14s", line=ONE))))


def test_a_longer_line_keeps_the_hold_after_it_and_its_segments() -> None:
    """The line made longer: the hold's pieces after the new line's end keep their keys, and so
    do the segments that show them (cut on the piece grid before any other edge)."""
    from nyeshc.render.segments import encode_settings, segment_key, spans

    settings = encode_settings("veryfast", 18)

    def keys(p):  # noqa: ANN001, ANN202
        return {(sp.start, sp.end): segment_key(p.timeline, sp, settings) for sp in spans(p.timeline)}

    before = plan_text(HELD.format(at="500ms", fps=24, scene="14s", line=ONE), RangedServices())
    after = plan_text(HELD.format(at="500ms", fps=24, scene="14s", line=ONE + " All of it, all night, every night."), RangedServices())
    old = {(a, b): j.key for a, b, j in _sections(before)[1] if " / hold " in j.name}
    new = {(a, b): j.key for a, b, j in _sections(after)[1] if " / hold " in j.name}
    kept = [span for span in new if old.get(span) == new[span]]
    assert kept and len(kept) < len(old) and kept == sorted(new)[len(new) - len(kept):]
    first_kept = min(a for a, _ in kept)
    k0, k1 = keys(before), keys(after)
    changed = sorted(span for span in k1 if k0.get(span) != k1[span])
    assert changed and max(b for _, b in changed) == first_kept
    assert all(k0.get(span) == k1[span] for span in k1 if span[0] >= first_kept)


@pytest.mark.parametrize("fps", [*range(1, 121), Fraction(24000, 1001), Fraction(30000, 1001), 12.5])
def test_the_hold_waits_until_the_puppet_is_at_rest(fps: float) -> None:
    """The planner's margin after the last sound covers the puppet's: its mouth's release down
    to the floor and half its nod's window after the last voiced frame, one frame more."""
    from nyeshc.backends.procedural.idle import rest_frames

    assert lipsync.hold_margin(Fraction(fps)) >= rest_frames(float(fps)) + 1
    assert lipsync.hold_margin(Fraction(24)) == 14


@pytest.mark.slow
def test_the_hold_draws_the_frames_the_whole_beat_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The procedural puppet: a held beat drawn as its speaking part and silent pieces is, frame
    for frame and composited, the beat drawn by one job."""
    from nyeshc.backends.procedural.puppet import PuppetMotion
    from nyeshc.pipeline import RegistryServices
    from nyeshc.render.compositor import Compositor

    # the line ends in frame 105 (4.39 s): the hold starts at 5 s, exactly hold_margin frames on
    text = HELD.format(at="1050ms", fps=24, scene="7s", line=ONE).replace("160x90", "320x180")
    film, _ = read(text, str(tmp_path / "film.nysh"))
    profile = animatic_profile()
    frames = {}
    for ranged in (False, True):
        monkeypatch.setattr(PuppetMotion, "renders_frame_ranges", ranged)
        p = plan(film, profile, RegistryServices(profile), root=tmp_path)
        assert any(" / hold " in j.name for j in _lipsyncs(p)) == ranged
        cache = Cache(tmp_path / f"cache-{ranged}")
        execute(p, cache, jobs=2, progress=False)
        comp = Compositor(p.timeline, cache)
        frames[ranged] = [comp.frame(f).copy() for f in range(_portraits(p)[0].start, _portraits(p)[-1].end)]
    assert len(frames[True]) == len(frames[False]) >= 24 * 5
    assert all(np.array_equal(x, y) for x, y in zip(frames[False], frames[True], strict=True))
