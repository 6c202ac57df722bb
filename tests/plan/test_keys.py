"""Job keys: stable across processes, changed by (and only by) what determines the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from plan_fakes import EXAMPLES, ROOT, plan_file
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_fakes import FakeServices

from nyeshc.config import BackendChoice, Profile, animatic_profile
from nyeshc.plan import keys

HERE = Path(__file__).parent

SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {here!r})
from plan_fakes import plan_file
print(json.dumps([[j.name, j.key] for j in plan_file(Path({example!r})).jobs]))
"""


def test_keys_are_identical_in_a_fresh_process() -> None:
    example = next(p for p in EXAMPLES if p.stem == "nyeshkerh")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(here=str(HERE), example=str(example))],
                         capture_output=True, text=True, cwd=ROOT, env=env, check=True).stdout
    theirs = json.loads(out)
    ours = [[j.name, j.key] for j in plan_file(example).jobs]
    assert theirs == ours


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)
fields = st.fixed_dictionaries({
    "kind": st.sampled_from(["image.latent", "voice.speak", "motion.lipsync"]),
    "backend": st.sampled_from(["", "image.procedural", "voice.procedural"]),
    "backend_version": st.sampled_from(["1", "2"]),
    "settings": st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    "params": st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    "inputs": st.lists(st.text("0123456789abcdef", min_size=4, max_size=4), max_size=3),
    "seed": st.integers(0, 2**32 - 1),
    "output": st.sampled_from(["image", "audio", "frames"]),
})


@settings(max_examples=200, deadline=None)
@given(a=fields, b=fields)
def test_key_changes_exactly_when_a_field_changes(a: dict, b: dict) -> None:
    same = keys.canonical(a) == keys.canonical(b)
    assert (keys.job_key(**a) == keys.job_key(**b)) == same


@settings(max_examples=100, deadline=None)
@given(a=fields)
def test_key_ignores_dict_order_and_tuple_vs_list(a: dict) -> None:
    shuffled = {**a, "params": dict(reversed(list(a["params"].items()))),
                "settings": dict(reversed(list(a["settings"].items()))), "inputs": tuple(a["inputs"])}
    assert keys.job_key(**a) == keys.job_key(**shuffled)


def test_canonical_json() -> None:
    assert keys.canonical({"b": 1, "a": (Fraction(1, 3), 0.1, -0.0)}) == '{"a":["1/3",0.1,0.0],"b":1}'


def _profile_with(modality: str, **settings: object) -> Profile:
    base = animatic_profile()
    return Profile("t", {**base.backends, modality: BackendChoice(base.choice(modality).id, dict(settings))})


def test_a_backend_setting_changes_exactly_that_backends_jobs_and_their_dependants() -> None:
    example = next(p for p in EXAMPLES if p.stem == "nyeshkerh")
    before = plan_file(example)
    after = plan_file(example, FakeServices(_profile_with("voice", base_f0=120.0)))
    changed = {j.name + "|" + j.kind for j in before.jobs} ^ {j.name + "|" + j.kind for j in after.jobs}
    assert not changed  # same jobs, same names
    old = {(j.name, j.kind): j.key for j in before.jobs}
    new = {(j.name, j.kind): j.key for j in after.jobs}
    by_key = {j.key: j for j in before.jobs}
    # expected: voice jobs, then everything downstream of them
    dirty = {j.key for j in before.jobs if j.backend == "voice.procedural"}
    for j in before.jobs:
        if any(k in dirty for k in j.inputs):
            dirty.add(j.key)
    for name_kind, key in old.items():
        assert (new[name_kind] != key) == (key in dirty), (name_kind, by_key[key].backend)
    assert any(by_key[k].kind == "motion.lipsync" for k in dirty)
    assert not any(by_key[k].kind.startswith("image.") for k in dirty)


def test_a_backend_version_bump_changes_its_jobs() -> None:
    example = next(p for p in EXAMPLES if p.stem == "tour-captions")
    a = {j.name: j.key for j in plan_file(example).jobs if j.kind == "image.latent"}
    b = {j.name: j.key for j in plan_file(example, FakeServices(versions={"image": "2"})).jobs
         if j.kind == "image.latent"}
    assert a.keys() == b.keys() and all(a[n] != b[n] for n in a)
