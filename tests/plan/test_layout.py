"""Time semantics (LANGUAGE.md): transitions, inferred durations, dialogue, credits."""

from __future__ import annotations

from fractions import Fraction

from plan_fakes import plan_text
from plan_fakes import FakeServices

SR = 48_000


def voice(text: str) -> int:
    """Samples the fake voice gives a line at rate 1."""
    return round(round(0.08 * len(text) + 0.3, 4) * SR)


def test_crossfade_overlaps_two_ten_second_scenes_by_its_duration() -> None:
    p = plan_text('SCENE 1 "a", 10s:\n    caption: "x"\n\nCROSSFADE TO: 2s\n\nSCENE 2 "b", 10s:\n    caption: "y"\n')
    tl = p.timeline
    assert tl.duration == 18 and tl.frames == 18 * 24
    a, b = tl.scenes
    assert (a.start, a.end, b.start, b.end) == (0, 240, 192, 432)
    (o,) = tl.overlaps
    assert (o.kind, o.a, o.b, o.start, o.end, o.morph) == ("crossfade", 0, 1, 192, 240, None)
    assert tl.samples == 18 * SR


def test_fades_add_no_time_and_darken_the_adjacent_scene() -> None:
    p = plan_text('FADE IN: 2s\n\nSCENE 1, 10s:\n    caption: "x"\n\nFADE OUT: 3s\n\n'
                  'SCENE 2, 10s:\n    caption: "y"\n\nFADE TO BLACK: 1s\n')
    a, b = p.timeline.scenes
    assert p.timeline.frames == 480 and b.start == a.end == 240
    assert (a.fade_in, a.fade_out, b.fade_in, b.fade_out) == (48, 72, 0, 24)
    assert p.timeline.overlaps == ()


def test_cut_to_is_nothing() -> None:
    p = plan_text('SCENE 1, 3s:\n    caption: "x"\n\nCUT TO:\n\nSCENE 2, 3s:\n    caption: "y"\n')
    assert [(s.start, s.end) for s in p.timeline.scenes] == [(0, 72), (72, 144)]


MORPH = '''
look A:
    image: generate, seed 1
look B:
    image: "b.png"

SCENE 1, 6s:
    backdrop: A
MORPH TO: 2s
SCENE 2, 6s:
    backdrop: morph A -> seed 9 -> A
MORPH TO: 1s
SCENE 3, 6s:
    backdrop: B
'''


def test_morph_to_overlaps_and_falls_back_to_crossfade_when_not_generated() -> None:
    p = plan_text(MORPH)
    tl = p.timeline
    assert tl.frames == (18 - 3) * 24
    m, c = tl.overlaps
    assert (m.kind, m.start, m.end) == ("morph", 96, 144)
    job = p.job(m.morph)
    assert job.kind == "image.morph" and job.params["frames"] == 48
    assert job.params["width"] == 640 and job.params["height"] == 360  # MORPH_SCALE of the canvas
    a_latent = next(j.key for j in p.jobs if j.name == "look A")
    assert job.inputs == (a_latent, a_latent)  # scene 1's look → scene 2's first stop
    assert (c.kind, c.morph, c.start, c.end) == ("crossfade", None, 216, 240)


def test_credits_last_two_seconds_a_line_at_least_four() -> None:
    one = plan_text('SCENE 1, 3s:\n    caption: "x"\n\nCREDITS:\n    "a"\n')
    assert [(s.start, s.end) for s in one.timeline.scenes] == [(0, 72), (72, 72 + 96)]
    five = plan_text('SCENE 1, 3s:\n    caption: "x"\n\nCREDITS:\n' + "".join(f'    "{c}"\n' for c in "abcde"))
    assert five.timeline.scenes[-1].end - five.timeline.scenes[-1].start == 240
    fixed = plan_text('SCENE 1, 3s:\n    caption: "x"\n\nFADE OUT: 1s\n\nCREDITS NYESH, 7s:\n    "a"\n'
                      'alphabet NYESH:\n    glyphs: 20\n')
    s1, cr = fixed.timeline.scenes
    assert cr.end - cr.start == 168 and s1.fade_out == 24
    (layer,) = cr.layers
    assert layer.roll and layer.role == "credits"
    assert fixed.job(layer.artifact).kind == "glyphs.text"


def test_dialogue_lines_play_one_after_another_with_pauses() -> None:
    p = plan_text('character N:\n    voice: asemic\n\nSCENE 1:\n    N, at 2s:\n        (softly)\n'
                  '        "one"\n        (pause 1s)\n        "three words here"\n        "x"\n')
    clips = [c for c in p.timeline.audio if c.role == "dialogue"]
    start = 2 * SR
    l1, l2, l3 = voice("one"), voice("three words here"), voice("x")
    assert [(c.start, c.length) for c in clips] == [(start, l1), (start + l1 + SR, l2),
                                                    (start + l1 + SR + l2, l3)]
    end = Fraction(start + l1 + SR + l2 + l3, SR)
    # inferred duration: the latest end, rounded up to a whole frame
    assert p.timeline.frames == -(-end * 24 // 1)
    track = next(j for j in p.jobs if j.kind == "voice.track")
    assert track.params["offsets"] == [0, l1 + SR, l1 + SR + l2]
    assert [s.text for s in p.timeline.subtitles] == ["one", "three words here", "x"]
    assert p.timeline.subtitles[0].start == 2
    lip = next(j for j in p.jobs if j.kind == "motion.lipsync")
    assert lip.inputs[1] == track.key and lip.params["frames"] == p.timeline.frames - 48


def test_inferred_duration_uses_timed_elements_only_and_at_least_one_second() -> None:
    p = plan_text('SCENE 1:\n    caption: "x", at 1s, for 2500ms\n    caption: "untimed"\n')
    assert p.timeline.frames == 84
    short = plan_text('SCENE 1:\n    caption: "untimed"\n')
    assert short.timeline.frames == 24


def test_elements_outlasting_an_explicit_duration_are_cut() -> None:
    p = plan_text('character N:\n    voice: asemic\n\nSCENE 1, 1s:\n    caption: "x", at 500ms, for 5s\n'
                  '    N:\n        "a rather long line that outlasts the scene"\n')
    (scene,) = p.timeline.scenes
    assert scene.end == 24 and all(layer.end <= 24 for layer in scene.layers)
    assert all(c.start + c.length <= SR for c in p.timeline.audio)


def test_recordings_set_line_length() -> None:
    svc = FakeServices(durations={"l1.wav": Fraction(5, 2), "girl.wav": Fraction(7, 4)})
    p = plan_text('character N:\n    voice: "girl.wav"\n\nSCENE 1:\n    N:\n        "hello", voice "l1.wav"\n'
                  '        "again"\n', svc)
    clips = [c for c in p.timeline.audio if c.role == "dialogue"]
    assert [(c.start, c.length) for c in clips] == [(0, 120_000), (120_000, 84_000)]
    assert {p.job(c.artifact).kind for c in clips} == {"asset.audio"}
    assert p.timeline.frames == 102  # 4.25 s


def test_sings_places_the_cue_and_drives_the_mouth() -> None:
    p = plan_text('music T:\n    source: generate, genre "drone", seed 3\n\ncharacter G:\n    voice: asemic\n\n'
                  'SCENE 1, 6s:\n    G, close-up, left:\n        sings T, from 12s, for 4s\n')
    (clip,) = [c for c in p.timeline.audio if c.name.endswith("sings T")]
    assert (clip.start, clip.length, clip.offset, clip.duck) == (0, 4 * SR, 12 * SR, False)
    music = p.job(clip.artifact)
    assert music.kind == "music.generate" and music.params["seconds"] == 16.0  # its longest use
    track = next(j for j in p.jobs if j.kind == "voice.track")
    assert track.inputs == (music.key,) and track.params["clips"] == [[12 * SR, 4 * SR]]
    (layer,) = p.timeline.scenes[0].layers
    assert layer.box is not None and layer.box.height == 684 and layer.box.y == 720 - 684


def test_soundtrack_spans_the_film_and_is_ducked() -> None:
    p = plan_text('soundtrack: T, fade in 1s, gain -3dB\nmusic T:\n    source: generate, length 60s\n\n'
                  'SCENE 1, 5s:\n    caption: "x"\n    sound: T, at 1s, for 1s\n')
    st, snd = p.timeline.audio
    assert (st.start, st.length, st.duck, st.gain_db, st.fade_in) == (0, 5 * SR, True, -3.0, SR)
    assert (snd.start, snd.length, snd.duck, snd.role) == (SR, SR, False, "sound")


def test_still_backdrop_is_rendered_with_overscan() -> None:
    p = plan_text('look A:\n    image: generate, seed 1\n\nSCENE 1, 2s:\n    backdrop: A, zoom 1.0 -> 1.2, pan left\n')
    (layer,) = p.timeline.scenes[0].layers
    job = p.job(layer.artifact)
    assert job.kind == "image.render"
    assert (job.params["width"], job.params["height"]) == (1690, 952)  # 1.2 * 1.1 * canvas, rounded up to even
    assert layer.zoom == (1.0, 1.2) and layer.pan == "left"
