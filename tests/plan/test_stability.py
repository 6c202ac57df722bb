"""Editing or inserting a scene changes no other scene's jobs, keys or seeds."""

from __future__ import annotations


from plan_fakes import EXAMPLES, plan_text

from nyeshc.resolve import seeds
from nyeshc.plan.model import Plan

NYESHKERH = next(p for p in EXAMPLES if p.stem == "nyeshkerh").read_text(encoding="utf-8")


def scene_keys(p: Plan) -> dict[str, set[str]]:
    """Each scene's (by title) artifact keys: its layers, its audio and all their inputs,
    plus its segment key; and the film-wide jobs under ``""``."""
    jobs = {j.key: j for j in p.jobs}

    def closure(roots: set[str]) -> set[str]:
        out, todo = set(), list(roots)
        while todo:
            k = todo.pop()
            if k not in out:
                out.add(k)
                todo.extend(jobs[k].inputs)
        return out

    result: dict[str, set[str]] = {}
    for s in p.timeline.scenes:
        # voice lines are reached through the portraits' motion → voice.track → voice.speak
        result[s.title] = closure({layer.artifact for layer in s.layers}) | {s.key}
    result[""] = {j.key for j in p.jobs if j.scene is None}
    return result


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_editing_a_line_touches_only_its_scene() -> None:
    before = scene_keys(plan_text(NYESHKERH))
    after = scene_keys(plan_text(edit(NYESHKERH, '"Nobody but her."', '"Nobody but her, ever."')))
    changed = {t for t in before if before[t] != after.get(t)}
    assert changed == {"INT. CATHEDRAL - NIGHT"}
    assert after[""] == before[""]


def test_editing_a_caption_touches_only_its_scene() -> None:
    before = scene_keys(plan_text(NYESHKERH))
    after = scene_keys(plan_text(edit(NYESHKERH, 'is what we forgot', 'is what we kept')))
    assert {t for t in before if before[t] != after.get(t)} == {'SCENE 3 "Decodex"'}


NEW_SCENE = '''SCENE 9 "Inserted", 4s:
    backdrop: SEA
    caption: "new"

    NARRATOR:
        "An inserted line."

'''


def test_inserting_a_scene_changes_no_other_scenes_keys() -> None:
    before_plan = plan_text(NYESHKERH)
    before = scene_keys(before_plan)
    text = edit(NYESHKERH, "INT. CATHEDRAL - NIGHT, 22s:", NEW_SCENE + "CUT TO:\n\nINT. CATHEDRAL - NIGHT, 22s:")
    after_plan = plan_text(text)
    after = scene_keys(after_plan)
    assert set(after) == set(before) | {'SCENE 9 "Inserted"'}
    for title in before:
        if title == "CREDITS NYESH":
            continue  # starts later, but its content is the same
        assert before[title] == after[title], title
    assert before["CREDITS NYESH"] == after["CREDITS NYESH"]  # relative layers: same segment key
    # the inserted scene shifted everything after it, yet every old seed is unchanged
    assert all(after_plan.seeds[k] == v for k, v in before_plan.seeds.items())


def test_seeds_do_not_depend_on_file_position() -> None:
    a = plan_text('look X:\n    image: generate, seed 3\nlook Y:\n    image: generate\n\n'
                  'SCENE 1, 2s:\n    backdrop: X\nSCENE 2, 2s:\n    backdrop: Y\n')
    b = plan_text('look Y:\n    image: generate\nlook X:\n    image: generate, seed 3\n\n'
                  'SCENE 2, 2s:\n    backdrop: Y\nSCENE 1, 2s:\n    backdrop: X\n')
    assert a.seeds == b.seeds
    assert {j.key for j in a.jobs} == {j.key for j in b.jobs}
    assert a.seeds["look X"] == seeds.derive(0, "look X", 3)


def test_seed_derivation() -> None:
    s = seeds.derive(2020, "character NARRATOR / portrait", 11)
    assert 0 <= s < 2**32
    assert s == seeds.derive(2020, "character  NARRATOR/portrait", 11)
    assert s != seeds.derive(2020, "character NARRATOR / portrait", 12)
    assert s != seeds.derive(2021, "character NARRATOR / portrait", 11)
    assert s != seeds.derive(2020, "character NARRATOR / portrait")
