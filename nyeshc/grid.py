"""A music cue's grid: its tempo, meter, and where its beats and bars fall.

A bottom-layer fact shared by the planner (times written ``at bar 5``, ``cuts: on bar``), the
music backends (which follow a stated grid or report their own), the beat tracker (which
detects the grid of a recording) and the exports (beat and bar markers).

Times are seconds from the start of the cue's audio (sample 0 of its artifact). A stated grid
is exact: beat ``k`` (0-based) is at ``first + k * 60 / tempo`` seconds, as a Fraction, so a
cut on beat 8 is on beat 8 at any frame rate. A detected grid lists its beats as measured.

>>> g = Grid.stated(Fraction(120), (3, 4))
>>> g.beat_time(0), g.beat_time(3), g.bar_time(1), g.bar_time(2)
(Fraction(0, 1), Fraction(3, 2), Fraction(0, 1), Fraction(3, 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Grid:
    """``tempo`` in beats a minute, ``meter`` as ``(beats a bar, note value)``; ``first`` the
    time of beat 1 (the first downbeat); ``beats`` (a detected grid's measured beat times, or
    empty for a stated, exact grid); ``downbeat`` the index in ``beats`` of the first bar line;
    ``confidence`` in 0..1 (1 for a stated grid); ``source``: ``stated``, ``backend`` (the
    generator's own grid) or ``detected``."""

    tempo: Fraction
    meter: tuple[int, int] = (4, 4)
    first: Fraction = Fraction(0)
    beats: tuple[Fraction, ...] = ()
    downbeat: int = 0
    confidence: float = 1.0
    source: str = "stated"

    @classmethod
    def stated(cls, tempo: Fraction, meter: tuple[int, int] = (4, 4), first: Fraction = Fraction(0)) -> Grid:
        return cls(Fraction(tempo), meter, Fraction(first))

    @property
    def beat_seconds(self) -> Fraction:
        return Fraction(60) / self.tempo

    def beat_time(self, k: int) -> Fraction:
        """Seconds of beat ``k`` counted from 0 (beat 1 of the cue is ``k = 0``)."""
        if self.beats:
            i = self.downbeat + k
            if 0 <= i < len(self.beats):
                return self.beats[i]
            # past the measured beats: continue at the detected tempo
            anchor = self.beats[-1] if i >= len(self.beats) else self.beats[0]
            j = len(self.beats) - 1 if i >= len(self.beats) else 0
            return anchor + (i - j) * self.beat_seconds
        return self.first + k * self.beat_seconds

    def bar_time(self, bar: int) -> Fraction:
        """Seconds of the downbeat of ``bar`` (1-based, as musicians count)."""
        return self.beat_time((bar - 1) * self.meter[0])

    def lines(self, until: Fraction, every: int = 1) -> list[Fraction]:
        """Beat times (``every=1``) or bar times (``every=meter[0]``) from 0 up to ``until``."""
        out: list[Fraction] = []
        k = 0
        while True:
            t = self.beat_time(k)
            if t > until:
                return out
            if t >= 0:
                out.append(t)
            k += every

    def to_json(self) -> dict[str, object]:
        return {"tempo": str(self.tempo), "meter": list(self.meter), "first": str(self.first),
                "beats": [str(b) for b in self.beats], "downbeat": self.downbeat,
                "confidence": round(self.confidence, 3), "source": self.source}
