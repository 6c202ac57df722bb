"""Places and prompts (LANGUAGE.md, "Places and prompts"; issue #18, the language side): a
look's prompt reaches the image generator, and a scene with no backdrop gets its heading's
place, one seed per place, lit by its time of day."""

from __future__ import annotations

from nyeshc.check import context_for, run
from plan_fakes import plan_text

HEAD = "canvas: 160x90, 8fps\n\n"


def latents(p: object) -> list:
    return [j for j in p.jobs if j.kind == "image.latent"]  # type: ignore[attr-defined]


def test_a_prompt_on_a_look_reaches_the_generator() -> None:
    text = HEAD + 'look DROWNED:\n    image: generate "a drowned  cathedral at dusk", seed 311\n\n' \
        'SCENE 1, 2s:\n    backdrop: DROWNED\n'
    assert [d.code for d in run(context_for(text, "film.nysh"))] == []
    [job] = latents(plan_text(text))
    assert job.params["prompt"] == "a drowned cathedral at dusk" and job.name == "look DROWNED"


def test_a_scene_without_a_backdrop_shows_its_heading_place() -> None:
    text = HEAD + "INT. CATHEDRAL - NIGHT, 2s:\n    caption: \"a\"\n\nEXT. SEA - DAY, 2s:\n    caption: \"b\"\n\n" \
        "INT. CATHEDRAL - DAY, 2s:\n    caption: \"c\"\n\nSCENE 4, 2s:\n    caption: \"d\"\n"
    p = plan_text(text)
    jobs = {j.name: j for j in latents(p)}
    assert {n: j.params["prompt"] for n, j in jobs.items()} == {
        "place CATHEDRAL / night": "cathedral night", "place SEA / day": "sea day",
        "place CATHEDRAL / day": "cathedral day"}
    # one seed per place: the cathedral at night and by day is the same composition
    assert jobs["place CATHEDRAL / night"].seed == jobs["place CATHEDRAL / day"].seed
    assert jobs["place SEA / day"].seed != jobs["place CATHEDRAL / day"].seed
    backdrops = [[L.kind for L in s.layers if L.kind == "still"] for s in p.timeline.scenes]
    assert backdrops == [["still"], ["still"], ["still"], []]  # a SCENE heading names no place


def test_places_morph_into_each_other() -> None:
    text = HEAD + "INT. CATHEDRAL - NIGHT, 2s:\n    caption: \"a\"\n\nMORPH TO: 1s\n\nEXT. SEA - DAWN, 2s:\n" \
        "    caption: \"b\"\n"
    assert [d.code for d in run(context_for(text, "film.nysh"))] == []  # no W207: both are generated
    [o] = plan_text(text).timeline.overlaps
    assert o.kind == "morph" and o.morph is not None
