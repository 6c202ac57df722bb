"""Coverage-guided fuzzing of check + fmt with atheris: ``python fuzz/atheris_check.py CORPUS/ [libFuzzer flags]``.

The target is ``nysh_fuzz.run_one`` (neither command may raise; every span inside its text).
nyeshc imports some stages lazily (``check`` inside ``load_and_check``, the formatter's
helpers): the harness runs one script through the target while the import hook is active, so
every module the target reaches is instrumented, not only those imported at the top. Only
nyeshc is instrumented (lark too with ``NYSH_ATHERIS_LARK=1``: finer parser-state feedback, about
half the speed). See fuzz/README.md.
"""

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
_PATH = Path(tempfile.mkdtemp(prefix="nysh-atheris-")) / "fuzz.nysh"
_WARM = b'''title: "warm"
canvas: 64x36, 12fps
include "other.nysh"

look SKY:
    image: generate, seed 4

SCENE 1 "One", 2s:
    backdrop: SKY
    caption: "hi", bottom
'''

_INCLUDE = ["nyeshc", "nysh_fuzz"] + (["lark"] if os.environ.get("NYSH_ATHERIS_LARK") == "1" else [])

with atheris.instrument_imports(include=_INCLUDE):
    from nysh_fuzz import run_one

    run_one(_WARM, _PATH)  # imports the lazily imported stages under the hook


def test_one(data: bytes) -> None:
    run_one(data, _PATH)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
