"""Ships grammar/nysh.lark inside the wheel as nyeshc/grammar/nysh.lark.

The grammar lives at the top of the repository (the product's layout), so a build step copies
it into the package's build folder; everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithGrammar(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "nyeshc" / "grammar"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(__file__).parent / "grammar" / "nysh.lark", target / "nysh.lark")


setup(cmdclass={"build_py": BuildPyWithGrammar})
