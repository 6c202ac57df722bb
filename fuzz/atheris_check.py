"""Coverage-guided fuzzing of check + fmt with atheris: ``python fuzz/atheris_check.py [corpus/] [-max_len=4096]``.

The target is ``nysh_fuzz.run_one`` (neither command may raise; every span inside its text)."""

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
with atheris.instrument_imports():
    from nysh_fuzz import run_one

_PATH = Path(tempfile.mkdtemp(prefix="nysh-atheris-")) / "fuzz.nysh"


def test_one(data: bytes) -> None:
    run_one(data, _PATH)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
