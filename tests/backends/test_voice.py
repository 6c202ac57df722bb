"""AsemicVoice: exact timing plan, determinism, levels, spectrum, pitch, pauses, protocol."""

from __future__ import annotations

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import SAMPLE_RATE, VoiceBackend
from nyeshc.backends.procedural import formant
from nyeshc.backends.procedural.voice import AsemicVoice, _plan

SR = SAMPLE_RATE
TEXT = "The lamps are out. Where did you go?"


@pytest.fixture(scope="module")
def voice() -> AsemicVoice:
    return AsemicVoice()


@pytest.fixture(scope="module")
def spoken(voice: AsemicVoice) -> np.ndarray:
    return voice.speak(TEXT, pitch=1.0, rate=1.0, lang="en", seed=7)


def test_protocol_and_registry() -> None:
    v = registry.load("voice.procedural")
    assert isinstance(v, AsemicVoice)
    assert isinstance(v, VoiceBackend)
    assert v.id == "voice.procedural" and v.version == "1" and v.modality == "voice"
    assert v.cost.per_audio_second > 0
    s = dict(v.settings)
    assert AsemicVoice(**s).settings == s
    import json

    json.dumps(s)


def test_shape_dtype_and_exact_length(voice: AsemicVoice, spoken: np.ndarray) -> None:
    assert spoken.dtype == np.float32 and spoken.ndim == 2 and spoken.shape[1] == 1
    assert spoken.shape[0] == round(voice.duration(TEXT, pitch=1.0, rate=1.0, lang="en") * SR)
    for text, pitch, rate in [("a", 1.0, 1.0), ("Hm, well... yes!", 0.8, 1.3), ("", 1.0, 1.0), ("???", 1.2, 0.7)]:
        a = voice.speak(text, pitch=pitch, rate=rate, lang="xx", seed=1)
        assert a.shape == (round(voice.duration(text, pitch=pitch, rate=rate, lang="xx") * SR), 1)


def test_deterministic(voice: AsemicVoice, spoken: np.ndarray) -> None:
    again = AsemicVoice().speak(TEXT, pitch=1.0, rate=1.0, lang="en", seed=7)
    assert again.tobytes() == spoken.tobytes()
    other = voice.speak(TEXT, pitch=1.0, rate=1.0, lang="en", seed=8)
    assert other.shape == spoken.shape and other.tobytes() != spoken.tobytes()


def test_lang_ignored(voice: AsemicVoice, spoken: np.ndarray) -> None:
    assert voice.speak(TEXT, pitch=1.0, rate=1.0, lang="fr", seed=7).tobytes() == spoken.tobytes()


def test_length_grows_with_text_and_shrinks_with_rate(voice: AsemicVoice) -> None:
    d = [voice.duration("word " * k, pitch=1.0, rate=1.0, lang="en") for k in (1, 3, 9)]
    assert d[0] < d[1] < d[2]
    slow = voice.duration(TEXT, pitch=1.0, rate=0.8, lang="en")
    fast = voice.duration(TEXT, pitch=1.0, rate=1.5, lang="en")
    assert fast < voice.duration(TEXT, pitch=1.0, rate=1.0, lang="en") < slow
    assert voice.duration(TEXT, pitch=0.7, rate=1.0, lang="en") == voice.duration(TEXT, pitch=1.3, rate=1.0, lang="en")


def test_levels(spoken: np.ndarray) -> None:
    x = spoken[:, 0].astype(np.float64)
    peak = np.max(np.abs(x))
    assert peak <= 1.0
    assert abs(20 * np.log10(peak) + 3.0) < 0.1  # normalised to -3 dBFS
    assert abs(np.mean(x)) < 1e-3  # no DC
    # no clicks: the largest sample step stays far below the peak
    assert np.max(np.abs(np.diff(x))) < 0.6 * peak


def test_energy_in_speech_band(spoken: np.ndarray) -> None:
    x = spoken[:, 0].astype(np.float64)
    f = np.fft.rfftfreq(x.size, 1 / SR)
    p = np.abs(np.fft.rfft(x)) ** 2
    band = p[(f >= 100) & (f <= 4000)].sum() / p.sum()
    assert band > 0.8
    assert p[f > 1000].sum() / p.sum() > 0.01  # not a hum: formants and fricatives up there


def _median_f0(x: np.ndarray) -> float:
    frame = 2048
    f0s = []
    energy = np.array([np.sum(x[i:i + frame] ** 2) for i in range(0, x.size - frame, frame)])
    for k in np.flatnonzero(energy > 0.3 * energy.max()):
        seg = x[k * frame:(k + 1) * frame]
        seg = seg - seg.mean()
        ac = np.correlate(seg, seg, "full")[frame - 1:]
        lo, hi = SR // 400, SR // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0s.append(SR / lag)
    assert f0s
    return float(np.median(f0s))


@pytest.mark.parametrize("pitch", [0.8, 1.25])
def test_fundamental_follows_pitch(voice: AsemicVoice, pitch: float) -> None:
    x = voice.speak("Many long vowels arrive along the lonely avenue.", pitch=pitch, rate=1.0, lang="en",
                    seed=3)[:, 0].astype(np.float64)
    f0 = _median_f0(x)
    assert abs(f0 / (voice.base_f0 * pitch) - 1.0) < 0.2


def test_silence_between_sentences(voice: AsemicVoice, spoken: np.ndarray) -> None:
    plan = _plan(TEXT, 1.0, voice.language, voice.breaths)
    assert len(plan.sentence_spans) == 2
    end_first, start_second = plan.sentence_spans[0][1], plan.sentence_spans[1][0]
    assert start_second - end_first > 0.3 * SR
    x = spoken[:, 0].astype(np.float64)
    speech_rms = np.sqrt(np.mean(x[plan.sentence_spans[0][0]:end_first] ** 2))
    gap = x[end_first + int(0.08 * SR):end_first + int(0.2 * SR)]  # after the decay, before the breath
    assert np.sqrt(np.mean(gap ** 2)) < 0.03 * speech_rms


def test_asemic_words_are_stable() -> None:
    a = formant.asemic_sentences("Hello world. Hello again?", 0)
    assert [s.mark for s in a] == [".", "?"]
    assert a[0].words[0] == a[1].words[0]  # same word, same asemic word
    assert formant.asemic_sentences("Hello world.", 0) == formant.asemic_sentences("Hello world.", 0)
    assert formant.asemic_sentences("Hello world.", 0) != formant.asemic_sentences("Hello world.", 1)
    assert formant.asemic_sentences("  ...  ", 0) == []


def test_bad_arguments(voice: AsemicVoice) -> None:
    from nyeshc.backends.base import BackendError

    with pytest.raises(BackendError):
        voice.duration("x", pitch=0.0, rate=1.0, lang="en")
    with pytest.raises(BackendError):
        voice.speak("x", pitch=1.0, rate=-1.0, lang="en", seed=0)
