"""Shared by the Fountain tests: the screenplays, import / export in process, plans with the
fake services, and what a film's words take to read and speak."""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction
from pathlib import Path

from plan_fakes import plan_file

from nyeshc.cli import main
from nyeshc.export.fountain import to_fountain
from nyeshc.plan.model import Plan
from nyeshc.syntax import load
from nyeshc.syntax.fountain import read_fountain, sung_seconds, translate

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "fountain"
SCREENPLAYS = sorted(SAMPLES.glob("*.fountain"))
EXAMPLES = sorted((REPO / "examples").glob("*.nysh"))


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = int(main([str(a) for a in args]))
    return rc, out.getvalue(), err.getvalue()


def stem(path: Path) -> str:
    return path.stem.replace("-", "_")


def import_text(fountain: str, name: str) -> str:
    return translate(read_fountain(fountain), name=name).text


def export_file(nysh: Path) -> str:
    return to_fountain(load(nysh, name=nysh.name).film)


def imported(src: Path, folder: Path) -> Path:
    """``src`` imported into ``folder`` (what ``nyeshc import`` writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{stem(src)}.nysh"
    out.write_text(import_text(src.read_text(encoding="utf-8"), stem(src)), encoding="utf-8")
    return out


def plan_of(nysh: Path) -> Plan:
    return plan_file(nysh)


def scene_frames(plan: Plan) -> list[tuple[str, int, int]]:
    return [(s.title, s.start, s.end) for s in plan.timeline.scenes]


def reading_estimate(src: Path) -> tuple[float, int]:
    """(seconds, scenes): what a screenplay's words take — dialogue spoken at 150 words a
    minute, action and centred text read at 180 (each at least 1 s), lyrics sung as the importer
    times them, 300 ms between one element and the next, the credits 2 s a line (at least 4 s)
    — and how many scenes it has (each lasts at least 1 s)."""
    sp = read_fountain(src.read_text(encoding="utf-8"))
    els = sp.elements
    spoken = sum(len(e.text.split()) for e in els if e.kind == "dialogue") * 60 / 150
    read = sum(max(1.0, len(e.text.split()) * 60 / 180) for e in els if e.kind in ("action", "centered"))
    sung, lyrics = 0, []
    for e in els + [None]:  # type: ignore[list-item]
        if e is not None and e.kind == "lyrics" and e.dialogue:
            lyrics.append(e.text)
        elif lyrics:
            sung, lyrics = sung + sung_seconds(lyrics), []
    flow = sum(1 for e in els if e.kind in ("character", "action", "centered"))
    keys = {k.lower() for k, _ in sp.title_page}
    credits = (max(4, 2 * (1 + ("author" in keys or "authors" in keys))) if keys & {"title", "author", "authors"}
               else 0)
    scenes = max(1, sum(1 for e in els if e.kind == "heading") + (1 if els and els[0].kind != "heading" else 0))
    return spoken + read + sung + 0.3 * flow + credits, scenes


def seconds(plan: Plan) -> float:
    return float(Fraction(plan.timeline.frames) / plan.timeline.fps)


__all__ = ["REPO", "SAMPLES", "SCREENPLAYS", "EXAMPLES", "cli", "stem", "import_text", "export_file", "imported",
           "plan_of", "scene_frames", "reading_estimate", "seconds"]
