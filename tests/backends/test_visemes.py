"""Visemes (#18): the puppet's mouth says the phonemes its voice reports, measured from pixels.

The opening is measured as the area of the mouth's dark cavity in a box around the portrait's
mouth (pixels darker than half the box's median at rest), on a puppet with ``head_motion=0`` so
that the box stays on the mouth; the expected openness is :func:`visemes.curves` of the line's
phonemes. The same measure on the loudness-driven mouth (no phonemes) is the control: it must
correlate clearly worse, or the measure would say nothing about visemes.
"""

from __future__ import annotations

import doctest
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nyeshc.backends.base import SAMPLE_RATE, BackendError, Phonemes, Portrait
from nyeshc.backends.procedural import visemes
from nyeshc.backends.procedural.puppet import WIDTH_RANGE, PuppetMotion, PuppetPortrait
from nyeshc.backends.procedural.voice import AsemicVoice
from nyeshc.execute import ops
from nyeshc.execute.ops import run_job
from nyeshc.plan.model import Job

FPS = 24.0
SIZE = 256
TEXT = "My father built a boat of wood and rope, and we sailed away."


def _espeak() -> Any:
    pytest.importorskip("espeakng_loader", reason="eSpeak NG (the espeakng-loader wheel) is not installed")
    from nyeshc.backends.espeak import ESpeakVoice

    voice = ESpeakVoice()
    try:
        voice.duration("a", pitch=1.0, rate=1.0, lang="en")
    except BackendError as exc:  # the wheel is there but its library does not load here
        pytest.skip(f"eSpeak NG does not run here: {exc}")
    return voice


@pytest.fixture(scope="module")
def face() -> Portrait:
    pp = PuppetPortrait()
    return pp.portrait(pp.sample(6), SIZE)


def _opening(frames: np.ndarray, face: Portrait) -> np.ndarray:
    """Per frame: how many pixels of the mouth box are cavity-dark."""
    mx, my = face.mouth
    r = frames.shape[1] / 256
    box = frames[:, int(my - 14 * r):int(my + 22 * r), int(mx - 28 * r):int(mx + 28 * r), :3].astype(np.float64)
    lum = box @ np.array([0.299, 0.587, 0.114])
    return (lum < 0.45 * np.median(lum[0])).sum(axis=(1, 2)).astype(np.float64)


def _speak(voice: Any, face: Portrait) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames with visemes, frames following loudness, expected openness) for TEXT."""
    audio = voice.speak(TEXT, pitch=1.0, rate=1.0, lang="en", seed=1)
    said = voice.phonemes(TEXT, pitch=1.0, rate=1.0, lang="en")
    assert said.samples == len(audio)
    n = int(len(audio) / SAMPLE_RATE * FPS)
    motion = PuppetMotion(head_motion=0.0)
    with_visemes = motion.lipsync(face, audio, FPS, n, seed=3, speech=[(0, said)])
    loudness = motion.lipsync(face, audio, FPS, n, seed=3)
    expected = visemes.curves([(0, said)], FPS, n)[0]
    return with_visemes, loudness, expected


@pytest.mark.parametrize("voice", ["tts", "asemic"])
def test_the_mouth_opening_follows_the_visemes(voice: str, face: Portrait) -> None:
    backend = _espeak() if voice == "tts" else AsemicVoice()
    frames, loudness, expected = _speak(backend, face)
    got = np.corrcoef(_opening(frames, face), expected)[0, 1]
    control = np.corrcoef(_opening(loudness, face), expected)[0, 1]
    assert got > 0.8, (voice, got)
    assert got > control + 0.15, (voice, got, control)  # the measure tells visemes from loudness


def test_lip_closures_close_the_mouth() -> None:
    """A voiced /m/ between open vowels is loud, but the lips shut: its dominance wins."""
    said = Phonemes("asemic", ((0, "_"), (4800, "a"), (14400, "m"), (16800, "a"), (26400, "_")), 38400)
    o = visemes.curves([(0, said)], 100.0, 80)[0]  # 10 ms frames: vowels 100-300 and 350-550 ms
    assert o[12:28].max() > 0.8 and o[37:53].max() > 0.8  # the vowels open
    assert o[30:35].max() < 0.1  # the short /m/ (50 ms) between them closes the lips


@pytest.mark.parametrize("voice", ["tts", "asemic"])
def test_coarticulation_has_no_pops(voice: str) -> None:
    """From shape to shape the openness moves at most half the full opening per frame at 24 fps
    (a full opening or closure takes two frames or more), and the lip width at most half its
    range, where the viseme targets themselves jump by (nearly) the whole opening."""
    backend = _espeak() if voice == "tts" else AsemicVoice()
    worst = 0.0
    raw_worst = 0.0
    for text in (TEXT, "Nyeshkerh. The names are gone!", "Ma pa ba, ama opa?"):
        for rate in (1.0, 1.3):
            said = backend.phonemes(text, pitch=1.0, rate=rate, lang="en")
            n = int(said.samples / SAMPLE_RATE * FPS)
            o, w, _, _ = visemes.curves([(0, said)], FPS, n)
            worst = max(worst, float(np.abs(np.diff(o)).max()),
                        float(np.abs(np.diff(w)).max()) / (WIDTH_RANGE[1] - WIDTH_RANGE[0]))
            # the targets without coarticulation: each frame's centre takes its segment's shape
            centres = ((np.arange(n) + 0.5) / FPS * SAMPLE_RATE).astype(int)
            segs = visemes.viseme_segments(said)
            raw = np.array([visemes.VISEMES[next(v for s, e, v in segs if s <= c < e)].openness
                            if c < said.samples else 0.0 for c in centres])
            raw_worst = max(raw_worst, float(np.abs(np.diff(raw)).max()))
    assert worst <= 0.5, worst
    assert raw_worst >= 0.9, raw_worst


def test_the_pixels_do_not_pop(face: Portrait) -> None:
    frames, _, _ = _speak(AsemicVoice(), face)
    area = _opening(frames, face)
    jumps = np.abs(np.diff(area / area.max()))
    assert jumps.max() <= 0.45, jumps.max()


def test_visemes_are_deterministic(face: Portrait) -> None:
    voice = AsemicVoice()
    said = voice.phonemes(TEXT, pitch=1.0, rate=1.0, lang="")
    assert said == AsemicVoice().phonemes(TEXT, pitch=1.0, rate=1.0, lang="")
    audio = voice.speak(TEXT, pitch=1.0, rate=1.0, lang="", seed=2)
    small = PuppetPortrait().portrait(PuppetPortrait().sample(6), 64)
    a = PuppetMotion().lipsync(small, audio, FPS, 40, seed=5, speech=[(2400, said)])
    b = PuppetMotion().lipsync(small, audio, FPS, 40, seed=5, speech=[(2400, said)])
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != PuppetMotion().lipsync(small, audio, FPS, 40, seed=5).tobytes()
    # the neutral lip shape is the loudness-driven one exactly: no speech, no change
    assert PuppetMotion().lipsync(small, audio, FPS, 40, seed=5, speech=[]).tobytes() == \
        PuppetMotion().lipsync(small, audio, FPS, 40, seed=5).tobytes()
    # mouth 0 still means the frames of silence, visemes or not
    assert PuppetMotion().lipsync(small, audio, FPS, 40, seed=5, mouth=0, speech=[(0, said)]).tobytes() == \
        PuppetMotion().lipsync(small, np.zeros_like(audio), FPS, 40, seed=5).tobytes()


def test_espeak_phonemes_are_its_own_events() -> None:
    voice = _espeak()
    said = voice.phonemes("Hello, my friend.", pitch=1.0, rate=1.0, lang="en")
    assert said.alphabet == "espeak" and said.samples == len(voice.speak("Hello, my friend.", pitch=1.0, rate=1.0,
                                                                          lang="en", seed=9))
    starts = [s for s, _ in said.events]
    assert starts == sorted(starts) and 0 <= starts[0] and starts[-1] <= said.samples
    names = [v for _, _, v in visemes.viseme_segments(said)]
    assert "mbp" in names and "fv" in names  # m of "my", f of "friend"
    assert said == voice.phonemes("Hello, my friend.", pitch=1.0, rate=1.0, lang="en")


def test_viseme_table_and_mappings() -> None:
    assert doctest.testmod(visemes).failed == 0
    for name, v in visemes.VISEMES.items():
        assert 0.0 <= v.openness <= 1.0 and WIDTH_RANGE[0] <= v.width <= WIDTH_RANGE[1], name
    assert visemes.VISEMES["aa"].openness == 1.0 and visemes.VISEMES["mbp"].openness == 0.0
    assert visemes.VISEMES["oo"].width < 0.7 and visemes.VISEMES["ee"].width > 1.1
    from nyeshc.backends.procedural import formant

    for sym in (*formant.VOWELS, *formant.CONSONANT_SECONDS, "_", "breath"):
        assert visemes.asemic_visemes(sym) is not None, sym
    # segments cover the line without gaps, whatever it says
    said = AsemicVoice().phonemes("Sa mireth o, ilun dae!", pitch=1.0, rate=0.8, lang="")
    segs = visemes.viseme_segments(said)
    assert segs[0][0] == 0 and segs[-1][1] == said.samples
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segs))
    # an unknown alphabet is a half-open mouth, not an error
    assert visemes.viseme_segments(Phonemes("klingon", ((0, "x"),), 10)) == [(0, 10, "eh")]


# --------------------------------------------------------------------------- the executor


class _Motion:
    def __init__(self, takes_speech: bool) -> None:
        self.calls: list[dict[str, Any]] = []
        self.takes_speech = takes_speech

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int, seed: int,
                progress: Any = None, *, out: np.ndarray | None = None, **kw: Any) -> np.ndarray:
        self.calls.append(kw)
        return np.zeros((frames, 8, 8, 4), np.uint8)


class _OldMotion:
    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int, seed: int,
                progress: Any = None, *, out: np.ndarray | None = None) -> np.ndarray:
        return np.zeros((frames, 8, 8, 4), np.uint8)


SPEECH = [{"at": 480, "voice": "voice.procedural", "version": AsemicVoice.version,
           "settings": dict(AsemicVoice().settings), "text": "Nyeshkerh.", "pitch": 1.0, "rate": 1.0,
           "lang": "asemic"}]


def _lipsync_job(backend: str, version: str, **params: Any) -> Job:
    return Job(key="k" * 64, kind="motion.lipsync", backend=backend, backend_version=version, settings={},
               params={"fps": 12, "frames": 6, **params}, inputs=("p", "v"), seed=1, output="frames",
               name="a / b")


def _recording(monkeypatch: pytest.MonkeyPatch) -> tuple[_Motion, Portrait, np.ndarray]:
    """A motion backend that records its calls in place of every lip-sync job's, a tiny
    portrait and a second of silence to call it with."""
    small = Portrait(image=np.zeros((8, 8, 4), np.uint8), mouth=(4.0, 6.0), face_box=(1.0, 1.0, 7.0, 7.0))
    rec = _Motion(True)
    real = ops._backend
    monkeypatch.setattr(ops, "_backend", lambda job: rec if job.kind == "motion.lipsync" else real(job))
    return rec, small, np.zeros((SAMPLE_RATE, 1), np.float32)


def test_the_op_asks_the_voice_backend_for_phonemes(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ops._backend
    rec, small, voice = _recording(monkeypatch)
    run_job(_lipsync_job("fake.motion", "", speech=SPEECH), [small, voice])
    (call,) = rec.calls
    ((at, said),) = call["speech"]
    assert at == 480 and said == AsemicVoice().phonemes("Nyeshkerh.", pitch=1.0, rate=1.0, lang="asemic")
    # a backend written before visemes is called without them
    old = _OldMotion()
    monkeypatch.setattr(ops, "_backend", lambda job: old if job.kind == "motion.lipsync" else real(job))
    assert run_job(_lipsync_job("fake.motion", "", speech=SPEECH), [small, voice]).shape == (6, 8, 8, 4)
    # a voice backend of another version than the plan's is refused, as any job's would be
    stale = [dict(SPEECH[0], version="0")]
    monkeypatch.setattr(ops, "_backend", lambda job: rec if job.kind == "motion.lipsync" else real(job))
    with pytest.raises(BackendError, match="version"):
        run_job(_lipsync_job("fake.motion", "", speech=stale), [small, voice])


def test_the_real_op_changes_the_frames_and_stays_deterministic() -> None:
    pp = PuppetPortrait()
    small = pp.portrait(pp.sample(4), 48)
    voice = AsemicVoice().speak("Nyeshkerh.", pitch=1.0, rate=1.0, lang="", seed=0)
    pad = np.zeros((SAMPLE_RATE, 1), np.float32)
    pad[480:480 + len(voice)] = voice[: SAMPLE_RATE - 480]
    a = run_job(_lipsync_job("motion.procedural", PuppetMotion.version, speech=SPEECH), [small, pad])
    b = run_job(_lipsync_job("motion.procedural", PuppetMotion.version, speech=SPEECH), [small, pad])
    plain = run_job(_lipsync_job("motion.procedural", PuppetMotion.version), [small, pad])
    assert a.tobytes() == b.tobytes() and a.tobytes() != plain.tobytes()


# --------------------------------------------------------------------------- through the planner

SCRIPT = '''title: "Talk"
canvas: 160x90, 24fps
seed: 5

character ANNA:
    portrait: generate, seed 3
    voice: {anna}
    motion: lipsync

character BORIS:
    portrait: generate, seed 6
    voice: asemic
    motion: lipsync

SCENE 1 "Shore", 4s:
    ANNA, at 0s, close-up, left:
        "My father built a boat."
    BORIS, at 2s, close-up, right:
        "Nyeshkerh a lo ven."
'''


def test_the_plan_carries_the_speech_to_the_mouth(tmp_path: Path) -> None:
    """A script's lip-sync jobs name each line's voice backend; run from the plan (no cache),
    their frames are the same twice and differ from the same jobs without the speech."""
    import argparse

    from nyeshc.commands.common import prepare

    try:
        _espeak()
        anna, voices = "tts", {"voice.espeak", "voice.procedural"}
    except pytest.skip.Exception:
        anna, voices = "asemic", {"voice.procedural"}
    script = tmp_path / "talk.nysh"
    script.write_text(SCRIPT.format(anna=anna), encoding="utf-8")
    ns = argparse.Namespace(script=str(script), config=None, profile=None, cache=str(tmp_path / "cache"),
                            quiet=True, allow_outside=False)
    plan = prepare(ns, "test").plan
    jobs = {j.key: j for j in plan.jobs}
    lipsync = [j for j in jobs.values() if j.kind == "motion.lipsync"]
    held = [j for j in lipsync if " / hold " in j.name]  # the silence after a beat's line: no speech
    assert all("speech" not in j.params for j in held)
    lipsync = [j for j in lipsync if j not in held]
    assert len({j.name.split(" / part ")[0] for j in lipsync}) == 2  # two beats (a long one drawn in parts)
    assert {e["voice"] for j in lipsync for e in j.params["speech"]} == voices

    def run(key: str, memo: dict[str, Any]) -> Any:
        if key not in memo:
            job = jobs[key]
            memo[key] = run_job(job, [run(k, memo) for k in job.inputs])
        return memo[key]

    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    beats: dict[str, list[tuple[bytes, bytes]]] = {}  # a beat's parts: (frames, frames without the speech)
    for job in lipsync:
        a, b = run(job.key, first), run(job.key, second)
        assert a.tobytes() == b.tobytes(), job.name
        mute = Job(**{**{f: getattr(job, f) for f in job.__dataclass_fields__},
                      "params": {k: v for k, v in job.params.items() if k != "speech"}})
        said = (a.tobytes(), run_job(mute, [first[k] for k in job.inputs]).tobytes())
        beats.setdefault(job.name.split(" / part ")[0], []).append(said)
    for name, parts in beats.items():  # (a part after the line has ended is the same either way)
        assert b"".join(p for p, _ in parts) != b"".join(m for _, m in parts), name


# --------------------------------------------------------------------------- songs

SONG = {"genre": "ambient", "artist": "unknown", "lyrics": "nyeshkerh a lo ven\nsa mireth o\nilun dae nyeshkerh",
        "seconds": 10.0, "seed": 3}


def test_a_song_tells_its_phones_as_it_sings_them() -> None:
    """``music.procedural``'s ``sung`` is the plan ``generate`` sings: the singer's own voice
    (before the band and the reverb) sounds inside the phones and is silent in the rests."""
    from nyeshc.backends.procedural import music as mod

    m = mod.AmbientMusic()
    said = m.sung(**SONG)
    assert said.alphabet == "asemic" and said.samples == round(SONG["seconds"] * SAMPLE_RATE)
    assert said == m.sung(**SONG)  # deterministic
    n = said.samples
    rng = mod._streams(SONG["genre"], SONG["artist"], SONG["seed"])
    song = mod.compose(mod.profile_for(SONG["genre"]), rng("compose"), n)
    vox = m._sing(SONG["lyrics"], SONG["artist"], song, mod.profile_for(SONG["genre"]), rng("voice"), n)
    spans = [(s, e, sym) for (s, sym), (e, _) in itertools.pairwise([*said.events, (n, "")])]
    margin = int(0.08 * SAMPLE_RATE)  # the formant glides' smoothing
    sung = [float(np.sqrt(np.mean(vox[s:e] ** 2))) for s, e, sym in spans if sym != "_"]
    rests = [float(np.abs(vox[s + margin:e - margin]).max()) for s, e, sym in spans
             if sym == "_" and e - s > 3 * margin]
    assert len(sung) > 12 and len(rests) >= 2
    assert np.median(sung) > 50 * max(rests), (np.median(sung), max(rests))
    # no lyrics: silence throughout; the phones do not depend on the lyrics' absence elsewhere
    assert m.sung(**{**SONG, "lyrics": ""}).events == ((0, "_"),)
    # a stated tempo: the first sung phone starts on a beat's own sample
    timed = m.sung(**SONG, tempo=90.0, meter=(4, 4))
    first = next(at for at, sym in timed.events if sym != "_")
    beat = 60 / 90 * SAMPLE_RATE
    assert abs(first / beat - round(first / beat)) * beat <= 0.5


def test_the_mouth_sings_the_song(face: Portrait) -> None:
    """A face singing along a generated cue: the opening follows the song's visemes (r > 0.8),
    where following the cue's loudness (the band's too) does clearly worse."""
    from nyeshc.backends.procedural.music import AmbientMusic

    m = AmbientMusic()
    audio = m.generate(**SONG).mean(axis=1, keepdims=True)
    said = m.sung(**SONG)
    n = int(SONG["seconds"] * FPS)
    motion = PuppetMotion(head_motion=0.0)
    frames = motion.lipsync(face, audio, FPS, n, seed=3, speech=[(0, said)])
    loudness = motion.lipsync(face, audio, FPS, n, seed=3)
    expected = visemes.curves([(0, said)], FPS, n)[0]
    got = np.corrcoef(_opening(frames, face), expected)[0, 1]
    control = np.corrcoef(_opening(loudness, face), expected)[0, 1]
    assert got > 0.8 and got > control + 0.15, (got, control)


def test_the_op_cuts_the_song_to_the_part_sung(monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.backends.procedural.music import AmbientMusic

    rec, small, voice = _recording(monkeypatch)
    m = AmbientMusic()
    start, n = 3 * SAMPLE_RATE + 77, 4 * SAMPLE_RATE
    entry = {"at": 960, "from": start, "samples": n, "music": m.id, "version": m.version, "settings": m.settings,
             "seed": SONG["seed"], "params": {k: v for k, v in SONG.items() if k != "seed"}}
    run_job(_lipsync_job("fake.motion", "", speech=[entry]), [small, voice])
    ((at, said),) = rec.calls[0]["speech"]
    whole = m.sung(**SONG)
    assert at == 960 and said.samples == n and said.alphabet == "asemic"
    # the phone sounding at `from` starts the part; the others keep their samples, shifted
    assert said.events[0] == (0, [sym for s, sym in whole.events if s <= start][-1])
    assert said.events[1:] == tuple((s - start, sym) for s, sym in whole.events if start < s < start + n)
    # a music backend that cannot tell what it sings adds nothing (that mouth follows loudness)
    rec.calls.clear()
    monkeypatch.setattr(ops, "_backend", lambda job: rec if job.kind == "motion.lipsync" else object())
    run_job(_lipsync_job("fake.motion", "", speech=[entry]), [small, voice])
    assert rec.calls[0]["speech"] == []


SINGING = '''title: "Song"
canvas: 160x90, 24fps
seed: 5

character GIRL:
    portrait: generate, seed 3
    voice: asemic
    motion: lipsync

music THEME:
    source: generate, genre "ambient", artist "unknown", length 12s, seed 3
    lyrics: "nyeshkerh a lo ven"

music TAPE:
    source: "tape.wav"

SCENE 1 "Shore", 6s:
    GIRL, at 0s, close-up, left:
        sings THEME, from 2s, for 3s
    GIRL, at 3.5s, close-up, left:
        sings TAPE, for 2s
'''


def test_the_plan_asks_the_music_backend_what_a_character_sings(tmp_path: Path) -> None:
    """A beat that sings a generated cue names the cue's backend, seed, params and the part
    sung in its lip-sync job; one that sings a recording names nothing (loudness)."""
    import argparse
    import wave

    from nyeshc.commands.common import prepare

    with wave.open(str(tmp_path / "tape.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.sin(np.arange(3 * SAMPLE_RATE) * 0.05) * 8000).astype("<i2").tobytes())
    script = tmp_path / "song.nysh"
    script.write_text(SINGING, encoding="utf-8")
    ns = argparse.Namespace(script=str(script), config=None, profile=None, cache=str(tmp_path / "cache"),
                            quiet=True, allow_outside=False)
    plan = prepare(ns, "test").plan
    lipsync = sorted((j for j in plan.jobs if j.kind == "motion.lipsync"), key=lambda j: j.name)
    assert len(lipsync) == 2
    (entry,) = lipsync[0].params["speech"]
    cue = next(j for j in plan.jobs if j.kind == "music.generate")
    assert entry["music"] == "music.procedural" and entry["seed"] == cue.seed and entry["params"] == cue.params
    assert (entry["at"], entry["from"], entry["samples"]) == (0, 2 * SAMPLE_RATE, 3 * SAMPLE_RATE)
    assert "speech" not in lipsync[1].params  # the recording: its mouth follows loudness
    # the job runs: the song's phones reach the mouth (the frames differ from loudness alone)
    jobs = {j.key: j for j in plan.jobs}
    memo: dict[str, Any] = {}

    def run(key: str) -> Any:
        if key not in memo:
            memo[key] = run_job(jobs[key], [run(k) for k in jobs[key].inputs])
        return memo[key]

    job = lipsync[0]
    mute = Job(**{**{f: getattr(job, f) for f in job.__dataclass_fields__},
                  "params": {k: v for k, v in job.params.items() if k != "speech"}})
    assert run(job.key).tobytes() != run_job(mute, [run(k) for k in job.inputs]).tobytes()
