"""Music time (LANGUAGE.md, "Music time"; issue #19), read from the plan: stated grids, times
written in bars and beats against the scene's cue or the soundtrack, ``cuts: on bar|beat`` at
every frame rate, and the diagnostics for bad grid times."""

from __future__ import annotations

from fractions import Fraction

import pytest

from nyeshc.check import context_for, run
from nyeshc.grid import Grid
from nyeshc.plan import PlanError, plan
from nyeshc.syntax import read
from plan_fakes import FakeServices, plan_text


def clean(text: str) -> None:
    assert [d for d in run(context_for(text, "film.nysh")) if d.is_error] == []


def audit(text: str) -> list:
    film, _ = read(text, "film.nysh")
    svc = FakeServices()
    found: list = []
    plan(film, svc.profile, svc, report=found)
    return found


THEME = "music THEME:\n    source: generate, tempo {tempo}, meter {meter}, length 600s\n\n"


def film(fps: str, tempo: str = "120bpm", meter: str = "4/4", scenes: int = 3, cuts: str = "on bar",
         durations: tuple[str, ...] = ("3.3s", "2.9s", "4.6s")) -> str:
    head = f"canvas: 160x90, {fps}fps\nsoundtrack: THEME\ncuts: {cuts}\n\n" + THEME.format(tempo=tempo, meter=meter)
    body = "\n".join(f"SCENE {i + 1}, {durations[i % len(durations)]}:\n    backdrop: seed {i}\n" for i in range(scenes))
    return head + body


@pytest.mark.parametrize("fps", ["24", "25", "30", "29.97"])
@pytest.mark.parametrize("tempo,meter", [("120bpm", "4/4"), ("140bpm", "3/4"), ("97bpm", "6/8")])
def test_cuts_on_bar_land_on_bar_lines_at_every_frame_rate(fps: str, tempo: str, meter: str) -> None:
    text = film(fps, tempo, meter, scenes=40)  # about 2-3 minutes of film: no drift over many cuts
    clean(text)
    tl = plan_text(text).timeline
    rate = Fraction(fps)
    bpm = Fraction(tempo[:-3])
    bar = Fraction(60) / bpm * int(meter.split("/")[0])
    for s in tl.scenes[:-1]:
        t = Fraction(s.end) / rate  # the cut, in seconds of film (whole frames)
        k = round(t / bar)
        assert abs(t - k * bar) <= Fraction(1, 2) / rate, (s.index, float(t), float(k * bar))  # the nearest frame
        # exactly the frame nearest the bar line, not merely close
        assert s.end == int(k * bar * rate + Fraction(1, 2))


def test_cuts_on_beat_never_move_a_boundary_more_than_half_a_beat() -> None:
    text = film("24", "90bpm", "4/4", scenes=6, cuts="on beat", durations=("2.1s", "1.9s", "3.55s"))
    tl = plan_text(text).timeline
    beat = Fraction(2, 3)
    written = [Fraction(21, 10), Fraction(19, 10), Fraction(355, 100)] * 2
    boundary = Fraction(0)
    for s, d in zip(tl.scenes[:-1], written, strict=False):
        boundary += d
        t = Fraction(s.end, 24)
        assert abs(t - boundary) <= beat / 2 + Fraction(1, 48)
        boundary = t  # the next scene starts at the snapped cut


def test_times_on_the_grid_count_the_cue_from_its_start_and_from() -> None:
    text = ("canvas: 160x90, 24fps\n\n" + THEME.format(tempo="120bpm", meter="3/4") +
            "SCENE 1, 10s:\n    music: THEME, at 1s, from 3s\n    caption: \"x\", at bar 3, for 2 bars\n")
    clean(text)
    [layer] = [L for L in plan_text(text).timeline.scenes[0].layers if L.kind == "text"]
    # bar 3 of a 3/4 cue at 120 bpm is at 3 s of the cue; the cue starts at 1 s of the scene,
    # from its 3rd second: bar 3 is at 1 s of the scene; two bars last 3 s
    assert (layer.start, layer.end) == (24, 24 + 72)


def test_beats_and_bars_of_a_soundtrack_count_from_the_film_start() -> None:
    text = ("canvas: 160x90, 24fps\nsoundtrack: THEME\n\n" + THEME.format(tempo="60bpm", meter="4/4") +
            "SCENE 1, 5s:\n    backdrop: seed 1\n\nSCENE 2, 5s:\n    caption: \"x\", at beat 7, for 3 beats\n")
    clean(text)
    [layer] = [L for L in plan_text(text).timeline.scenes[1].layers if L.kind == "text"]
    assert (layer.start, layer.end) == (6 * 24, 9 * 24)  # beat 7 = 6 s of the film, 1 s into scene 2


def test_a_grid_time_before_the_scene_or_past_the_cue_is_located() -> None:
    text = ("canvas: 160x90, 24fps\nsoundtrack: THEME\n\n" + THEME.format(tempo="60bpm", meter="4/4").replace("600s", "8s")
            + "SCENE 1, 5s:\n    backdrop: seed 1\n\nSCENE 2, 5s:\n    caption: \"x\", at beat 2\n")
    [d] = [d for d in audit(text) if d.code == "E704"]
    assert "before this scene starts" in d.message and "starts at its beat 6" in d.hints[0]
    assert text[d.span.start:d.span.end] == "beat 2"


def test_a_cue_without_a_grid_is_an_error_at_the_time() -> None:
    class NoGrid(FakeServices):
        music_grid = None  # a generator that cannot say (Jukebox)

    text = "canvas: 160x90, 24fps\n\nmusic M:\n    source: generate\n\nSCENE 1, 5s:\n    music: M\n" \
           "    caption: \"x\", at bar 2\n"
    clean(text)
    film_, _ = read(text, "film.nysh")
    svc = NoGrid()
    with pytest.raises(PlanError) as err:
        plan(film_, svc.profile, svc)
    [d] = err.value.diagnostics
    assert d.code == "E704" and "state its tempo" in d.hints[0]


def test_a_stated_tempo_reaches_the_generator_and_the_plan_shows_the_grid() -> None:
    text = "canvas: 160x90, 24fps\n\n" + THEME.format(tempo="72bpm", meter="3/4") + "SCENE 1, 5s:\n    music: THEME\n"
    p = plan_text(text)
    [job] = [j for j in p.jobs if j.kind == "music.generate"]
    assert job.params["tempo"] == 72.0 and job.params["meter"] == [3, 4]
    assert p.grids["THEME"]["tempo"] == "72" and p.grids["THEME"]["source"] == "stated"


def test_a_transition_longer_than_a_snapped_scene_is_an_error_at_the_transition() -> None:
    text = ("canvas: 160x90, 24fps\nsoundtrack: THEME\ncuts: on bar\n\n" + THEME.format(tempo="120bpm", meter="4/4")
            + "SCENE 1, 2.9s:\n    backdrop: seed 1\n\nCROSSFADE TO: 2.5s\n\nSCENE 2, 1.1s:\n    backdrop: seed 2\n")
    [d] = [d for d in audit(text) if d.code == "E706"]
    assert text[d.span.start:].startswith("CROSSFADE TO")


def test_grid_arithmetic_is_exact() -> None:
    g = Grid.stated(Fraction(140), (3, 4))
    assert g.bar_time(101) == Fraction(60, 140) * 300  # no drift after 100 bars
    assert g.lines(Fraction(3), every=3) == [0, Fraction(9, 7), Fraction(18, 7)]


def test_a_detected_grid_with_low_confidence_is_a_warning_that_suggests_a_tempo() -> None:
    class Unsure(FakeServices):
        def recording_grid(self, path: str) -> Grid:
            return Grid(Fraction(97), (4, 4), Fraction(0), (Fraction(0), Fraction(60, 97)), 0, 0.2, "detected")

    text = 'canvas: 160x90, 24fps\n\nmusic R:\n    source: "rain.wav"\n\nSCENE 1, 5s:\n    music: R\n' \
           '    caption: "x", at beat 2\n'
    film_, _ = read(text, "film.nysh")
    svc = Unsure()
    found: list = []
    p = plan(film_, svc.profile, svc, report=found)
    [d] = found
    assert d.code == "W705" and d.severity == "warning" and "tempo 96bpm" in d.hints[0]
    assert text[d.span.start:d.span.end] == '"rain.wav"'
    [layer] = [L for L in p.timeline.scenes[0].layers if L.kind == "text"]
    assert layer.start == round(Fraction(60, 97) * 24)  # beat 2 where the tracker put it


def test_a_stated_meter_on_a_recording_reaches_the_beat_tracker() -> None:
    """``source: "waltz.wav", meter 3/4``: the tracker is asked for bars of 3 beats (it finds
    the bar lines counting 3), not told afterwards; without a meter it chooses."""
    asked: list[int | None] = []

    class Counting(FakeServices):
        def recording_grid(self, path: str, beats_per_bar: int | None = None) -> Grid:
            asked.append(beats_per_bar)
            return Grid(Fraction(90), (beats_per_bar or 4, 4), Fraction(0), confidence=0.9, source="detected")

    for meter, expected in ((", meter 3/4", 3), ("", None)):
        text = (f'canvas: 160x90, 24fps\n\nmusic W:\n    source: "waltz.wav"{meter}\n\nSCENE 1, 5s:\n'
                '    music: W\n    caption: "x", at bar 2\n')
        film_, _ = read(text, "film.nysh")
        svc = Counting()
        asked.clear()
        p = plan(film_, svc.profile, svc)
        assert asked and set(asked) == {expected}
        [caption] = [layer for layer in p.timeline.scenes[0].layers if layer.kind == "text"]
        beats_a_bar = expected or 4
        assert caption.start == round(24 * Fraction(60, 90) * beats_a_bar)  # bar 2 starts after one bar
