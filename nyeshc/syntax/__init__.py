"""The syntax stage: parse (Lark + indenter), lower (tree → IR), format (IR → canonical text).

:func:`read` turns one text into a :class:`~nyeshc.ir.Film`; :func:`load` reads a script
through a :class:`~nyeshc.world.World` and follows its includes, so later stages see every
definition of the project in one flat film.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from nyeshc import ir, schema
from nyeshc.diagnostics import Diagnostic, Label, Span, error, warning
from nyeshc.syntax.fast import read as fast_read
from nyeshc.syntax.lower import lower
from nyeshc.syntax.text import MAX_RECOVERIES, decode, tab_diagnostics
from nyeshc.world import OutsideProject, World

__all__ = ["Loaded", "load", "read"]


def read(text: str, file: str = "<input>", *, fast: bool = True) -> tuple[ir.Film, list[Diagnostic]]:
    """Parse and lower one text; never raises.

    Text without syntax errors takes the fast path (:mod:`nyeshc.syntax.fast`: the same LALR
    table, lowered at reduce time); anything else, or ``fast=False``, the reference path
    (:func:`parse` with its error recovery, then :func:`lower`). Both give the same IR and
    diagnostics (``tests/syntax/test_fast_path.py``)."""
    if fast:
        done = fast_read(text, file)
        if done is not None:
            return done
        done = _recover_fast(text, file)
        if done is not None:
            return done
    from nyeshc.syntax.parse import parse  # Lark: only for a script with an error (or fast=False)

    result = parse(text, file)
    return lower(result.tree, file, len(text)), list(result.diagnostics)


def _recover_fast(text: str, file: str) -> tuple[ir.Film, list[Diagnostic]] | None:
    """The reference path's result for a text with syntax errors, sooner: each error is found
    and its lines blanked as :func:`parse` does, but the blanked text is then read by the fast
    path instead of parsed again and lowered (about half the time of a script with one error, the
    common case while typing). ``None`` where the fast path cannot finish; then :func:`parse`."""
    from nyeshc.syntax.parse import recover_step

    work = text if text.endswith("\n") else text + "\n"
    added = len(work) - len(text)  # blanking keeps offsets, so the newline added stays at the end
    syntax: list[Diagnostic] = []
    for _ in range(MAX_RECOVERIES):
        step = recover_step(work, file)
        if step is None:
            return None
        d, work = step
        syntax.append(d)
        done = fast_read(work[:len(work) - added], file)
        if done is not None:
            film, _ = done
            return film, tab_diagnostics(text if not added else text + "\n", file) + syntax
    return None


@dataclass
class Loaded:
    """A script and everything it includes."""

    film: ir.Film
    sources: dict[str, str] = field(default_factory=dict)  # span file name → text
    diagnostics: list[Diagnostic] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)  # span file name → real path

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def _name(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith(".." + os.sep + "..") else rel


def load(path: str | os.PathLike[str], world: World | None = None, *, name: str | None = None) -> Loaded:
    """Read ``path`` and its includes. Diagnostics cover reading, syntax and includes
    (missing, outside the project, absolute, cycles, checkpoint or code endings — E209, such a
    file is never opened); the checker adds the rest."""
    main = Path(path).resolve()
    world = world or World.for_script(main)
    loaded = Loaded(film=ir.Film(name or _name(main), ir.Header(), (), (), ()))
    file = name or _name(main)
    try:
        data = world.read_bytes(main)
    except OSError as exc:
        loaded.diagnostics.append(error("E006", f"cannot read {file}: {exc.strerror or exc}", Span(file, 0, 0)))
        return loaded
    text, diags = decode(data, file)
    loaded.sources[file] = text
    loaded.paths[file] = main
    loaded.diagnostics.extend(diags)
    film, diags = read(text, file)
    loaded.diagnostics.extend(diags)

    definitions = list(film.definitions)
    visiting = [main]
    seen: set[Path] = {main}

    def follow(current: ir.Film, current_path: Path) -> None:
        for inc in current.includes:
            rel = inc.path.text
            span = inc.path.span
            if schema.is_forbidden_path(rel):
                # a checkpoint, a pickle or code: refused by its name, never opened (nor resolved)
                loaded.diagnostics.append(error(
                    "E209", f"{rel!r} is a checkpoint or code file; a script cannot include one", span,
                    "includes are .nysh scripts; name models and checkpoints in nysh.toml beside the script"))
                continue
            if os.path.isabs(rel):
                loaded.diagnostics.append(error("E404", f"include path {rel!r} is absolute", span,
                                                "write the path relative to this script"))
                continue
            try:
                target = world.resolve(rel, current_path)
            except OutsideProject:
                loaded.diagnostics.append(error("E402", f"include {rel!r} is outside the project", span,
                                                f"the project is {world.root}; pass --allow-outside to permit it"))
                continue
            except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop
                loaded.diagnostics.append(error("E401", f"include {rel!r} not found: {exc}", span))
                continue
            if target in visiting:
                loaded.diagnostics.append(error("E403", f"include cycle: {rel!r} includes itself again", span,
                                                " -> ".join(_name(p) for p in visiting + [target])))
                continue
            if target in seen:
                continue  # included twice along different paths: its definitions are in already
            if not world.is_file(target):
                loaded.diagnostics.append(error("E401", f"include {rel!r} not found", span,
                                                f"looked for {target}"))
                continue
            seen.add(target)
            inc_name = _name(target)
            try:
                inc_text, inc_diags = decode(world.read_bytes(target), inc_name)
            except OSError as exc:
                loaded.diagnostics.append(error("E006", f"cannot read {rel!r}: {exc.strerror or exc}", span))
                continue
            loaded.sources[inc_name] = inc_text
            loaded.paths[inc_name] = target
            loaded.diagnostics.extend(inc_diags)
            inc_film, inc_parse = read(inc_text, inc_name)
            loaded.diagnostics.extend(inc_parse)
            stray = [*inc_film.header.fields, *inc_film.body]
            stray = [s for s in stray if not isinstance(s, ir.Note)]
            if stray:
                loaded.diagnostics.append(warning(
                    "W405", f"{rel!r} has header fields or scenes; only its definitions are used", span,
                    labels=[Label(stray[0].span, "this is ignored")]))
            definitions.extend(inc_film.definitions)
            visiting.append(target)
            follow(inc_film, target)
            visiting.pop()

    follow(film, main)
    del follow  # the recursive closure refers to itself: a cycle that would keep `loaded` alive until a GC pass
    loaded.film = replace(film, definitions=tuple(definitions))
    return loaded
