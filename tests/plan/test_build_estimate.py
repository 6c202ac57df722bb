"""``nyeshc plan``'s ``build`` line: start-up + check + plan, the jobs over the workers, the render."""

from __future__ import annotations

import re
from types import SimpleNamespace

from nyeshc.commands.plan import build_line

LINE = re.compile(r"build  ~([\d.]+)s on (\d+) cores \(start \+ check \+ plan ~([\d.]+)s, jobs ~([\d.]+)s, "
                  r"render ~([\d.]+)s\)\n")


def _parts(line: str) -> tuple[float, int, float, float, float]:
    m = LINE.fullmatch(line)
    assert m, line
    total, cores, front, jobs, render = m.groups()
    return float(total), int(cores), float(front), float(jobs), float(render)


def test_the_jobs_share_the_workers_and_the_parts_add_up() -> None:
    est = SimpleNamespace(to_render=3, seconds=10.0)
    total, cores, front, jobs, render = _parts(build_line([4.0, 4.0, 2.0, 2.0], est, workers=2, front=0.5))
    assert (cores, front, jobs, render) == (2, 0.5, 6.0, 10.0) and total == 16.5
    # one worker runs them one after another; four run them at once, but none faster than its own
    assert _parts(build_line([4.0, 4.0, 2.0, 2.0], est, workers=1))[3] == 12.0
    assert _parts(build_line([4.0, 4.0, 2.0, 2.0], est, workers=4))[3] == 4.0
    # the last build's measured render over its estimate scales the render
    assert _parts(build_line([], est, factor=1.5, workers=2))[4] == 15.0


def test_nothing_left_to_do_prints_no_line() -> None:
    assert build_line([], SimpleNamespace(to_render=0, seconds=0.0), workers=2) == ""
    assert _parts(build_line([1.0], SimpleNamespace(to_render=0, seconds=0.0), workers=2))[4] == 0.0
