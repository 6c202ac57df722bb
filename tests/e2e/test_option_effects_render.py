"""Issue #23 and #25, row by row, from the written MP4: every construct that checks clean
reaches the picture or the sound.

Each test renders a minimal film (160x90, 8 fps) through the real command line and reads what
the option changed: frame pixels at known frames, audio levels at known times, diagnostics on
stderr. The schema-wide guarantee (every option changes the plan) is
``tests/plan/test_option_effects.py``; this file shows that the changes are the ones the docs
describe.
"""

from __future__ import annotations

import math
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from e2e_support import SAMPLE_RATE, cli_capture, decode_audio, decode_video, ffmpeg, plan_json, rms_db

W, H, FPS = 160, 90, 8
HEAD = f"canvas: {W}x{H}, {FPS}fps\n\n"


@dataclass
class Built:
    script: Path
    frames: np.ndarray  # (N, H, W, 3)
    audio: np.ndarray  # (N, 2)
    stderr: str

    def at(self, seconds: float) -> np.ndarray:
        return self.frames[int(round(seconds * FPS))].astype(np.int16)

    def sound(self, t0: float, t1: float) -> np.ndarray:
        return self.audio[int(t0 * SAMPLE_RATE):int(t1 * SAMPLE_RATE)]


def sine_wav(path: Path, hz: float = 1000.0, seconds: float = 4.0, amplitude: float = 0.5) -> None:
    n = np.arange(int(SAMPLE_RATE * seconds))
    x = (amplitude * np.sin(2 * np.pi * hz * n / SAMPLE_RATE) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(x.tobytes())


def clip_mp4(path: Path, *, sound: bool, seconds: int = 4) -> None:
    """A test-card video (colour bars), with a 440 Hz tone when ``sound``."""
    cmd = [ffmpeg(), "-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={W}x{H}:rate={FPS}:duration={seconds}"]
    if sound:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    subprocess.run(cmd + ["-pix_fmt", "yuv420p", str(path)], check=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("effects")
    sine_wav(d / "tone.wav")
    clip_mp4(d / "clip.mp4", sound=True)
    from PIL import Image

    Image.new("RGB", (64, 36), (220, 30, 30)).save(d / "red.png")
    return d


def build(folder: Path, name: str, body: str, *, expect: int = 0) -> Built:
    script = folder / f"{name}.nysh"
    script.write_text(HEAD + body, encoding="utf-8")
    out = folder / f"{name}.mp4"
    rc, _, err = cli_capture(script, "-o", out, "--cache", folder / "cache")
    assert rc == expect, err
    if rc != 0:
        return Built(script, np.zeros((0, H, W, 3), np.uint8), np.zeros((0, 2), np.float32), err)
    return Built(script, decode_video(out, W, H), decode_audio(out), err)


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


LOOKS = """look A:
    image: generate, seed 5
look B:
    image: generate, seed 23
"""


# --------------------------------------------------------------------------- #23: blends


@pytest.mark.parametrize("profile", ["animatic"])
def test_blended_looks_render_and_morph_through_blends(folder: Path, profile: str) -> None:
    body = """look P:
    image: blend(seed 5, seed 23, 0.35)
look Q:
    image: blend(P, seed 9, 0.5)

SCENE 1, 2s:
    backdrop: P

SCENE 2, 3s:
    backdrop: morph P -> seed 40 -> Q

MORPH TO: 1s

SCENE 3, 2s:
    backdrop: Q
"""
    film = build(folder, "blends", body)
    tl = plan_json(film.script)["timeline"]
    assert [len(s["layers"]) for s in tl["scenes"]] == [1, 1, 1]
    for f in range(len(film.frames)):
        assert film.frames[f].mean() > 20, f"frame {f} is black"
    # the morph through the blends moves; its ends are the blends themselves
    assert diff(film.frames[16], film.frames[26]) > 5
    assert diff(film.frames[0], film.frames[15]) < 1  # scene 1 holds P
    # the MORPH TO from Q to Q changes nothing but stays continuous
    assert max(diff(film.frames[f], film.frames[f - 1]) for f in range(36, 48)) < 12


# --------------------------------------------------------------------------- #25, rows 1-3: recordings


@pytest.mark.parametrize("directive", ['music: "tone.wav"', 'sound: "tone.wav"'])
def test_rows_1_2_a_recorded_cue_in_a_scene_is_heard(folder: Path, directive: str) -> None:
    film = build(folder, directive.split(":")[0] + "-file", f"SCENE 1, 3s:\n    {directive}, at 1s\n")
    assert rms_db(film.sound(0.1, 0.9)) < -60
    assert rms_db(film.sound(1.2, 2.8)) > -20


def test_row_3_a_recorded_soundtrack_is_heard(folder: Path) -> None:
    film = build(folder, "soundtrack-file", 'soundtrack: "tone.wav", gain -6dB\n\nSCENE 1, 2s:\n    backdrop: seed 3\n')
    assert rms_db(film.sound(0.2, 1.8)) > -25


# --------------------------------------------------------------------------- row 4: credits fade


def test_row_4_credits_fade_in_and_out(folder: Path) -> None:
    plain = build(folder, "credits-plain", 'CREDITS, 4s:\n    "THE END THE END"\n    "THE END"\n')
    faded = build(folder, "credits-faded", 'CREDITS, 4s, fade in 2s, fade out 2s:\n    "THE END THE END"\n    "THE END"\n')
    # the roll is at the same place; the faded one is darker near both ends
    assert faded.frames[4].sum() < 0.7 * plain.frames[4].sum()
    assert faded.frames[28].sum() < 0.7 * plain.frames[28].sum()


# --------------------------------------------------------------------------- rows 5, 6: show


def test_row_5_show_takes_camera_moves_and_positions(folder: Path) -> None:
    plain = build(folder, "show-plain", 'SCENE 1, 2s:\n    show: "clip.mp4"\n')
    zoomed = build(folder, "show-zoom", 'SCENE 1, 2s:\n    show: "clip.mp4", zoom 1.0 -> 2.0\n')
    panned = build(folder, "show-pan", 'SCENE 1, 2s:\n    show: "clip.mp4", pan left\n')
    inset = build(folder, "show-inset", 'SCENE 1, 2s:\n    backdrop: seed 3\n    show: "clip.mp4", top, left\n')
    start, end = diff(plain.frames[0], zoomed.frames[0]), diff(plain.frames[15], zoomed.frames[15])
    assert end > 20 and start < 0.4 * end  # the zoom starts at 1 (resampled from 2x) and ends at 2
    assert diff(plain.frames[8], panned.frames[8]) > 5
    # the inset sits in the top-left quarter; the bottom-right shows the backdrop, not the clip
    assert diff(inset.frames[8][5:40, 8:76], plain.frames[8][5:40, 8:76]) > 20
    assert diff(inset.frames[8][60:, 100:], plain.frames[8][60:, 100:]) > 20


def band_db(x: np.ndarray, hz: float) -> float:
    """Level of the ``hz`` component of ``x`` (mono mix), in dB of spectrum magnitude."""
    mono = x.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    i = int(round(hz * len(mono) / SAMPLE_RATE))
    return 20 * float(np.log10(spectrum[i - 3:i + 4].max() + 1e-12))


def test_row_6_a_shown_clip_is_heard_at_its_gain(folder: Path) -> None:
    """The clip's 440 Hz tone against a 1 kHz reference sound in the same film (the film is
    loudness-normalised as a whole, so only relative levels mean anything)."""
    ref = '    sound: "tone.wav"\n'
    loud = build(folder, "show-loud", 'SCENE 1, 2s:\n    show: "clip.mp4"\n' + ref)
    quiet = build(folder, "show-quiet", 'SCENE 1, 2s:\n    show: "clip.mp4", gain -20dB\n' + ref)
    silent = build(folder, "show-ref", "SCENE 1, 2s:\n" + ref)
    rel = [band_db(f.sound(0.2, 1.8), 440) - band_db(f.sound(0.2, 1.8), 1000) for f in (loud, quiet, silent)]
    assert rel[0] > -20  # heard (lavfi's sine is 1/8 of full scale, the reference 1/2: about -12 dB)
    assert 16 < rel[0] - rel[1] < 24  # 20 dB quieter
    assert rel[2] < rel[1] - 10  # and nothing at 440 Hz without the clip


# --------------------------------------------------------------------------- rows 7, 8, 17: morphs


def test_row_7_a_morph_backdrop_takes_a_camera(folder: Path) -> None:
    plain = build(folder, "morph-plain", LOOKS + "\nSCENE 1, 2s:\n    backdrop: morph A -> B\n")
    zoomed = build(folder, "morph-zoom", LOOKS + "\nSCENE 1, 2s:\n    backdrop: morph A -> B, zoom 1.0 -> 2.0\n")
    panned = build(folder, "morph-pan", LOOKS + "\nSCENE 1, 2s:\n    backdrop: morph A -> B, pan left\n")
    assert diff(plain.frames[15], zoomed.frames[15]) > 10
    assert diff(plain.frames[0], panned.frames[0]) > 3


def test_row_8_a_morph_into_a_picture_file_crossfades_into_it(folder: Path) -> None:
    film = build(folder, "morph-file", LOOKS + 'look F:\n    image: "red.png"\n\nSCENE 1, 3s:\n    backdrop: morph A -> F\n')
    assert "W207" in film.stderr and "crossfades into F" in film.stderr
    first, last = film.frames[0].astype(float), film.frames[-1].astype(float)
    red = lambda f: f[..., 0].mean() - f[..., 1:].mean()  # noqa: E731
    assert red(last) > red(first) + 60  # the red picture is reached at the end


def test_row_17_morph_to_after_a_zoom_does_not_jump(folder: Path) -> None:
    body = LOOKS + "\nSCENE 1, 3s:\n    backdrop: A, zoom 1.0 -> 2.0\n\nMORPH TO: 1s\n\nSCENE 2, 2s:\n    backdrop: B\n"
    film = build(folder, "morph-after-zoom", body)
    start = 2 * FPS  # the overlap starts 1 s before scene 1 ends
    before = [diff(film.frames[f], film.frames[f - 1]) for f in range(start - 4, start)]
    jump = diff(film.frames[start], film.frames[start - 1])
    assert jump < 2 * max(before) + 2, (jump, before)


# --------------------------------------------------------------------------- rows 9-11: latents


def test_row_9_truncation_0_is_the_mean_look(folder: Path) -> None:
    body = "look A:\n    image: generate, seed 5, truncation 0\nlook B:\n    image: generate, seed 23, truncation 0\n" \
           "look C:\n    image: generate, seed 23\n\nSCENE 1, 1s:\n    backdrop: A\n\nSCENE 2, 1s:\n    backdrop: B\n" \
           "\nSCENE 3, 1s:\n    backdrop: C\n"
    film = build(folder, "truncation-0", body)
    assert diff(film.at(0.5), film.at(1.5)) < 1  # two seeds at truncation 0: one picture
    assert diff(film.at(1.5), film.at(2.5)) > 5


PORTRAIT_FILM = """look D:
    image: generate, seed 8
look E:
    image: generate, seed 81
character C:
    portrait: {portrait}
    motion: still

SCENE 1, 1s:
    C:
        (softly)
"""


def test_rows_10_11_portrait_blends_with_looks_show_a_face(folder: Path) -> None:
    a = build(folder, "portrait-ab", PORTRAIT_FILM.format(portrait="blend(D, E, 0.5)"))
    b = build(folder, "portrait-seed-d", PORTRAIT_FILM.format(portrait="blend(seed 5, D, 0.35)"))
    c = build(folder, "portrait-seeds", PORTRAIT_FILM.format(portrait="blend(seed 5, seed 23, 0)"))
    empty = build(folder, "portrait-none", "SCENE 1, 1s:\n    caption: \"\"\n")
    assert diff(a.at(0.5), empty.at(0.5)) > 5  # the character is on screen
    assert diff(b.at(0.5), c.at(0.5)) > 1  # D and the weight count


# --------------------------------------------------------------------------- rows 12-14: performances


SPEAKER = """character C:
    portrait: generate, seed 2
    voice: asemic{voice}
    motion: lipsync{motion}

SCENE 1, 3s:
    C, close-up:
        "Nyeshkerh a lo ven sa mireth."
"""


def test_row_12_mouth_reaches_the_picture(folder: Path) -> None:
    closed = build(folder, "mouth-0", SPEAKER.format(voice="", motion=", mouth 0"))
    wide = build(folder, "mouth-2", SPEAKER.format(voice="", motion=", mouth 2"))
    assert max(diff(closed.frames[f], wide.frames[f]) for f in range(4, 20)) > 0.5


def test_row_13_a_voice_seed_changes_the_voice(folder: Path) -> None:
    one = build(folder, "voice-seed-1", SPEAKER.format(voice=", seed 1", motion=""))
    two = build(folder, "voice-seed-2", SPEAKER.format(voice=", seed 2", motion=""))
    n = min(len(one.audio), len(two.audio))
    assert float(np.abs(one.audio[:n] - two.audio[:n]).mean()) > 1e-4


def test_row_14_temperature_changes_the_music(folder: Path) -> None:
    cue = 'music M:\n    source: generate, seed 4, temperature {t}\n\nSCENE 1, 3s:\n    music: M\n'
    cold = build(folder, "temperature-cold", cue.format(t=0.1))
    hot = build(folder, "temperature-hot", cue.format(t=1.9))
    n = min(len(cold.audio), len(hot.audio))
    assert float(np.abs(cold.audio[:n] - hot.audio[:n]).mean()) > 1e-3


# --------------------------------------------------------------------------- rows 15, 16


def test_row_15_zoom_below_1_shrinks_the_picture_inside_black(folder: Path) -> None:
    body = LOOKS + "\nSCENE 1, 1s:\n    backdrop: A, zoom 0.5\n\nSCENE 2, 2s:\n    backdrop: A, zoom 1.0 -> 0.3\n"
    film = build(folder, "zoom-out", body)
    f = film.at(0.5)
    assert f[:20].max() < 12 and f[-20:].max() < 12 and f[:, :38].max() < 12  # a black frame around
    assert f[30:60, 50:110].mean() > 30  # the picture in the middle
    assert film.frames[8][:, :10].max() > 12 and film.frames[-1][:, :50].max() < 12  # 1.0 -> 0.3


def test_row_16_a_line_that_outlasts_its_scene_is_W303(folder: Path) -> None:
    film = build(folder, "w303", SPEAKER.format(voice="", motion="").replace("SCENE 1, 3s", "SCENE 1, 1s"))
    assert "warning[W303]" in film.stderr and "C's line ends at" in film.stderr and "after the scene (1s)" in film.stderr


def test_zoom_ramps_keep_every_stop(folder: Path) -> None:
    body = LOOKS + "\nSCENE 1, 4s:\n    backdrop: A, zoom 1.0 -> 3.0 -> 1.0, ease linear\n"
    film = build(folder, "zoom-3-stops", body)
    assert diff(film.frames[0], film.frames[-1]) < 5  # back where it started (x264's error aside)
    assert diff(film.frames[0], film.frames[16]) > 10  # through 3.0 in the middle
    assert math.isclose(plan_json(film.script)["timeline"]["scenes"][0]["layers"][0]["zoom"][1], 3.0)
