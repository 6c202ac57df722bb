"""ESpeakVoice (``voice.espeak``): real words through eSpeak NG, the embedded ``tts`` default.

The library and its language data come from the ``espeakng-loader`` wheel (a bundled
``libespeak-ng.so`` and ``espeak-ng-data``), driven through :mod:`ctypes`, so speech works
offline on a fresh machine with no system package. eSpeak synthesises at 22 050 Hz in
synchronous retrieval mode; a callback collects the 16-bit samples and the events (sentence,
word and phoneme starts with their sample positions); the result is resampled to 48 kHz
(``resample_poly`` 320/147) and peak-limited.

eSpeak is deterministic, so the same arguments give the same bytes. :meth:`duration` must be
exact, so it synthesises and memoises (an in-process LRU keyed by the arguments); a short line
takes a few milliseconds, so the executor's process simply synthesises it again.

The library has global state (current voice, parameters, callback): every call holds
:data:`_LOCK`.

Parameters: ``pitch`` multiplies eSpeak's base pitch (50 of 0..100) and ``rate`` its speed
(``words_per_minute``, 175 by default; eSpeak accepts 80..450, so ``rate`` outside about
0.46..2.6 is clamped); ``lang`` is an eSpeak voice name (``en``, ``en-gb``, ``fr``, ``de`` …).
``seed`` is accepted for the protocol and ignored.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nyeshc import dsp
from nyeshc.backends.base import (
    SAMPLE_RATE,
    BackendError,
    CostModel,
    Phonemes,
)

__all__ = ["ESpeakVoice", "SpeechEvent"]

_LOCK = threading.RLock()

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_EVENT_NAMES = {1: "word", 2: "sentence", 3: "mark", 5: "end", 6: "msg_terminated", 7: "phoneme"}
ESPEAK_RATE = 22_050  # what espeak_Initialize reports; checked at load


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


class _VoiceSpec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True, slots=True)
class SpeechEvent:
    """A timed event of a synthesised line: ``kind`` is ``word``, ``sentence`` or ``phoneme``;
    ``sample`` is its start at 48 kHz in the array :meth:`ESpeakVoice.speak` returns; ``text``
    is the word (for words) or eSpeak's phoneme mnemonic (for phonemes)."""

    kind: str
    sample: int
    text: str


class _Engine:
    """The loaded library, initialised once per process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise BackendError("voice.espeak needs the espeakng-loader package: pip install espeakng-loader") from exc
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path()
        except (OSError, RuntimeError) as exc:
            raise BackendError(f"voice.espeak could not load eSpeak NG from espeakng-loader: {exc}") from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceSpec)]
        lib.espeak_SetVoiceByProperties.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(),
                                     _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
        if rate <= 0:
            raise BackendError(f"voice.espeak: espeak_Initialize failed with data at {data}")
        self.lib = lib
        self.rate = rate
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, str]] = []
        self._callback = _CALLBACK(self._collect)  # kept alive as long as the engine
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, n: int, events: Any) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events and events[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            e = events[i]
            kind = _EVENT_NAMES.get(e.type)
            if kind == "phoneme":
                label = bytes(e.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
            elif kind == "word":
                label = str(e.length)  # characters; resolved to the word by the caller
            else:
                label = ""
            if kind in ("word", "sentence", "phoneme"):
                self._events.append((e.type, e.sample, e.text_position, label))
            i += 1
        return 0

    def synth(self, text: str, lang: str, wpm: int, pitch: int) -> tuple[np.ndarray, list[tuple[int, int, int, str]]]:
        lib = self.lib
        # a language code ("en-gb", "pt-br") by properties, else a voice name ("en", "English_(America)")
        spec = _VoiceSpec(None, lang.lower().encode(), None, 0, 0, 0, 0, 0, None)
        if lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) != 0 and lib.espeak_SetVoiceByName(lang.encode()) != 0:
            raise BackendError(f"voice.espeak: eSpeak NG has no voice {lang!r} (try \"en\", \"en-gb\", \"fr\", \"de\")")
        lib.espeak_SetParameter(_RATE, wpm, 0)
        lib.espeak_SetParameter(_PITCH, pitch, 0)
        lib.espeak_SetParameter(_RANGE, 50, 0)
        lib.espeak_SetParameter(_VOLUME, 100, 0)
        self._chunks, self._events = [], []
        raw = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(raw)
        err = lib.espeak_Synth(buf, len(raw), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        if err != 0:
            raise BackendError(f"voice.espeak: espeak_Synth failed (error {err})")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio, list(self._events)


_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    with _LOCK:
        if _engine is None:
            _engine = _Engine()
        return _engine


def _params(pitch: float, rate: float) -> tuple[int, int]:
    wpm = int(np.clip(round(175 * float(rate)), 80, 450))
    p = int(np.clip(round(50 * float(pitch)), 0, 100))
    return wpm, p


def _synth_fresh(text: str, lang: str, wpm: int, pitch: int) -> tuple[int, np.ndarray, list[tuple[int, int, int, str]]]:
    """Synthesise in a forked child that loads eSpeak NG afresh.

    The library keeps state from one utterance to the next (the glottal phase, pitch flutter),
    so a line's samples, and even its length by a few samples, depend on what was spoken before
    it in the same process; ``espeak_Terminate`` does not reset it. A fresh process speaks every
    line as its first, so the output depends only on the arguments. Where ``fork`` is missing
    the engine runs in this process (deterministic per process history only)."""
    if not hasattr(os, "fork"):
        engine = _get_engine()
        with _LOCK:
            raw, events = engine.synth(text, lang, wpm, pitch)
        return engine.rate, raw, events
    r, w = os.pipe()
    with _LOCK:
        pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(r)
            try:
                engine = _Engine()
                raw, events = engine.synth(text, lang, wpm, pitch)
                payload = pickle.dumps(("ok", engine.rate, raw, events))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                payload, code = pickle.dumps(("error", str(exc), None, None)), 1
            view = memoryview(payload)
            while view:
                view = view[os.write(w, view):]
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as fh:
        while block := fh.read(1 << 20):
            chunks.append(block)
    os.waitpid(pid, 0)
    if not chunks:
        raise BackendError("voice.espeak: the synthesis process died without an answer")
    status, rate, raw, events = pickle.loads(b"".join(chunks))
    if status != "ok":
        raise BackendError(rate)
    return rate, raw, events


@lru_cache(maxsize=512)
def _synthesise(text: str, lang: str, wpm: int, pitch: int) -> tuple[np.ndarray, tuple[SpeechEvent, ...]]:
    rate, raw, events = _synth_fresh(text, lang, wpm, pitch)
    up, down = 320, 147  # 22050 -> 48000
    if rate != ESPEAK_RATE:
        from math import gcd

        g = gcd(SAMPLE_RATE, rate)
        up, down = SAMPLE_RATE // g, rate // g
    x = raw.astype(np.float64) / 32768.0
    y = dsp.resample_poly(x, up, down) if len(x) else x
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.89:  # about -1 dBFS at most
        y = y * (0.89 / peak)
    audio = np.clip(y, -1.0, 1.0).astype(np.float32).reshape(-1, 1)
    audio.setflags(write=False)
    timed: list[SpeechEvent] = []
    for etype, sample, pos, label in events:
        kind = _EVENT_NAMES[etype]
        at = min(len(audio), int(round(sample * up / down)))
        if kind == "word":
            # text_position is 1-based, in characters of the UTF-8 input
            start = max(0, pos - 1)
            label = text[start:start + int(label or 0)]
        timed.append(SpeechEvent(kind, at, label))
    return audio, tuple(timed)


class ESpeakVoice:
    """eSpeak NG speech at 48 kHz, mono, deterministic (see the module docstring)."""

    id = "voice.espeak"
    version = "1"
    modality = "voice"
    cost = CostModel("cpu", per_call=0.01, per_audio_second=0.005)

    @property
    def settings(self) -> Mapping[str, Any]:
        return {}

    def _run(self, text: str, pitch: float, rate: float, lang: str) -> tuple[np.ndarray, tuple[SpeechEvent, ...]]:
        wpm, p = _params(pitch, rate)
        return _synthesise(str(text), str(lang or "en"), wpm, p)

    def duration(self, text: str, *, pitch: float, rate: float, lang: str) -> float:
        return len(self._run(text, pitch, rate, lang)[0]) / SAMPLE_RATE

    def speak(self, text: str, *, pitch: float, rate: float, lang: str, seed: int) -> np.ndarray:
        return np.array(self._run(text, pitch, rate, lang)[0], dtype=np.float32, copy=True)

    def events(self, text: str, *, pitch: float, rate: float, lang: str) -> tuple[SpeechEvent, ...]:
        """Word, sentence and phoneme starts (48 kHz samples into :meth:`speak`'s array), for
        a mouth that follows visemes rather than loudness."""
        return self._run(text, pitch, rate, lang)[1]

    def phonemes(self, text: str, *, pitch: float, rate: float, lang: str) -> Phonemes:
        """eSpeak NG's own phoneme events for the line (alphabet ``"espeak"``: its mnemonics,
        stress marks included), at their sample positions in :meth:`speak`'s array: the
        timing the synthesiser used, not an alignment after the fact."""
        audio, events = self._run(text, pitch, rate, lang)
        return Phonemes("espeak", tuple((e.sample, e.text) for e in events if e.kind == "phoneme"), len(audio))
