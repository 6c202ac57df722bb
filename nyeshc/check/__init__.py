"""The check stage: judge a loaded film against the language and report diagnostics.

:func:`check` runs :data:`RULES` in order over one :class:`Context`. Each rule is a small pure
function ``check_<topic>(ctx, sink)`` that reads the film (and the facts the context derives
once: definitions by name, the frame rate, the walk that places every value against
:mod:`nyeshc.schema`) and appends diagnostics; none raises, none walks the film twice. Only
:func:`~nyeshc.check.assets.check_assets` touches the outside world, through the ``World``.

Reading, syntax and include problems (E0xx, E4xx) are reported by :func:`nyeshc.syntax.load`;
everything else is here (E1xx names, E2xx properties, E3xx time, E5xx assets, E6xx limits).

>>> ctx = context_for('character NARRATOR:\\n    portrait: generate\\nSCENE 1:\\n    NARATOR:\\n        "hi"\\n')
>>> [(d.code, d.hints) for d in run(ctx)]
[('E101', ('did you mean NARRATOR?',))]
"""

from __future__ import annotations

from collections.abc import Callable

from nyeshc.check.assets import check_assets
from nyeshc.check.context import Context
from nyeshc.check.limits import check_canvas, check_counts, check_length
from nyeshc.check.names import check_definitions, check_references, check_scene_numbers
from nyeshc.check.properties import check_code, check_duplicates, check_options, check_properties, check_values
from nyeshc.check.screenplay import check_cues
from nyeshc.check.timing import check_grid, check_ranges, check_scene_fit, check_times
from nyeshc.check.transitions import (check_latent_stops, check_morphs, check_transition_lengths,
                                      check_transition_names, check_transition_places)
from nyeshc.diagnostics import Diagnostic, Sink
from nyeshc.syntax import Loaded
from nyeshc.world import World

__all__ = ["RULES", "Context", "check", "context_for", "run"]

Rule = Callable[[Context, Sink], None]

RULES: tuple[Rule, ...] = (
    # names
    check_definitions,         # E102 E105 W104
    check_references,          # E101 E103
    check_scene_numbers,       # E106
    # properties, options, values
    check_properties,          # E201 E205 E208
    check_duplicates,          # E206
    check_options,             # E202 W210
    check_values,              # E203
    check_code,                # E209
    check_transition_names,    # E204 E205 W210
    check_transition_places,   # E305
    check_morphs,              # W207
    check_latent_stops,        # E203 (morph stops and blend arguments need latents)
    check_cues,                # W212 E213
    # time
    check_times,               # E301 W306
    check_ranges,              # E302 W306
    check_scene_fit,           # W303
    check_grid,                # E307
    check_transition_lengths,  # E304
    # assets
    check_assets,              # E501 E502 E503 E504 E505
    # limits
    check_canvas,              # E601 E602
    check_length,              # E603
    check_counts,              # E604
)


def run(ctx: Context, rules: tuple[Rule, ...] = RULES) -> list[Diagnostic]:
    """Run ``rules`` over ``ctx``; the diagnostics in source order."""
    sink = Sink()
    for rule in rules:
        rule(ctx, sink)
    return sink.sorted()


def check(loaded: Loaded, world: World) -> list[Diagnostic]:
    """The diagnostics for a loaded film (its includes already followed)."""
    ctx = Context(loaded.film, loaded.sources, loaded.paths, world)
    return run(ctx)


def context_for(text: str, file: str = "<input>") -> Context:
    """A context for a script given as text, without files (assets are not checked): for
    doctests, the language server and tests."""
    from nyeshc.syntax import read

    film, _ = read(text, file)
    return Context(film, {file: text}, {}, None)
