"""nyeshc.media: recognising, probing and decoding recordings (and a video's soundtrack).

Every file is made here by the bundled ffmpeg (``imageio_ffmpeg.get_ffmpeg_exe()``) from a
generated sine, or by Python's ``wave`` module, in the formats a script may name: WAV (8-bit,
16-bit, 24-bit, 32-bit integer and float), AIFF, FLAC, MP3, Ogg (Vorbis, Opus), M4A (AAC) and
MP4, in mono, stereo and 5.1. Each is probed (duration within a frame, channels, sample rate) and decoded
(48 kHz float32; the sine's level and its frequency from the FFT peak).
"""

from __future__ import annotations

import hashlib
import math
import struct
import subprocess
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from execute_fakes import job
from imageio_ffmpeg import get_ffmpeg_exe

from nyeshc import media
from nyeshc.backends.base import BackendError
from nyeshc.check.assets import sniff as check_sniff
from nyeshc.execute.ops import _audio_channels, run_job

SECONDS = 2.5
AMPLITUDE = 0.5
FRAME = Fraction(1, 24)  # "within a frame": one frame of a 24 fps film


@dataclass(frozen=True)
class Case:
    name: str  # the file name (its extension is only a name: the bytes decide)
    codec: list[str]  # ffmpeg output options
    channels: int
    rate: int
    layout: str  # "mono", "stereo", "5.1"
    demuxer: str
    exact: bool = False  # duration from the header, to the sample
    lossy: bool = False


CASES = [
    Case("s16-mono-48k.wav", ["-c:a", "pcm_s16le"], 1, 48_000, "mono", "wav", exact=True),
    Case("s24-stereo-44k.wav", ["-c:a", "pcm_s24le"], 2, 44_100, "stereo", "wav", exact=True),
    Case("f32-stereo-48k.wav", ["-c:a", "pcm_f32le"], 2, 48_000, "stereo", "wav", exact=True),
    Case("u8-mono-22k.wav", ["-c:a", "pcm_u8"], 1, 22_050, "mono", "wav", exact=True),
    Case("s32-stereo-96k.wav", ["-c:a", "pcm_s32le"], 2, 96_000, "stereo", "wav", exact=True),
    Case("s16-51-48k.wav", ["-c:a", "pcm_s16le"], 6, 48_000, "5.1", "wav", exact=True),
    Case("stereo-44k.flac", ["-c:a", "flac"], 2, 44_100, "stereo", "flac", exact=True),
    Case("51-48k.flac", ["-c:a", "flac"], 6, 48_000, "5.1", "flac", exact=True),
    Case("s16-stereo-44k.aiff", ["-c:a", "pcm_s16be"], 2, 44_100, "stereo", "aiff"),
    Case("stereo-44k.mp3", ["-c:a", "libmp3lame", "-b:a", "192k"], 2, 44_100, "stereo", "mp3", lossy=True),
    # no ID3 tag: the file starts with an MPEG audio frame
    Case("mono-48k-bare.mp3", ["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "0", "-write_id3v1", "0"],
         1, 48_000, "mono", "mp3", lossy=True),
    Case("stereo-44k.ogg", ["-c:a", "libvorbis", "-q:a", "5"], 2, 44_100, "stereo", "ogg", lossy=True),
    Case("mono-48k.opus", ["-c:a", "libopus", "-b:a", "96k"], 1, 48_000, "mono", "ogg", lossy=True),
    Case("51-48k.opus", ["-c:a", "libopus", "-b:a", "256k"], 6, 48_000, "5.1", "ogg", lossy=True),
    Case("mono-44k.m4a", ["-c:a", "aac", "-b:a", "128k"], 1, 44_100, "mono", "mov", lossy=True),
    Case("stereo-48k.m4a", ["-c:a", "aac", "-b:a", "192k"], 2, 48_000, "stereo", "mov", lossy=True),
    Case("51-48k.m4a", ["-c:a", "aac", "-b:a", "384k"], 6, 48_000, "5.1", "mov", lossy=True),
]

# stereo: left 1 kHz, right 1.5 kHz (so a swap shows); mono and 5.1: 1 kHz in every channel
LEFT_HZ, RIGHT_HZ = 1000.0, 1500.0


def ffmpeg(*args: str) -> None:
    subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                   check=True, capture_output=True)


def _source(layout: str, rate: int) -> list[str]:
    """A lavfi sine of ``SECONDS`` at ``rate`` Hz in ``layout``."""
    one = f"{AMPLITUDE}*sin(2*PI*{LEFT_HZ:g}*t)"
    if layout == "stereo":
        exprs = f"{one}|{AMPLITUDE}*sin(2*PI*{RIGHT_HZ:g}*t)"
    else:
        exprs = "|".join([one] * (1 if layout == "mono" else 6))
    return ["-f", "lavfi", "-i", f"aevalsrc={exprs}:s={rate}:d={SECONDS}:c={layout}"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    out: dict[str, Path] = {}
    for case in CASES:
        path = folder / case.name
        ffmpeg(*_source(case.layout, case.rate), *case.codec, str(path))
        out[case.name] = path
    return out


def peak_hz(x: np.ndarray, rate: int = media.SAMPLE_RATE) -> float:
    """The frequency of the strongest FFT bin (Hann window; bins of 1 Hz over one second),
    refined by a parabola through the peak and its neighbours."""
    mid = len(x) // 2
    seg = x[mid - rate // 2: mid + rate // 2].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1: k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(seg)


def rms(x: np.ndarray) -> float:
    mid = len(x) // 2
    seg = x[mid - 12_000: mid + 12_000].astype(np.float64)  # away from codec edges
    return float(np.sqrt(np.mean(seg**2)))


# --------------------------------------------------------------------------- probe and decode


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_probe(files: dict[str, Path], case: Case) -> None:
    path = files[case.name]
    found = media.probe(path)
    assert found.format.demuxer == case.demuxer
    assert "audio" in found.format.kinds
    assert found.audio is not None and not found.video
    assert found.audio.channels == case.channels
    assert found.audio.layout == case.layout
    assert found.audio.sample_rate == (48_000 if found.audio.codec == "opus" else case.rate)
    assert found.duration is not None
    if case.exact:
        assert found.duration == Fraction(SECONDS)
    else:
        assert abs(found.duration - Fraction(SECONDS)) < FRAME, float(found.duration)
    assert media.duration(path) == found.duration
    assert media.has_audio(path)
    assert media.audio_channels(path) == case.channels
    assert media.input_args(path) == ["-f", case.demuxer, "-i", str(path)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_decode(files: dict[str, Path], case: Case) -> None:
    audio = media.decode_audio(files[case.name])
    want = 1 if case.channels == 1 else 2
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == want
    assert abs(len(audio) - SECONDS * media.SAMPLE_RATE) < media.SAMPLE_RATE / 24, len(audio)
    assert float(np.abs(audio).max()) <= 1.0
    # the sine's level: amplitude / sqrt(2) per channel (a 5.1 downmix of six equal sines is
    # normalised back to full level), within 0.1 dB, or 1 dB for a lossy codec (LAME at 128 kb/s
    # loses a steady 0.45 dB on this sine, at 192 kb/s 0.26 dB)
    tolerance = 10 ** ((1.0 if case.lossy else 0.1) / 20)
    expected = AMPLITUDE / math.sqrt(2)
    for ch in range(want):
        level = rms(audio[:, ch])
        assert expected / tolerance < level < expected * tolerance, (ch, level)
    hz = [peak_hz(audio[:, ch]) for ch in range(want)]
    assert abs(hz[0] - LEFT_HZ) < 1.0, hz
    if case.layout == "stereo":
        assert abs(hz[1] - RIGHT_HZ) < 1.0, hz  # left stays left
    elif want == 2:
        inner = slice(4_800, len(audio) - 4_800)  # a lossy codec's first frames differ per channel
        assert np.allclose(audio[inner, 0], audio[inner, 1], atol=0.02)  # the downmix of equal channels
    if not case.lossy:  # lossless: the sine itself, resampled
        t = np.arange(len(audio)) / media.SAMPLE_RATE
        ref = AMPLITUDE * np.sin(2 * np.pi * LEFT_HZ * t)
        inner = slice(4_800, len(audio) - 4_800)  # away from the resampler's edges
        step = 2.0 / 255 if case.name.startswith("u8") else 1e-3
        assert float(np.abs(audio[inner, 0] - ref[inner]).max()) < step + 2e-3


def test_decode_mono_and_stereo_on_request(files: dict[str, Path]) -> None:
    stereo = media.decode_audio(files["s16-mono-48k.wav"], channels=2)
    assert stereo.shape[1] == 2 and np.allclose(stereo[:, 0], stereo[:, 1])
    mono = media.decode_audio(files["stereo-44k.flac"], channels=1, rate=16_000)
    assert mono.shape == (SECONDS * 16_000, 1)


# --------------------------------------------------------------------------- the regression


def _sine_wav(path: Path, amplitude: float, rate: int = 48_000, seconds: float = 2.0) -> None:
    """A 16-bit mono WAV of a 1 kHz sine as Python's ``wave`` module writes it (samples
    truncated to int16, as ``int()`` does)."""
    frames = b"".join(struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * 1000 * n / rate)))
                      for n in range(int(rate * seconds)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_wav_that_looks_like_mpeg_ts_is_read_as_wav(tmp_path: Path) -> None:
    """Its 96-byte period repeats every 192 bytes, where ffmpeg's MPEG-TS probe (M2TS packets)
    finds sync bytes; unforced, the bundled ffmpeg opens it as MPEG-TS and finds no stream.
    The check calls it a WAV recording, and so does the build."""
    path = tmp_path / "tone.wav"
    _sine_wav(path, 0.75)
    assert check_sniff(path.read_bytes()[:64]) == ("a WAV recording", frozenset({"audio"}))
    found = media.probe(path)
    assert found.format.demuxer == "wav"
    assert found.audio is not None and found.audio.channels == 1 and found.audio.sample_rate == 48_000
    assert found.duration == 2
    assert _audio_channels(path) == 1
    j = job("asset.audio", "", {"path": str(path), "sha256": _sha(path)}, output="audio", name="music TONE")
    audio = run_job(j, [])
    assert audio.shape == (96_000, 1)
    assert abs(peak_hz(audio[:, 0]) - 1000) < 1.0
    assert abs(rms(audio[:, 0]) - 0.75 / math.sqrt(2)) < 0.01


# --------------------------------------------------------------------------- video files


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    picture = ["-f", "lavfi", "-i", f"testsrc=size=32x24:rate=10:duration={SECONDS}"]
    silent, sound = folder / "silent.mp4", folder / "sound.mp4"
    ffmpeg(*picture, "-c:v", "mpeg4", str(silent))
    ffmpeg(*picture, *_source("stereo", 48_000), "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4",
           "-c:a", "aac", "-b:a", "192k", "-shortest", str(sound))
    return {"silent": silent, "sound": sound}


def test_a_video_with_sound_decodes_through_the_same_path(videos: dict[str, Path]) -> None:
    path = videos["sound"]
    found = media.probe(path)
    assert found.format.demuxer == "mov" and found.video
    assert found.audio is not None and found.audio.channels == 2
    assert media.has_audio(path)
    assert found.duration is not None and abs(found.duration - Fraction(SECONDS)) < FRAME
    audio = media.decode_audio(path)
    assert audio.shape[1] == 2 and abs(len(audio) - SECONDS * 48_000) < 48_000 / 24
    assert abs(peak_hz(audio[:, 0]) - LEFT_HZ) < 1.0 and abs(peak_hz(audio[:, 1]) - RIGHT_HZ) < 1.0
    j = job("asset.audio", "", {"path": str(path), "sha256": _sha(path)}, output="audio", name="show clip")
    assert run_job(j, []).shape == audio.shape


def test_a_silent_video_has_no_audio_and_says_so(videos: dict[str, Path]) -> None:
    path = videos["silent"]
    found = media.probe(path)
    assert found.video and found.audio is None
    assert not media.has_audio(path)
    assert media.duration(path) == Fraction(SECONDS)  # from its frames
    with pytest.raises(media.MediaError, match="has no audio stream: it is an MP4 file with video only"):
        media.decode_audio(path)
    j = job("asset.audio", "", {"path": str(path), "sha256": _sha(path)}, output="audio", name="show clip")
    with pytest.raises(BackendError, match=r"show clip.*silent\.mp4' has no audio stream: it is an MP4 file"):
        run_job(j, [])


# --------------------------------------------------------------------------- what is not media


def test_not_media(tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("not a recording\n")
    assert media.identify_file(text).description == "text" and media.input_args(text) == ["-i", str(text)]
    assert not media.has_audio(text)
    assert media.duration(text) is None
    with pytest.raises(media.MediaError, match="notes.wav' has no audio stream ffmpeg can read"):
        media.decode_audio(text)
    missing = tmp_path / "missing.flac"
    assert not media.has_audio(missing) and media.duration(missing) is None
    with pytest.raises(media.MediaError, match="cannot read"):
        media.probe(missing)
    # a WAV header with nothing after it
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    with pytest.raises(media.MediaError):
        media.decode_audio(broken)


@pytest.mark.parametrize(("head", "description", "demuxer"), [
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "a WAV recording", "wav"),
    (b"RF64\xff\xff\xff\xffWAVEds64", "a WAV recording", "wav"),
    (b"fLaC\x00\x00\x00\x22", "a FLAC recording", "flac"),
    (b"OggS\x00\x02", "an Ogg recording", "ogg"),
    (b"FORM\x00\x00\x00\x00AIFF", "an AIFF recording", "aiff"),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00", "an M4A recording", "mov"),
    (b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00", "an MP4 file", "mov"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "a WebM/Matroska file", "matroska"),
    (b"\xff\xfb\x90\x64\x00", "an MP3 recording", "mp3"),  # MPEG-1 layer III, 128 kb/s, 44.1 kHz
    (b"\xff\xfb\xf0\x64\x00", "an MP3 recording", None),  # bitrate index 15: not certain
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "an MP3 recording", None),  # what follows the tag: unknown here
    (b"\x89PNG\r\n\x1a\n", "a PNG image", None),
])
def test_identify(head: bytes, description: str, demuxer: str | None) -> None:
    found = media.identify(head)
    assert (found.description, found.demuxer) == (description, demuxer)
    assert check_sniff(head) == (found.description, found.kinds)


def test_identify_file_looks_past_an_id3_tag(tmp_path: Path, files: dict[str, Path]) -> None:
    mp3 = files["stereo-44k.mp3"]
    assert mp3.read_bytes()[:3] == b"ID3"
    assert media.identify_file(mp3).demuxer == "mp3"
    # a FLAC stream behind an ID3 tag (some taggers write one)
    tagged = tmp_path / "tagged.flac"
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
    tagged.write_bytes(tag + files["stereo-44k.flac"].read_bytes())
    found = media.identify_file(tagged)
    assert (found.description, found.demuxer) == ("a FLAC recording", "flac")


def test_the_planner_services_read_media_through_this_module(files: dict[str, Path],
                                                            videos: dict[str, Path]) -> None:
    from nyeshc.commands.services import RegistryServices
    from nyeshc.config import animatic_profile

    svc = RegistryServices(animatic_profile())
    assert svc.media_duration(str(files["f32-stereo-48k.wav"])) == Fraction(SECONDS)  # the wave module could not
    assert svc.media_duration(str(videos["silent"])) == Fraction(SECONDS)
    assert svc.has_audio(str(videos["sound"])) and not svc.has_audio(str(videos["silent"]))
