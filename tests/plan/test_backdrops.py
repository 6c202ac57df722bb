"""Backdrop forms the planner must turn into layers (none may vanish silently)."""

from __future__ import annotations

from nyeshc.plan.model import SequenceLayer, StillLayer
from plan_fakes import plan_text

SEEDED = """canvas: 64x36, 12fps
SCENE 1, 2s:
    backdrop: seed 99, pan left
MORPH TO: 1s
SCENE 2, 2s:
    backdrop: seed 5
"""


def test_a_seed_backdrop_is_a_generated_still_and_morphs() -> None:
    p = plan_text(SEEDED)
    for scene in p.timeline.scenes:
        (layer,) = scene.layers
        assert isinstance(layer, StillLayer)
        job = p.job(layer.artifact)
        assert job.kind == "image.render"
        (latent,) = job.inputs
        assert p.job(latent).kind == "image.latent"
    first = p.job(p.timeline.scenes[0].layers[0].artifact)
    assert first.params["width"] > 64  # rendered with a margin for the pan
    (overlap,) = p.timeline.overlaps
    assert overlap.kind == "morph" and overlap.morph is not None
    morph = p.job(overlap.morph)
    assert [p.job(k).name for k in morph.inputs] == ["image / seed 99", "image / seed 5"]


def test_a_morph_backdrop_is_a_frame_sequence() -> None:
    p = plan_text(SEEDED.replace("backdrop: seed 99, pan left", "backdrop: morph seed 1 -> seed 2"))
    layer = p.timeline.scenes[0].layers[0]
    assert isinstance(layer, SequenceLayer) and layer.role == "morph"
    assert p.job(layer.artifact).params["frames"] == layer.end - layer.start
