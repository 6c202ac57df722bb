"""Every option the schema accepts takes effect, or is diagnosed (issue #25), generated from
the schema so that a new option without an effect fails CI.

For every property (title-page field, definition property, scene directive), every form of its
value and every option that form lists, a minimal film is planned with and without the option
(everything else equal). The two plans must differ: in a job's parameters or seed, or in the
timeline (layers, clips, subtitles, times). The same holds for the options of beats, dialogue
lines, ``sings`` and the credits. A pair that cannot differ in a plan is listed in
``DIAGNOSED`` with the diagnostic that tells the writer, and that diagnostic is asserted.

Flags that name a default (``caption: "x", bottom``) are compared with another flag of their
group instead: stating the default is a no-op by definition.

Whether a parameter then changes pixels and samples is the backends' to show, and their tests
do (``tests/backends/test_script_options.py`` for ``mouth`` and ``temperature``); the row-by-row
regressions of issue #25 read pixels and samples in ``tests/e2e/test_option_effects_render.py``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from nyeshc import ir, schema
from nyeshc.check import context_for, run
from nyeshc.plan import plan
from nyeshc.schema import Form, OptionSpec, PropertySpec
from nyeshc.syntax import read
from plan_fakes import FakeServices

ASSET = {"image": '"pic.png"', "audio": '"tone.wav"', "video": '"clip-sound.mp4"'}
REF = {"look": "L", "music": "M", "alphabet": "NYESH", "character": "C"}

BASE_DEFS = {
    ("alphabet", "NYESH"): {"glyphs": "12"},
    ("look", "L"): {"image": "generate"},
    ("look", "L2"): {"image": "generate, seed 3"},
    ("character", "C"): {"portrait": "generate", "voice": "asemic", "motion": "lipsync"},
    ("music", "M"): {"source": "generate", "lyrics": '"la la"'},
}
DEFAULT_FLAGS = {"bottom", "medium", "center"}
"""Flags that state a default somewhere (a caption sits at the bottom; a beat is a medium shot
in the centre): such a flag is compared with another of its group."""

DIAGNOSED: dict[tuple[str, str, str], str] = {}
"""(owner, form, option) pairs that cannot show in a plan, and the code that says so. Empty:
every option the schema lists has an effect."""


def form_value(f: Form) -> str:
    k = f.kind
    if k == "keyword":
        return f.word or ""
    if k == "ref":
        return REF[f.refers or "look"]
    if k == "path":
        return ASSET[f.asset or "image"]
    if k == "text":
        return '"words"'
    if k == "styled":
        return 'NYESH "words"'
    if k == "prompt":
        return 'generate "a drowned cathedral at dusk"'
    if k == "blend":
        return "blend(seed 5, seed 23, 0.35)"
    if k == "morph":
        return "morph L -> seed 17 -> L2"
    if k == "driven":
        return 'driven "clip-sound.mp4"'
    if k == "seed":
        return "seed 17"
    if k in ("count", "count_range"):
        return str(int(f.lo or 1) + 1)
    if k == "colour":
        return "#336699"
    if k == "gain":
        return "-6dB"
    if k == "size":
        return "160x90"
    raise AssertionError(f"no sample value for form kind {k!r}: add one")


def option_text(o: OptionSpec) -> str:
    v = o.value
    if v == "flag":
        return o.name
    if v == "time":
        return f"{o.name} {'2s' if o.role == 'length' else '1s'}"  # the base cue plays for 1s
    if v in ("number", "count"):
        lo, hi = o.lo if o.lo is not None else Fraction(0), o.hi if o.hi is not None else Fraction(10)
        x = lo + (hi - lo) * Fraction(3, 10)
        if v == "count" or o.name == "seed":
            return f"{o.name} {int(x) or 11}"
        return f"{o.name} {float(x):g}"
    if v == "gain":
        return f"{o.name} -6dB"
    if v == "string":
        return f'{o.name} "en-gb"' if o.name == "lang" else f'{o.name} "words"'
    if v == "path":
        return f"{o.name} {ASSET[o.asset or 'audio']}"
    if v == "word":
        return f"{o.name} {o.words[0]}"
    if v == "ramp":
        return f"{o.name} 1.0 -> 1.5"
    if v == "tempo":
        return f"{o.name} 96bpm"
    if v == "meter":
        return f"{o.name} 3/4"
    raise AssertionError(f"no sample for option kind {v!r}: add one")


def film(*, header: dict[str, str] | None = None, defs: dict[tuple[str, str], dict[str, str]] | None = None,
         scene: list[str] | None = None, beat: str = "C:", lines: list[str] | None = None,
         credits: str = "CREDITS, 4s:", action: str = '"The sea is calm."') -> str:
    head = {"canvas": "160x90, 8fps", **(header or {})}
    definitions = {k: dict(v) for k, v in BASE_DEFS.items()}
    for k, props in (defs or {}).items():
        definitions.setdefault(k, {}).update(props)
    out = [f"{k}: {v}" for k, v in head.items()] + [""]
    for (kind, name), props in definitions.items():
        out.append(f"{kind} {name}:")
        out += [f"    {k}: {v}" for k, v in props.items()]
    out += ["", "SCENE 1, 4s:", "    backdrop: L", "    music: M, for 1s"]
    out += [f"    {d}" for d in (scene or [])]
    out.append(f"    {action}")
    out.append(f"    {beat}")
    out += [f"        {x}" for x in (lines or ['"Nyeshkerh a lo."'])]
    out += ["", credits, '    "the end"', ""]
    return "\n".join(out)


def planned(text: str) -> object:
    errors = [d for d in run(context_for(text, "film.nysh")) if d.is_error]
    assert errors == [], (text, errors)
    f, _ = read(text, "film.nysh")
    svc = FakeServices()
    p = plan(f, svc.profile, svc, root=Path.cwd())
    data = ir.to_data(p)
    for j in data["jobs"]:  # names and estimates are not effects
        j.pop("name"), j.pop("cost_seconds")
    return {"jobs": sorted(data["jobs"], key=lambda j: j["key"]), "timeline": data["timeline"], "grids": data["grids"]}


# --------------------------------------------------------------------------- the pairs


def _pairs() -> list[tuple[str, str, Form, OptionSpec, PropertySpec]]:
    out = []
    for name, spec in schema.HEADER.items():
        for f in spec.forms:
            out += [("header", name, f, o, spec) for o in f.options]
    for kind, props in schema.DEFINITIONS.items():
        for name, spec in props.items():
            for f in spec.forms:
                out += [(kind, name, f, o, spec) for o in f.options]
    for name, spec in schema.DIRECTIVES.items():
        for f in spec.forms:
            out += [("scene", name, f, o, spec) for o in f.options]
    return out


PAIRS = _pairs()


def _films_for(owner: str, prop: str, f: Form, opt: str) -> tuple[str, str]:
    value = form_value(f)
    if owner == "header":
        return film(header={prop: value}), film(header={prop: f"{value}, {opt}"})
    if owner == "scene":
        return film(scene=[f"{prop}: {value}"]), film(scene=[f"{prop}: {value}, {opt}"])
    name = {"alphabet": "NYESH", "look": "L", "character": "C", "music": "M"}[owner]
    extra = []
    if owner == "alphabet" or (owner == "music" and prop == "lyrics"):
        extra = ['caption: NYESH "x"']
    return (film(defs={(owner, name): {prop: value}}, scene=extra),
            film(defs={(owner, name): {prop: f"{value}, {opt}"}}, scene=extra))


def _other_flag(o: OptionSpec, spec: PropertySpec | None, pool: tuple[OptionSpec, ...] = ()) -> str:
    group = [x.name for x in pool if x.value == "flag" and x.group == o.group and x.name != o.name]
    if not group and spec is not None:
        group = [x for x in ("top", "left", "right") if x != o.name]
    return group[0]


@pytest.mark.parametrize("owner,prop,form,option,spec", PAIRS,
                         ids=[f"{o}.{p}[{f.describe}].{x.name}" for o, p, f, x, _ in PAIRS])
def test_every_option_of_every_form_changes_the_plan(owner: str, prop: str, form: Form, option: OptionSpec,
                                                      spec: PropertySpec) -> None:
    key = (f"{owner}.{prop}", form.describe, option.name)
    if key in DIAGNOSED:
        pytest.fail(f"{key} is listed as diagnosed: assert its {DIAGNOSED[key]} in a test and remove this line")
    opt = option_text(option)
    without, with_ = _films_for(owner, prop, form, opt)
    if option.value == "flag" and option.name in DEFAULT_FLAGS:
        without = _films_for(owner, prop, form, _other_flag(option, spec))[1]
    assert planned(without) != planned(with_), f"{opt!r} on {prop}: {form.describe} changes nothing\n{with_}"


BEAT_PAIRS = [o for o in schema.BEAT_OPTIONS.values()]


@pytest.mark.parametrize("option", BEAT_PAIRS, ids=[o.name for o in BEAT_PAIRS])
def test_every_beat_option_changes_the_plan(option: OptionSpec) -> None:
    opt = option_text(option)
    with_ = film(beat=f"C, {opt}:")
    without = film(beat="C:")
    if option.value == "flag" and option.name in DEFAULT_FLAGS:
        without = film(beat=f"C, {_other_flag(option, None, tuple(schema.BEAT_OPTIONS.values()))}:")
    assert planned(without) != planned(with_), f"{opt!r} on a beat changes nothing"


@pytest.mark.parametrize("option", list(schema.DIALOGUE_OPTIONS.values()), ids=list(schema.DIALOGUE_OPTIONS))
def test_every_dialogue_option_changes_the_plan(option: OptionSpec) -> None:
    opt = option_text(option)
    assert planned(film(lines=['"Nyeshkerh."'])) != planned(film(lines=[f'"Nyeshkerh.", {opt}']))


ACTION_PAIRS = [(a, o) for a in schema.ACTIONS.values() for o in a.options]


@pytest.mark.parametrize("action,option", ACTION_PAIRS, ids=[f"{a.verb}.{o.name}" for a, o in ACTION_PAIRS])
def test_every_action_option_changes_the_plan(action: schema.ActionSpec, option: OptionSpec) -> None:
    opt = option_text(option)
    base = f"{action.verb} {REF[action.refers]}"
    assert planned(film(lines=[base])) != planned(film(lines=[f"{base}, {opt}"]))


@pytest.mark.parametrize("option", list(schema.CREDITS_OPTIONS.values()), ids=list(schema.CREDITS_OPTIONS))
def test_every_credits_option_changes_the_plan(option: OptionSpec) -> None:
    opt = option_text(option)
    assert planned(film(credits="CREDITS, 4s:")) != planned(film(credits=f"CREDITS, 4s, {opt}:"))


ACTION_LINE = list(schema.ACTION_LINE_OPTIONS.values())


@pytest.mark.parametrize("option", ACTION_LINE, ids=[o.name for o in ACTION_LINE])
def test_every_action_line_option_changes_the_plan(option: OptionSpec) -> None:
    opt = option_text(option)
    base = '"The sea is calm."'
    without = film(action=base)
    if option.value == "flag" and option.name != "show":  # a position shows only on a shown line
        without, opt = film(action=f"{base}, show"), f"show, {opt}"
        if option.name in DEFAULT_FLAGS:
            without = film(action=f"{base}, show, top")
    elif option.name in ("fade in", "fade out"):  # a fade shows only on a shown line
        without, opt = film(action=f"{base}, show"), f"show, {opt}"
    assert planned(without) != planned(film(action=f"{base}, {opt}")), f"{opt!r} on an action line changes nothing"


def test_the_pairs_cover_the_schema() -> None:
    """The generator reaches every option of every form (so a new one is tested at once)."""
    names = {o.name for _, _, _, o, _ in PAIRS} | set(schema.BEAT_OPTIONS) | set(schema.DIALOGUE_OPTIONS)
    names |= {o.name for a in schema.ACTIONS.values() for o in a.options} | set(schema.CREDITS_OPTIONS)
    names |= set(schema.ACTION_LINE_OPTIONS)
    assert names == set(schema.option_words())
