"""The backend protocols: one per modality.

A backend is an object with an ``id`` (``"image.procedural"``), a ``version`` string and a
``settings`` mapping (its constructor configuration, JSON-serialisable). ``id``, ``version`` and
``settings`` go into every job key, so changing a checkpoint or a setting invalidates exactly
the artifacts that backend made.

Backends are pure with respect to their arguments: same arguments, same settings, same version
=> byte-identical arrays. They never read a script, never touch the cache and never write files
(but for a memo, below); the executor (``nyeshc.execute``) feeds them decoded inputs and stores
what they return.

**The memo folder** (:func:`memo_folder`): while the executor runs a job it lends the backend a
folder of the cache (``memo/``) where it may keep what it works out again and again from its own
code and its inputs (the procedural puppet: each mouth-and-eyes state of a rig, drawn once and
read back by every later job of that rig, in any process: ``docs/caching.md``, "The memo"). What
is kept there must be a pure function of its file's name (which holds a digest of everything it
depends on, the code included), read back bit for bit or, when a file is missing, unreadable or
torn, worked out again; the artifacts are the same either way. Outside a job (tests, ``nyeshc
still`` in the driver) there is none: :func:`memo_folder` is ``None``.

Array conventions (every backend, procedural or model):

* images: ``uint8`` ``(H, W, 3)`` RGB, or ``(H, W, 4)`` RGBA with *straight* (not premultiplied)
  alpha where stated;
* frame sequences: ``uint8`` ``(N, H, W, 3|4)``;
* audio: ``float32`` ``(N, C)`` at ``SAMPLE_RATE``, ``C`` = 1 (voice) or 2 (music), values in
  ``[-1, 1]``;
* latents: ``float32`` 1-D vectors of the backend's own ``latent_dim`` (an image backend may
  append entries for a prompt; see :meth:`ImageBackend.sample`).

Every backend declares a :class:`CostModel` so ``nyeshc plan`` can estimate what a render costs
before anything runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

# Every audio array in nyeshc is at this rate; defined once, at the bottom of the layers.
from nyeshc.media import SAMPLE_RATE
from nyeshc.world import atomic_output

# The cost model is plain data the planner reads to estimate a render before anything runs; it
# is defined beside the planner's other backend facts (the plan stage may not import backends).
from nyeshc.costs import CostModel

__all__ = ["SAMPLE_RATE", "Alphabet", "Backend", "BackendError", "CostModel", "GlyphBackend", "ImageBackend",
           "MotionBackend", "MusicBackend", "Phonemes", "Portrait", "PortraitBackend", "RigState", "VoiceBackend",
           "chunks", "lending_memo", "memo_folder", "memo_read", "memo_write"]

Ease = Literal["linear", "smooth"]
Modality = Literal["image", "portrait", "motion", "music", "voice", "glyphs"]

ProgressFn = Callable[[float], None]
"""Called with the fraction done (0..1) by long-running backend calls; may be a no-op."""


class LazyModule:
    """A module imported on first use of one of its names. A backend's module is imported when a
    plan asks for its id, version and settings, which need none of scipy; ``scipy.signal`` alone
    takes ~1.4 s to import (it parses every docstring of scipy.stats), more than a whole
    no-change rebuild should. The jobs that filter sound or images import it when they run."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


class BackendError(RuntimeError):
    """A backend could not do its job; the message says what is missing and how to fix it."""


@runtime_checkable
class Backend(Protocol):
    id: str
    version: str
    modality: Modality
    cost: CostModel

    @property
    def settings(self) -> Mapping[str, Any]: ...


# --------------------------------------------------------------------------- image


@runtime_checkable
class ImageBackend(Backend, Protocol):
    """A generator with a latent space (StyleGAN2, or the procedural CPPN).

    Used for looks and backdrops (modality ``image``).
    """

    latent_dim: int

    def sample(self, seed: int, truncation: float = 1.0, *, prompt: str | None = None) -> np.ndarray:
        """The latent for ``seed``; ``truncation`` < 1 pulls it toward the mean latent.

        ``prompt`` is the look's words: a script's ``image: generate "a drowned cathedral at
        dusk"``, or, for a scene without a backdrop whose heading names a place
        (``INT. CATHEDRAL - NIGHT``), the place and its time of day (``"cathedral night"``, at one
        seed per place). A backend uses what it understands of it and documents what that is;
        one without text conditioning may ignore it (the seed alone then chooses). ``None`` (no
        prompt) must give exactly the latent the backend gave before the option existed. The
        executor passes it only when the job's params hold a ``"prompt"``, so a backend written
        before the option existed keeps working for scripts without prompts (and a prompt given
        to one is a :class:`BackendError` naming the option). A backend may encode the prompt in
        extra latent entries (the procedural CPPN appends a scene code); its ``blend``,
        ``interpolate`` and ``render`` must then accept both lengths, so a morph can pass from a
        plain look to a prompted one."""

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        """A latent between ``a`` (t=0) and ``b`` (t=1)."""

    def interpolate(self, keys: Sequence[np.ndarray], t: float, ease: Ease = "smooth") -> np.ndarray:
        """The latent at ``t`` in [0, 1] along the path through ``keys`` (at least 2).

        Key ``i`` sits at ``t = i / (len(keys) - 1)``; consecutive ``t`` give continuous latents.
        """

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        """``uint8 (height, width, 3)`` RGB image of ``latent``."""


# --------------------------------------------------------------------------- portrait


@dataclass(frozen=True, slots=True)
class Portrait:
    """A face image plus what motion backends need to animate it.

    ``image`` is ``uint8 (S, S, 4)`` straight-alpha RGBA (a square; transparent around the head
    where the backend can tell). ``mouth`` is the mouth centre in pixel coordinates ``(x, y)``,
    ``face_box`` is ``(x0, y0, x1, y1)``. ``latent`` is set when the portrait came from a
    generator whose motion backend can re-render it (the procedural puppet); else ``None``.
    """

    image: np.ndarray
    mouth: tuple[float, float]
    face_box: tuple[float, float, float, float]
    latent: np.ndarray | None = None
    source: str = "generated"  # "generated" | "file"


@runtime_checkable
class PortraitBackend(Backend, Protocol):
    """Faces from seeds (StyleGAN2-FFHQ, or the procedural puppet)."""

    latent_dim: int

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray: ...

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray: ...

    def portrait(self, latent: np.ndarray, size: int) -> Portrait:
        """The face for ``latent`` as a ``size``×``size`` portrait."""

    def from_image(self, image: np.ndarray, size: int, mouth: tuple[float, float] | None = None) -> Portrait:
        """Wrap a user's picture (``uint8 (H, W, 3|4)``) as a portrait, estimating the mouth
        position unless ``mouth`` gives it as fractions of width and height."""


# --------------------------------------------------------------------------- motion


@dataclass(frozen=True, slots=True)
class RigState:
    """What a motion backend works out once per portrait before drawing it (``rig(portrait)``:
    the procedural puppet's textures and layers), as named arrays: a job's artifact (output
    ``"rig"``), cached compressed and losslessly, so a lip-sync in a fresh worker starts from it.
    ``backend`` is the id of the backend that made it (another backend's state is refused)."""

    backend: str
    arrays: Mapping[str, np.ndarray]


@runtime_checkable
class MotionBackend(Backend, Protocol):
    """Animates a portrait (Wav2Lip / First Order Motion Model, or the procedural puppet)."""

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int,
                seed: int, progress: ProgressFn | None = None, *, out: np.ndarray | None = None,
                mouth: float = 1.0) -> np.ndarray:
        """``uint8 (frames, S, S, 4)``: the portrait speaking ``voice`` (``float32 (N, 1)`` at
        ``SAMPLE_RATE``, already placed so sample 0 is frame 0; silence where nobody speaks).
        The mouth follows the voice; blinks and small head motion come from ``seed``.

        ``mouth`` (the script's ``motion: lipsync, mouth X``, 0 to 2) scales how wide the mouth
        opens: 0 keeps it closed (the frames are those of silence), 1 is the backend's natural
        opening, 2 twice as wide (as far as the face allows; each backend documents how it gets
        there). A backend raises :class:`BackendError` for a value it cannot honour. The executor
        passes it only when the job's params hold ``"mouth"``, so a backend written before the
        option existed keeps working for scripts that do not use it.

        ``out``, when given, is a writable ``uint8 (frames, S, S, 4)`` array (the executor
        passes a memory map in the cache) that the backend fills frame by frame and returns,
        so a long shot never has to fit in memory. The same holds for :meth:`drive` and
        :meth:`still`.

        Frame size: S is the portrait's side (``portrait.image.shape[0]``). The executor stores
        a beat's frames at the side D of the box they are shown in (the job's ``size``). A
        backend returns (or fills) ``(frames, S, S, 4)`` and the executor resizes each frame to
        D once, when D differs. A backend whose class sets ``renders_any_size = True`` is
        instead handed ``out`` of shape ``(frames, D, D, 4)`` (D may be larger or smaller than
        S) and must draw at ``out``'s size, with the same picture and motion as at S.

        A backend whose class sets ``renders_frame_ranges = True`` also takes ``frame_range=(a,
        b)``: only frames ``a`` to ``b`` of the ``frames`` (``out`` holds ``b - a``), the same
        pixels as those frames of the whole; the planner then draws a long beat in two parts.
        It also takes ``phase=k``: these ``frames`` are a section of a longer beat that starts
        ``k`` frames earlier, with ``voice`` and ``speech`` the section's own (idle motion goes
        on from the beat's frame ``k``); the planner then draws a beat of several lines in
        sections cut in the pauses between them (docs/dev/jobs.md).

        Optional keyword ``speech``: a sequence of ``(sample, Phonemes)``, the voice lines in
        ``voice`` whose phonemes their backend could tell, each placed at its first sample. A
        backend whose ``lipsync`` takes it (the procedural puppet) shapes the mouth from them
        and follows loudness only elsewhere (recordings, songs); the executor passes it only
        to a backend that accepts it.

        A backend with a set-up worth keeping per portrait (the puppet's rig) has a method
        ``rig(portrait) -> RigState``: the planner then gives each portrait one ``motion.rig``
        job, its artifact is cached, and every :meth:`lipsync` and :meth:`still` of that
        portrait is called with ``rig=`` that state (the same frames as without it, without
        the set-up: docs/dev/jobs.md, "A portrait's rig")."""

    def drive(self, portrait: Portrait, driving: np.ndarray, driving_fps: float,
              audio: np.ndarray | None, fps: float, frames: int, seed: int,
              progress: ProgressFn | None = None, *, out: np.ndarray | None = None) -> np.ndarray:
        """``uint8 (frames, S, S, 4)``: the portrait performing the ``driving`` video
        (``uint8 (M, H, W, 3)`` at ``driving_fps``), resampled to ``fps``."""

    def still(self, portrait: Portrait, fps: float, frames: int, seed: int, *,
              out: np.ndarray | None = None) -> np.ndarray:
        """``uint8 (frames, S, S, 4)``: idle motion only (breathing, blinks)."""


# --------------------------------------------------------------------------- music


@runtime_checkable
class MusicBackend(Backend, Protocol):
    """Music cues (JukeBox, or the procedural ambient synthesiser)."""

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 progress: ProgressFn | None = None, temperature: float | None = None,
                 tempo: float | None = None, meter: tuple[int, int] | None = None) -> np.ndarray:
        """``float32 (round(seconds * SAMPLE_RATE), 2)`` stereo in [-1, 1], never clipping.
        With ``lyrics``, a voice sings them (asemic where the backend has no language).

        ``temperature`` (the cue's ``source: generate, temperature X``, 0 to 2) is how freely the
        music is chosen: low is repetitive and predictable, high wanders. ``None`` (the script
        gives none) is the backend's own default, and must give exactly the music the backend
        made before the option existed. Same arguments, same seed => the same samples, whatever
        the temperature. The executor passes it only when the job's params hold a
        ``"temperature"``, so a backend written before the option existed keeps working for
        scripts that do not use it.

        ``tempo`` (beats a minute) and ``meter`` (``(beats a bar, note value)``) are the cue's
        stated grid (``source: generate, tempo 72bpm, meter 3/4``); the tempo counts the
        meter's note value. A backend that takes them follows them exactly: beat ``k``
        (0-based) begins at sample ``round(k * 60 / tempo * SAMPLE_RATE)``, computed from exact
        fractions (the tempo as the decimal it prints as), beat 0 is sample 0 and the first
        downbeat, and a bar is ``meter[0]`` beats; what is not stated is the backend's own.
        ``None`` for both must give exactly the music the backend made before the options
        existed. The executor passes each only when the job's params hold it (``"tempo"``, and
        ``"meter"`` as ``[beats, unit]``); a backend that cannot follow a tempo (JukeBox) leaves
        the keywords out, and a script that states one is a :class:`BackendError` naming the
        option.

        A backend that knows its grid before rendering also has ``grid(*, genre, artist,
        lyrics, seconds, seed, temperature=None, tempo=None, meter=None) ->``
        :class:`nyeshc.grid.Grid`: pure and cheap (the planner calls it to place ``at bar 5``
        on a generated cue without rendering, as it calls :meth:`VoiceBackend.duration`), the
        grid :meth:`generate` will play on, ``source="backend"``. A backend without it (JukeBox)
        has its grid detected from its output (:func:`nyeshc.beats.detect_grid`)."""


# --------------------------------------------------------------------------- voice


@runtime_checkable
class VoiceBackend(Backend, Protocol):
    """Speech for dialogue lines."""

    def duration(self, text: str, *, pitch: float, rate: float, lang: str) -> float:
        """Exact length in seconds that :meth:`speak` will return for these arguments.

        Pure and cheap: the planner calls it to lay out the timeline without synthesising.
        Must equal ``len(speak(...)) / SAMPLE_RATE`` to the sample."""

    def speak(self, text: str, *, pitch: float, rate: float, lang: str, seed: int) -> np.ndarray:
        """``float32 (N, 1)`` mono speech at ``SAMPLE_RATE``.

        Optional: ``phonemes(text, *, pitch, rate, lang) -> Phonemes``, when to see which sound
        in :meth:`speak`'s array (a mouth that says the phonemes instead of following loudness;
        the executor calls it for a lip-sync job when the backend has it). It must describe the
        same array :meth:`speak` returns (same arguments, any seed)."""


@dataclass(frozen=True, slots=True)
class Phonemes:
    """When a voice line says which sound: ``events`` are ``(sample, symbol)`` starts at
    ``SAMPLE_RATE`` into the line's audio, in order, each lasting until the next (the last
    until ``samples``, the line's length). ``alphabet`` names the symbols: ``"espeak"`` (eSpeak
    NG's phoneme mnemonics, stress marks included: ``'oU``, ``D``, ``_:``) or ``"asemic"``
    (:mod:`nyeshc.backends.procedural.formant`'s phones: ``a``, ``ʃ``, ``_``, ``breath``). A
    motion backend maps them to mouth shapes; ``"_"`` (and ``"_:"``, …) is silence."""

    alphabet: str
    events: tuple[tuple[int, str], ...]
    samples: int


# --------------------------------------------------------------------------- glyphs


@dataclass(frozen=True, slots=True)
class Alphabet:
    """An asemic script: glyph shapes plus the letter → glyph mapping.

    ``strokes[i]`` is glyph ``i``: a tuple of strokes, each a ``float32 (K, 3)`` array of
    ``(x, y, width)`` control points in the unit em square (y down). ``mapping`` maps each
    lower-case letter/digit to a glyph index; the same letter always gives the same glyph.
    """

    seed: int
    strokes: tuple[tuple[np.ndarray, ...], ...]
    mapping: Mapping[str, int] = field(default_factory=dict)


@runtime_checkable
class GlyphBackend(Backend, Protocol):
    def alphabet(self, *, seed: int, count: int, strokes: tuple[int, int]) -> Alphabet:
        """A consistent script of ``count`` glyphs of ``strokes[0]..strokes[1]`` pen strokes."""

    def render_text(self, alphabet: Alphabet, text: str, *, height: int, ink: tuple[int, int, int],
                    max_width: int | None = None) -> np.ndarray:
        """``uint8 (h, w, 4)`` straight-alpha RGBA: ``text`` transliterated letter by letter
        (word spacing and line breaks kept; wrapped at ``max_width`` pixels when given),
        ``height`` pixels per line, anti-aliased, in ``ink`` on transparent paper."""

    def chart(self, alphabet: Alphabet, *, cell: int, ink: tuple[int, int, int],
              paper: tuple[int, int, int]) -> np.ndarray:
        """``uint8 (h, w, 3)``: the Rosetta chart, each Latin letter beside its glyph."""


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in pieces of at most ``size``."""
    for start in range(0, n, size):
        yield start, min(n, start + size)


# --------------------------------------------------------------------------- the memo folder

_MEMO: Path | None = None


def memo_folder() -> Path | None:
    """The folder the executor lends the job now running for its backend's memo (see the module's
    notes), or ``None`` (no job runs in this process, or the executor lends none)."""
    return _MEMO


@contextlib.contextmanager
def lending_memo(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """:func:`memo_folder` is ``folder`` inside the block (the executor, around a job)."""
    global _MEMO
    before, _MEMO = _MEMO, None if folder is None else Path(folder)
    try:
        yield
    finally:
        _MEMO = before


def memo_read(path: Path) -> bytes | None:
    """The bytes of a memo file, or ``None`` when there is none (or it cannot be read)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def memo_write(path: Path, data: bytes) -> None:
    """Keep ``data`` as the memo file ``path``, whole or not at all (``world.atomic_output``),
    never fsynced (a file torn by a crash is one its reader finds unreadable, and works out
    again). A full or read-only disk keeps nothing, and says nothing: a memo is only ever a
    shortcut."""
    with contextlib.suppress(OSError):
        with atomic_output(path, durable=False) as tmp:
            tmp.write_bytes(data)
