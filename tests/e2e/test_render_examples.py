"""Every example renders at a tiny canvas; the written files are checked against the plan and
against LANGUAGE.md's time arithmetic.

Each example is rendered once per session (``render`` fixture, one shared artifact cache) with
``nyeshc FILM.nysh -o OUT.mp4 -q`` after its ``canvas:`` line is rewritten to 128x72 at 12 fps;
nothing else in the script changes, so every time in it holds.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from e2e_support import (
    EXAMPLES,
    SAMPLE_RATE,
    TINY_FPS,
    TINY_H,
    TINY_W,
    cli_capture,
    decode_audio,
    decode_video,
    ms,
    parse_srt,
    probe,
    read_png,
    rms_db,
    sha256,
    silent_wav,
    timeline_of,
    write_tiny,
)

pytestmark = pytest.mark.slow

NAMES = [p.name for p in EXAMPLES]

# Dialogue strings counted by hand in each example (every one becomes a subtitle cue).
DIALOGUE_LINES = {"nyeshkerh.nysh": 6, "tour-voices.nysh": 3, "tour-captions.nysh": 0}


def test_every_example_is_covered() -> None:
    assert NAMES, "no examples found"
    assert {"nyeshkerh.nysh", "tour-captions.nysh", "tour-voices.nysh"} <= set(NAMES)


# --------------------------------------------------------------------------- duration


@pytest.mark.parametrize("name", NAMES)
def test_frames_and_samples_match_the_plan(render, name: str) -> None:
    film = render(name)
    tl = film.timeline
    assert (tl.width, tl.height, tl.fps) == (TINY_W, TINY_H, TINY_FPS)
    # every frame of the timeline is in the file, no more, no fewer
    assert film.frames.shape == (tl.frames, TINY_H, TINY_W, 3)
    # the sound lasts exactly as long as the picture
    assert Fraction(tl.samples, SAMPLE_RATE) == Fraction(tl.frames) / tl.fps
    assert film.audio.shape == (tl.samples, 2)
    # the container agrees (ffmpeg's Duration line, to the centisecond it prints)
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d\.\d+)", probe(film.out).text)
    assert m is not None
    seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    assert seconds == pytest.approx(float(tl.frames / tl.fps), abs=1 / TINY_FPS)


def test_nyeshkerh_duration_by_the_language_rules(render) -> None:
    """LANGUAGE.md: a CROSSFADE/MORPH of D overlaps the two scenes by D; FADE IN/OUT darken
    within their scene and add no time; CREDITS last their explicit duration."""
    film = render("nyeshkerh.nysh")
    fps = TINY_FPS
    scene1, scene2, scene3, credits = 20, 22, 20, 10  # seconds, as written
    crossfade, morph = 2, 3
    fade_in, fade_out = 3, 3
    total = scene1 + scene2 + scene3 - crossfade - morph + credits
    assert total == 67
    assert film.timeline.frames == total * fps
    assert len(film.frames) == total * fps
    assert len(film.audio) == total * SAMPLE_RATE

    start2 = scene1 - crossfade  # 18
    start3 = start2 + scene2 - morph  # 37
    start_credits = start3 + scene3  # 57: FADE OUT adds nothing
    spans = [(s["start"], s["end"]) for s in film.timeline.scenes]
    assert spans == [(0, scene1 * fps), (start2 * fps, (start2 + scene2) * fps),
                     (start3 * fps, (start3 + scene3) * fps), (start_credits * fps, total * fps)]
    overlaps = [(o["kind"], o["start"], o["end"]) for o in film.timeline.overlaps]
    assert overlaps == [("crossfade", start2 * fps, scene1 * fps), ("morph", start3 * fps, (start2 + scene2) * fps)]
    scenes = film.timeline.scenes
    assert scenes[0]["fade_in"] == fade_in * fps
    assert scenes[2]["fade_out"] == fade_out * fps


def test_tour_captions_duration_by_the_language_rules(render) -> None:
    film = render("tour-captions.nysh")
    total = 5 + 4 - 1  # two scenes, CROSSFADE TO: 1s; FADE IN / FADE TO BLACK add no time
    assert film.timeline.frames == len(film.frames) == total * TINY_FPS
    assert [(s["start"], s["end"]) for s in film.timeline.scenes] == [(0, 5 * TINY_FPS), (4 * TINY_FPS, 8 * TINY_FPS)]


def test_tour_voices_duration_is_its_dialogue(render) -> None:
    """A scene without a duration lasts until its last element ends (here the last line's
    audio), rounded up to a whole frame."""
    film = render("tour-voices.nysh")
    last_end = max(c["start"] + c["length"] for c in film.timeline.dialogue)
    expected = math.ceil(Fraction(last_end * TINY_FPS, SAMPLE_RATE))
    assert film.timeline.frames == len(film.frames) == expected
    # the ORACLE's first line starts at 3 s as written
    assert film.timeline.dialogue[1]["start"] == 3 * SAMPLE_RATE


# --------------------------------------------------------------------------- streams


@pytest.mark.parametrize("name", NAMES)
def test_streams(render, name: str) -> None:
    s = probe(render(name).out)
    assert s.video_codec == "h264", s.text
    assert s.pix_fmt == "yuv420p", s.text
    assert (s.width, s.height) == (TINY_W, TINY_H)
    assert float(s.fps) == TINY_FPS
    assert s.audio_codec == "aac", s.text
    assert s.audio_rate == 48_000
    assert s.audio_layout == "stereo", s.text


# --------------------------------------------------------------------------- fades


@pytest.mark.parametrize("name", NAMES)
def test_fades_from_and_to_black(render, name: str) -> None:
    """FADE IN: the scene's first frame is black; FADE OUT / FADE TO BLACK: its last is."""
    film = render(name)
    frames = film.frames
    checked = 0
    for scene in film.timeline.scenes:
        if scene["fade_in"]:
            assert frames[scene["start"]].mean() < 3, f"{scene['title']}: first frame not black"
            assert frames[scene["start"] + scene["fade_in"]].mean() > 10, f"{scene['title']}: still dark after the fade in"
            checked += 1
        if scene["fade_out"]:
            assert frames[scene["end"] - 1].mean() < 3, f"{scene['title']}: last frame not black"
            assert frames[scene["end"] - scene["fade_out"] - 1].mean() > 10
            checked += 1
    if "FADE IN:" in film.script.read_text(encoding="utf-8"):
        assert frames[0].mean() < 3, "the film starts with FADE IN but its first frame is not black"
        assert checked


# --------------------------------------------------------------------------- caption pixels


def _still(script: Path, frame: int, out: Path, cache: Path) -> np.ndarray:
    at = f"{(frame + 0.5) / TINY_FPS:.6f}s"  # inside the frame, so --at picks exactly ``frame``
    rc, _, err = cli_capture("still", script, "--at", at, "-o", out, "-q", "--cache", cache)
    assert rc == 0, err
    return read_png(out).astype(np.int16)


def test_caption_pixels_at_its_time(render, e2e_dir: Path, shared_cache: Path) -> None:
    """The plain caption of tour-captions (at 2s for 3s, bottom) is in the film's pixels at
    its time and not before: compared with ``nyeshc still`` of the same script with and
    without that caption line."""
    line = '    caption: "every letter a small fire", at 2s, for 3s, bottom\n'
    film = render("tour-captions.nysh")
    assert line in film.script.read_text(encoding="utf-8")
    folder = e2e_dir / "captionless"
    variant = write_tiny(film.script, folder, edit=lambda t: t.replace(line, ""))
    # the caption's layer: what the variant's plan lacks
    base_layers = {(layer["artifact"], layer["start"]): layer for s in film.timeline.scenes for layer in s["layers"]}
    var_layers = {(layer["artifact"], layer["start"]) for s in timeline_of(variant).scenes for layer in s["layers"]}
    missing = [layer for k, layer in base_layers.items() if k not in var_layers]
    assert len(missing) == 1 and missing[0]["kind"] == "text", missing
    cap = missing[0]
    assert (cap["start"], cap["end"]) == (2 * TINY_FPS, 5 * TINY_FPS)

    mid, before = (cap["start"] + cap["end"]) // 2, cap["start"] - TINY_FPS // 2
    for frame, present in ((mid, True), (before, False)):
        with_cap = _still(film.script, frame, folder / f"with-{frame}.png", shared_cache)
        without = _still(variant, frame, folder / f"without-{frame}.png", shared_cache)
        assert with_cap.shape == (TINY_H, TINY_W, 3)
        decoded = film.frames[frame].astype(np.int16)
        # the film's frame is the still of the same moment (up to H.264 noise)
        assert np.abs(decoded - with_cap).mean() < 8, f"frame {frame} of the film is not the still"
        mask = (np.abs(with_cap - without) > 24).any(axis=-1)
        if not present:
            assert not mask.any(), "the caption shows before its time"
            continue
        assert mask.sum() >= 20, "the caption draws almost nothing"
        rows = np.nonzero(mask.any(axis=1))[0]
        assert rows.min() >= TINY_H // 2, f"a bottom caption drawn at rows {rows.min()}..{rows.max()}"
        to_with = np.abs(decoded - with_cap)[mask].mean()
        to_without = np.abs(decoded - without)[mask].mean()
        assert to_without > 20, "the film's caption region looks like the frame without the caption"
        assert to_with < 0.5 * to_without


# --------------------------------------------------------------------------- ducking


def test_music_is_ducked_under_dialogue(render) -> None:
    """tour-voices (duck: -10dB) with every voice a recording of silence, so that only the
    music sounds: its level while a line plays is well below its level just before."""
    from nyeshc.render.mixer import ATTACK, RELEASE

    def silence_voices(text: str) -> str:
        new, n = re.subn(r"(?m)^(\s+)voice: .*$", r'\1voice: "silence.wav"', text)
        assert n == 2
        return new

    film = render("tour-voices.nysh", edit=silence_voices, variant="silent-voices",
                  assets={"silence.wav": silent_wav(1.0)})
    tl = film.timeline
    audio = film.audio
    assert audio.shape == (tl.samples, 2)
    music = [c for c in tl.audio if c["role"] == "music"]
    assert music and all(c["duck"] for c in music)
    music_ready = max(c["start"] + c["fade_in"] for c in music)
    margin = int(0.1 * SAMPLE_RATE)
    attack, release = int(ATTACK * SAMPLE_RATE), int(RELEASE * SAMPLE_RATE)

    measured = 0
    prev_end = 0
    for line in tl.dialogue:
        start, end = line["start"], line["start"] + line["length"]
        lo = max(prev_end + release, music_ready) + margin
        hi = start - attack - margin
        prev_end = end
        if hi - lo < int(0.3 * SAMPLE_RATE):
            continue  # no clean stretch of undocked music before this line
        before = rms_db(audio[lo:hi])
        during = rms_db(audio[start + margin:end - margin])
        assert before > -50, f"no music before {line['name']} ({before:.1f} dBFS)"
        assert before - during >= 5.0, (f"{line['name']}: music {before:.1f} dBFS before, {during:.1f} dBFS "
                                        f"during (duck -10dB)")
        assert before - during <= 15.0, "the music is muted, not ducked"
        measured += 1
    assert measured >= 1, "no line had undocked music before it"


# --------------------------------------------------------------------------- subtitles


@pytest.mark.parametrize("name", NAMES)
def test_srt_cues_are_the_dialogue(render, name: str) -> None:
    film = render(name)
    tl = film.timeline
    cues = parse_srt(film.srt)
    if name in DIALOGUE_LINES:
        assert len(cues) == DIALOGUE_LINES[name]
    assert len(cues) == len(tl.dialogue) == len(tl.subtitles)
    for cue, sub, line in zip(cues, tl.subtitles, tl.dialogue, strict=True):
        assert cue.text == sub["text"]
        assert cue.start_ms == ms(sub["start"])
        assert cue.end_ms == ms(sub["end"])
        # a cue starts when its line's voice starts
        assert cue.start_ms == ms(Fraction(line["start"], SAMPLE_RATE))
    if cues:
        first = tl.dialogue[0]
        assert cues[0].start_ms == ms(Fraction(first["start"], SAMPLE_RATE))
    vtt = film.out.with_suffix(".vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT")
    assert vtt.count("-->") == len(cues)


def test_nyeshkerh_srt_by_hand(render) -> None:
    """NARRATOR, at 9s in scene 1 (which starts at 0): the first cue is at 00:00:09,000; the
    second scene's NARRATOR, at 14s, starts at 18 s + 14 s; the third's at 37 s + 11 s."""
    cues = parse_srt(render("nyeshkerh.nysh").srt)
    assert cues[0].start_ms == 9_000 and cues[0].text == "Nyeshkerh."
    assert cues[2].start_ms == 32_000 and cues[2].text == "She sang in a language nobody spoke."
    assert cues[4].start_ms == 37_000 + 11_000 and cues[4].text == "Nyeshkerh."


# --------------------------------------------------------------------------- determinism


def test_two_uncached_renders_are_identical(e2e_dir: Path) -> None:
    """``--no-cache`` twice (every job and the encode run again): the same frames and sound.
    tour-voices is the smallest example with voices and music."""
    folder = e2e_dir / "nocache"
    script = write_tiny(next(p for p in EXAMPLES if p.name == "tour-voices.nysh"), folder)
    before = set(folder.iterdir())
    hashes = []
    for i in (1, 2):
        out = folder / "out" / f"run{i}.mp4"
        rc, _, err = cli_capture(script, "-o", out, "-q", "--no-cache")
        assert rc == 0, err
        hashes.append((sha256(decode_video(out, TINY_W, TINY_H)), sha256(decode_audio(out))))
    assert hashes[0] == hashes[1]
    # --no-cache neither creates nor leaves a cache beside the script
    left = set(folder.iterdir()) - before
    assert {p.name for p in left} <= {"out", script.name + ".lock"}, sorted(p.name for p in left)
