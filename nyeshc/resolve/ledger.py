"""Accounting: every element of the checked film reaches the film, or says why not.

A compiler that accepts a construct and then drops it is the worst kind of bug: the writer
finds out from a black frame. So the planner keeps a :class:`Ledger` while it builds the
timeline and the job graph, and :func:`audit` then walks the checked film once and demands,
for every element, one of:

* **rendered** — it produced a timeline layer, an audio clip, a subtitle or a job, or it set
  a value the timeline uses (a scene's duration, a transition, a header field);
* **inert** — it is non-rendering by definition (notes, direction parentheticals, title-page
  text kept for metadata and exports);
* **cut** — it lies wholly outside its scene (the checker warns, ``W303``), so nothing of it
  can show.

An element with none of these stops the build with ``E702`` naming it and its line: an
internal error (a planner bug), never a black frame.

Options are accounted the same way, like a compiler's unused-variable warning: every option the
schema says has an effect where it is written (the checker's placed options, less those it
already reported as inert with ``W210``) must be *read* by the planner when its element is
rendered. One that is not is ``W211`` for users; with ``NYESHC_STRICT_PLAN=1`` (the test suite
sets it) it is the error ``E703``, so a new option without an effect fails CI.

The ledger is installed in a context variable for the duration of :func:`nyeshc.plan.plan`;
:func:`nyeshc.resolve.values.option`, the one way the planner reads an option, records each read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from nyeshc import ir
from nyeshc.diagnostics import Diagnostic, Span, error, warning

STRICT_ENV = "NYESHC_STRICT_PLAN"


@dataclass
class Ledger:
    """What the planner did with each element and option (by object identity: two equal
    directives in one scene are two elements)."""

    rendered_ids: set[int] = field(default_factory=set)
    inert_ids: set[int] = field(default_factory=set)
    cut_ids: set[int] = field(default_factory=set)
    read_ids: set[int] = field(default_factory=set)
    findings: list[Diagnostic] = field(default_factory=list)  # what only planning can see (W303)
    _keep: list[Any] = field(default_factory=list)  # the nodes, so their ids stay theirs

    def _mark(self, ids: set[int], node: Any) -> None:
        if node is not None:
            ids.add(id(node))
            self._keep.append(node)

    def rendered(self, node: Any) -> None:
        self._mark(self.rendered_ids, node)

    def inert(self, node: Any) -> None:
        self._mark(self.inert_ids, node)

    def cut(self, node: Any) -> None:
        self._mark(self.cut_ids, node)

    def read(self, o: ir.Option | None) -> None:
        self._mark(self.read_ids, o)

    def read_all(self, options: tuple[ir.Option, ...]) -> None:
        for o in options:
            self.read(o)

    def accounted(self, node: Any) -> bool:
        i = id(node)
        return i in self.rendered_ids or i in self.inert_ids or i in self.cut_ids


_current: ContextVar[Ledger | None] = ContextVar("nyeshc_plan_ledger", default=None)


def current() -> Ledger | None:
    return _current.get()


@contextmanager
def keeping(ledger: Ledger) -> Iterator[Ledger]:
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)


def note_read(o: ir.Option | None) -> None:
    """Record that the planner read option ``o`` (called by the option helpers)."""
    led = _current.get()
    if led is not None and o is not None:
        led.read(o)


def warn(diagnostic: Diagnostic) -> None:
    """A finding only the planner can make (a line's audio outlasts its scene: ``W303``)."""
    led = _current.get()
    if led is not None:
        led.findings.append(diagnostic)


def mark(kind: str, node: Any) -> None:
    """``kind`` is ``rendered``, ``inert`` or ``cut``; no-op outside :func:`keeping`."""
    led = _current.get()
    if led is not None:
        getattr(led, kind)(node)


# --------------------------------------------------------------------------- the audit


def _line(node: Any) -> Span:
    return getattr(node, "span", None) or ir.NO_SPAN


def _elements(film: ir.Film) -> Iterator[tuple[Any, str, tuple[ir.Option, ...]]]:
    """Every element of the film that must be accounted for: ``(node, description, options)``."""
    for f in film.header.fields:
        yield f, f"the title page's {f.key}", f.options
    for item in film.body:
        if isinstance(item, ir.Transition):
            yield item, f"the transition {item.kind}", ()
        elif isinstance(item, ir.Credits):
            yield item, "the credits", item.options
        elif isinstance(item, ir.Scene):
            for x in item.items:
                if isinstance(x, ir.Property):
                    yield x, f"the {x.key}", x.options
                elif isinstance(x, ir.ActionLine):
                    yield x, f"the action line {x.text.text[:24]!r}", x.options
                elif isinstance(x, ir.Beat):
                    yield x, f"{x.character}'s beat", x.options
                    for line in x.lines:
                        if isinstance(line, ir.Dialogue):
                            yield line, f"{x.character}'s line {line.text.text[:24]!r}", line.options
                        elif isinstance(line, ir.Action):
                            yield line, f"{x.character}'s {line.verb}", line.options
                        elif isinstance(line, ir.Parenthetical):
                            yield line, f"{x.character}'s ({line.text})", ()


def _definition_props(film: ir.Film) -> Iterator[ir.Property]:
    for d in film.definitions:
        yield from d.props


def audit(film: ir.Film, ledger: Ledger, *, strict: bool | None = None) -> list[Diagnostic]:
    """``E702`` for each element the planner neither rendered, nor knew inert, nor cut;
    ``W211`` (``E703`` when strict) for each effective option it never read."""
    from nyeshc.check.walk import walk

    if strict is None:
        strict = os.environ.get(STRICT_ENV, "") not in ("", "0")
    out: list[Diagnostic] = list(ledger.findings)
    excused: set[int] = set()  # options of cut elements and unused definitions
    for node, what, options in _elements(film):
        if ledger.accounted(node):
            if id(node) in ledger.cut_ids or id(node) in ledger.inert_ids:
                excused.update(id(o) for o in options)
            continue
        excused.update(id(o) for o in options)
        out.append(error("E702", f"internal error: {what} was checked but reached neither the picture, the "
                                 "sound nor the job graph", _line(node),
                         "this is a bug in nyeshc's planner, not in your script; please report it with the "
                         "script (nyeshc stops rather than render a film without it)"))
    for p in _definition_props(film):
        if not ledger.accounted(p):  # a definition the film never uses: its options have no say
            excused.update(id(o) for o in p.options)
    for placed in walk(film).options:
        o = placed.option
        if placed.spec is None or placed.inert or id(o) in excused or id(o) in ledger.read_ids:
            continue
        message = f"{o.key} on {placed.what} has no effect in this film"
        hint = "nyeshc did not use it when planning; remove it (or report the case if the docs say it works)"
        out.append(error("E703", message, o.key_span or o.span, hint) if strict
                   else warning("W211", message, o.key_span or o.span, hint))
    return out
