"""``nyeshc export FILM.nysh -o FILE``: the film for other tools, by the output's extension or
``--to``: ``.otio``/``.otioz`` (OpenTimelineIO), ``.xml`` (FCP 7 XML: Premiere, Resolve), ``.edl``
(CMX 3600: one list per track, ``FILE.TRACK.edl`` beside ``FILE``), ``.fountain``, ``.srt``/``.vtt``. See ``docs/interchange.md``.

Editor timelines need media an editor can read: the artifacts are written at the canvas size,
placed, as PNG / WAV / MP4 / ProRes 4444 MOV (see :mod:`nyeshc.export.media`) into ``media/``
inside the cache and referenced by absolute ``file://`` URLs; with
``--bundle`` they go into ``FILE_media/`` beside the output instead, referenced by relative
paths, so the folder can travel. Exit codes: 0 ok, 1 script errors, 2 usage (or a missing
optional package), 3 a backend or media failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nyeshc.commands.common import (Stop, add_build_arguments, add_script_argument, load_and_check, prepare,
                                    print_diagnostics, run_jobs)

OTIO_FORMATS = {".otio", ".otioz", ".xml", ".edl"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the file to write; its extension picks the format")
    p.add_argument("--to", metavar="FORMAT",
                   help="otio, otioz, xml (fcp), edl, fountain, srt or vtt (default: from the extension)")
    p.add_argument("--bundle", action="store_true",
                   help="write the media beside the output (FILE_media/) and reference them relatively")
    add_build_arguments(p)


def _fail(msg: str, code: int) -> int:
    print(f"nyeshc export: {msg}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from nyeshc.export import FORMATS, format_for

    out = Path(args.output)
    fmt = format_for(str(out), args.to)
    if fmt is None:
        return _fail(f"unknown format for {out.name!r} (choose one of: "
                     f"{', '.join(s.lstrip('.') for s in FORMATS)})", 2)
    script = Path(args.script)
    if out.exists() and script.exists() and out.resolve() == script.resolve():
        return _fail("the output would overwrite the script", 2)
    if fmt in OTIO_FORMATS:
        from nyeshc.export.otio import MissingDependency, require_otio

        try:
            require_otio()
        except MissingDependency as exc:
            return _fail(str(exc), 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".fountain":
        return _fountain(args, out)
    try:
        prepared = prepare(args, "export")
        if fmt in (".srt", ".vtt"):
            from nyeshc.export.subtitles import write_subtitles

            write_subtitles(prepared.plan.timeline, out, fmt)
        else:
            artifacts = run_jobs(prepared, args, prepared.plan, "export")
            with artifacts:
                code = _timeline(args, prepared, artifacts.cache, out, fmt)
            if code:
                return code
    except Stop as stop:
        return stop.code
    if not args.quiet:
        print(f"wrote {out} ({FORMATS[fmt]})", file=sys.stderr)
    return 0


def _fountain(args: argparse.Namespace, out: Path) -> int:
    from nyeshc.export.fountain import to_fountain
    from nyeshc.world import atomic_write_text

    script = Path(args.script)
    if not script.is_file():
        return _fail(f"{script} not found", 2)
    checked = load_and_check(str(script), allow_outside=args.allow_outside)
    if checked.has_errors:
        print_diagnostics(checked.diagnostics, checked.loaded.sources)
        return 1
    atomic_write_text(out, to_fountain(checked.loaded.film, checked.loaded.sources))
    if not args.quiet:
        print(f"wrote {out} (Fountain screenplay)", file=sys.stderr)
    return 0


def _timeline(args: argparse.Namespace, prepared: object, cache: object, out: Path, fmt: str) -> int:
    from nyeshc.export.media import MediaError
    from nyeshc.export.otio import MissingDependency, Resolver, build_timeline, write_timeline
    from nyeshc.render.encoder import EncodeError

    plan = prepared.plan  # type: ignore[attr-defined]
    film = prepared.checked.loaded.film  # type: ignore[attr-defined]
    if args.bundle and fmt != ".otioz":
        folder, relative = out.parent / f"{out.stem}_media", out.parent
    else:  # .otioz packs the media into the zip itself
        folder, relative = Path(cache.root) / "media", None  # type: ignore[attr-defined]
    resolver = Resolver(cache, folder, plan.timeline.fps, {j.key: j.output for j in plan.jobs}, relative)
    from nyeshc.export.otio import script_hash

    script_path = Path(prepared.script)  # type: ignore[attr-defined]
    meta = {"script": script_path.name, "profile": prepared.profile_name,  # type: ignore[attr-defined]
            "backends": plan.backends, "title": _header(film, "title"), "author": _header(film, "author"),
            # what ``nyeshc conform`` checks: the cut was made from this very script
            "script_sha256": script_hash(script_path.read_text(encoding="utf-8"))}
    try:
        timeline = build_timeline(plan, resolver, title=_header(film, "title") or prepared.script.stem,  # type: ignore[attr-defined]
                                  film_meta=meta)
        write_timeline(timeline, out, fmt)
    except MissingDependency as exc:
        return _fail(str(exc), 2)
    except ValueError as exc:  # an adapter refusing the timeline, e.g. a rate timecode lacks
        return _fail(f"could not write {out}: {exc} ({fmt} needs a timecode rate such as 24, 25 or 30 fps)", 2)
    except (MediaError, EncodeError, OSError) as exc:
        return _fail(f"could not write {out}: {exc}", 3)
    return 0


def _header(film: object, key: str) -> str:
    prop = film.header.get(key)  # type: ignore[attr-defined]
    value = getattr(prop, "value", None)
    return str(getattr(value, "text", "")) if value is not None else ""
