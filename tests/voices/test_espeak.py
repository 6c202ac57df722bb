"""voice.espeak: eSpeak NG from the espeakng-loader wheel speaks real words, deterministically."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from nyeshc.backends import espeak, registry  # noqa: E402
from nyeshc.backends.base import SAMPLE_RATE, BackendError, VoiceBackend  # noqa: E402

ARGS = {"pitch": 1.0, "rate": 1.0, "lang": "en"}


@pytest.fixture(scope="module")
def voice() -> espeak.ESpeakVoice:
    return registry.load("voice.espeak")


def test_registered_and_implements_the_voice_protocol(voice) -> None:  # noqa: ANN001
    assert isinstance(voice, VoiceBackend) and voice.id == "voice.espeak"


def test_speech_like(voice) -> None:  # noqa: ANN001
    a = voice.speak("The names are gone, but we remember the river.", seed=0, **ARGS)
    assert a.dtype == np.float32 and a.ndim == 2 and a.shape[1] == 1
    x = a[:, 0].astype(np.float64)
    assert 0.2 < np.max(np.abs(x)) <= 1.0
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    band = spectrum[(freqs >= 100) & (freqs <= 4000)].sum()
    assert band / spectrum.sum() > 0.8  # voiced energy where speech lives
    # a voice: frames with energy have a pitch period between 70 and 400 Hz (autocorrelation)
    frame = 2048
    voiced = 0
    loud = 0
    for i in range(0, len(x) - frame, frame):
        f = x[i:i + frame] - x[i:i + frame].mean()
        if np.sqrt(np.mean(f ** 2)) < 0.02:
            continue
        loud += 1
        ac = np.correlate(f, f, "full")[frame - 1:]
        lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 70
        if ac[lo:hi].max() > 0.3 * ac[0]:
            voiced += 1
    assert loud >= 5 and voiced / loud > 0.5


def test_length_grows_with_text_and_duration_is_exact(voice) -> None:  # noqa: ANN001
    short = voice.duration("Hello.", **ARGS)
    longer = voice.duration("Hello. We will speak again tomorrow, by the river.", **ARGS)
    assert 0.2 < short < longer
    a = voice.speak("Hello.", seed=3, **ARGS)
    assert len(a) == round(short * SAMPLE_RATE) and len(a) / SAMPLE_RATE == short


def test_rate_and_pitch_and_lang(voice) -> None:  # noqa: ANN001
    text = "One two three four five."
    assert voice.duration(text, pitch=1.0, rate=1.5, lang="en") < voice.duration(text, **ARGS)
    base = voice.speak(text, seed=0, **ARGS)
    assert not np.array_equal(voice.speak(text, seed=0, pitch=1.5, rate=1.0, lang="en"), base)
    assert not np.array_equal(voice.speak(text, seed=0, pitch=1.0, rate=1.0, lang="de"), base)
    with pytest.raises(BackendError, match="no voice 'xx-nowhere'"):
        voice.speak(text, seed=0, pitch=1.0, rate=1.0, lang="xx-nowhere")


def _digest(text: str) -> str:
    a = registry.load("voice.espeak").speak(text, seed=0, **ARGS)
    return hashlib.sha256(a.tobytes()).hexdigest()


def test_identical_bytes_on_rerun_whatever_was_spoken_before(voice) -> None:  # noqa: ANN001
    text = "Hello there. The names are gone."
    first = _digest(text)
    espeak._synthesise.cache_clear()
    voice.speak("Something else entirely, at another pitch.", seed=0, pitch=1.4, rate=0.8, lang="en-gb")
    espeak._synthesise.cache_clear()
    assert _digest(text) == first
    # and in a fresh process (the planner and the executor are different processes)
    code = ("import hashlib; from nyeshc.backends import registry; "
            f"a = registry.load('voice.espeak').speak({text!r}, seed=0, pitch=1.0, rate=1.0, lang='en'); "
            "print(hashlib.sha256(a.tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == first


def test_word_and_phoneme_timings(voice) -> None:  # noqa: ANN001
    text = "Hello world. The names are gone."
    n = len(voice.speak(text, seed=0, **ARGS))
    events = voice.events(text, **ARGS)
    words = [e for e in events if e.kind == "word"]
    assert [w.text for w in words] == ["Hello", "world", "The", "names", "are", "gone"]
    assert [w.sample for w in words] == sorted(w.sample for w in words)
    assert all(0 <= e.sample <= n for e in events)
    phonemes = [e for e in events if e.kind == "phoneme"]
    assert len(phonemes) > 10 and words[1].sample > words[0].sample + 4800
