"""The long fuzz run's machinery (benchmarks/fuzz.py): checkpoints and resume, failure
minimisation and de-duplication. (The fuzzing itself is test_fuzz.py's.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import fuzz as runner  # noqa: E402  (benchmarks/fuzz.py)


def test_minimize_keeps_the_failure_and_drops_the_rest() -> None:
    data = b'title: "x"\ncanvas: 64x36, 12fps\n\nSCENE 1 "a", 1s:\n    backdrop: \x00BOOM\xff\n    music: M\n'
    small = runner.minimize(data, lambda d: b"BOOM" in d)
    assert small == b"BOOM"
    # a failure that needs two distant parts keeps both
    small = runner.minimize(data, lambda d: b"title" in d and b"music" in d)
    assert small == b"titlemusic"


def test_signature_names_the_innermost_nyeshc_frame(tmp_path: Path) -> None:
    from nyeshc.world import World

    try:
        World(tmp_path).resolve("a\x00b")
    except ValueError as exc:
        sig = runner.signature(exc)
    assert sig.startswith("ValueError@world.py:")


def test_failures_are_saved_once_per_signature_with_the_smallest_input(tmp_path: Path) -> None:
    f = {"signature": "KeyError@lower.py:12", "traceback": "tb", "input": b"long input".hex(),
         "minimal": b"long".hex()}
    assert runner.save_failure(tmp_path, f) is True
    assert runner.save_failure(tmp_path, {**f, "minimal": b"lo".hex()}) is False
    assert runner.save_failure(tmp_path, {**f, "minimal": b"longer".hex()}) is False
    (folder,) = (tmp_path / "failures").iterdir()
    assert (folder / "minimal.nysh").read_bytes() == b"lo"
    assert (folder / "count").read_text() == "3"
    assert (folder / "traceback.txt").read_text().startswith("KeyError@lower.py:12")


def test_chunks_are_reproducible() -> None:
    corpus = [b'title: "x"\n', b"SCENE 1, 1s:\n    backdrop: A\n"]
    assert runner.chunk_inputs(0, 3, 20, corpus) == runner.chunk_inputs(0, 3, 20, corpus)
    assert runner.chunk_inputs(0, 3, 20, corpus) != runner.chunk_inputs(0, 4, 20, corpus)


def test_a_run_is_checkpointed_and_resumed(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    common = ["--workers", "1", "--chunk", "5", "--generated", "2", "--max-bytes", "400", "--out", str(out)]
    assert runner.main(["--count", "10", *common]) == 0
    state = json.loads((out / "state.json").read_text())
    assert state["inputs"] == 10 and sorted(state["done"]) == [0, 1] and state["failures"] == 0
    assert (out / "seeds.json").exists()
    assert runner.main(["--count", "20", *common]) == 2  # an existing run is not overwritten
    assert runner.main(["--count", "20", "--resume", *common]) == 0
    state = json.loads((out / "state.json").read_text())
    assert state["inputs"] == 20 and sorted(state["done"]) == [0, 1, 2, 3] and state["sessions"] == 2
    assert runner.main(["--count", "20", "--resume", *common[:-2], "--seed", "1", "--out", str(out)]) == 2
    text = capsys.readouterr().out
    assert "fuzzed 20/20 inputs in 2 session(s)" in text
