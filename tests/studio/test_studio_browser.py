"""The studio in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright for Python, against ``nyeshc studio`` run as a command on a free port.

One test walks what a writer does: the page shows the player and the timeline; a click on the
second scene's block moves the video into that scene (and the playhead with it, as it does
while the video plays); a save that
breaks the script shows the diagnostics within :data:`DIAGNOSTICS_BOUND_S` and keeps the last
good preview; a save that fixes it with a change brings a new preview within
:data:`PREVIEW_BOUND_S`, at the same position. It takes the screenshots for ``docs/studio.md``:
into ``docs/img/`` with ``NYESHC_DOC_SCREENSHOTS=1`` (and then on a 640x360 canvas, a 320x180
preview, so the picture is legible), else into the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from studio_support import FILM, interrupt, start, write_film

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the studio's browser tests need Debian's chromium (/usr/bin/chromium: apt-get install chromium); "
           "Playwright's own browser downloads are not used",
)
sync_api = pytest.importorskip("playwright.sync_api")

DIAGNOSTICS_BOUND_S = 5.0  # a save with an error -> the diagnostics on the page
PREVIEW_BOUND_S = 30.0  # a save that fixes it -> the new preview in the player (2 images, 84 frames at 64x36)
DOCS = os.environ.get("NYESHC_DOC_SCREENSHOTS") == "1"
DOC_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_the_studio_in_chromium(tmp_path: Path) -> None:
    film = FILM.replace("canvas: 128x72", "canvas: 640x360") if DOCS else FILM
    script = write_film(tmp_path / "film", film)
    shots = DOC_IMG if DOCS else tmp_path
    proc, url, _ = start(script, "--port", "0", "--no-open")
    timings: dict[str, float] = {}
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            # Playwright's wait_for_function evaluates strings; the studio's CSP forbids that
            page = browser.new_page(viewport={"width": 1280, "height": 720}, bypass_csp=True)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            t0 = time.monotonic()
            page.goto(url)

            # the player and the timeline
            page.wait_for_function(
                "() => document.body.dataset.preview && document.getElementById('player').readyState >= 1"
                " && document.querySelectorAll('#timeline .block.scene').length === 2", timeout=60_000)
            timings["first preview shown"] = time.monotonic() - t0
            first = page.evaluate("() => document.body.dataset.preview")
            assert page.evaluate("() => document.getElementById('player').duration") == pytest.approx(3.5, abs=0.05)
            assert page.locator("#diagnostics li.none").inner_text() == "No problems."
            assert page.locator(".source .line").count() == FILM.count("\n") + 1

            # click the second scene: the video goes into it
            block = page.locator('#timeline .block.scene[data-scene="2"]')
            start_s, end_s = float(block.get_attribute("data-start")), float(block.get_attribute("data-end"))
            assert (start_s, end_s) == (1.5, 3.5)  # after the 0.5 s crossfade from scene 1
            block.click()
            page.wait_for_function("() => { const v = document.getElementById('player');"
                                   " return !v.seeking && v.currentTime > 0 && v.readyState >= 2; }", timeout=10_000)
            t = page.evaluate("() => document.getElementById('player').currentTime")
            assert start_s <= t < end_s and t >= 1.5
            svg = page.locator("#timeline svg")
            left, pps = float(svg.get_attribute("data-left")), float(svg.get_attribute("data-px-per-second"))
            x = float(page.locator("#timeline line.playhead").get_attribute("x1"))
            assert x == pytest.approx(left + t * pps, abs=0.5)  # the playhead is where the video is
            # the whole preview is loaded (Chromium draws a spinner over the frame until then)
            page.wait_for_function("() => { const v = document.getElementById('player');"
                                   " return v.readyState >= 4 && v.networkState !== 2; }", timeout=10_000)
            # Chromium's controls fade their loading spinner out after a delay; for the docs' picture
            page.wait_for_timeout(2000 if DOCS else 0)
            page.screenshot(path=str(shots / "studio.png"))

            # a save with an error: diagnostics at once, the last good preview kept
            script.write_text(film.replace("backdrop: B", "backdrop: NOPE"), encoding="utf-8")
            t0 = time.monotonic()
            page.wait_for_selector("#diagnostics li.error", timeout=DIAGNOSTICS_BOUND_S * 1000)
            timings["error shown"] = time.monotonic() - t0
            shown = page.locator("#diagnostics li.error").first.inner_text()
            assert "tiny.nysh:16:15" in shown and "NOPE" in shown
            assert page.locator(".line.error .ln").first.inner_text() == "16"
            assert page.locator(".line.error mark").first.inner_text() == "NOPE"
            page.wait_for_function("() => document.body.dataset.stage === 'waiting'", timeout=5_000)
            assert page.evaluate("() => document.body.dataset.preview") == first
            page.locator(".line.error").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "studio-errors.png"))

            # fixed with a change: a new preview within the bound, at the same position
            script.write_text(film.replace("seed: 3", "seed: 5"), encoding="utf-8")
            t0 = time.monotonic()
            page.wait_for_function(f"() => document.body.dataset.preview && document.body.dataset.preview !== "
                                   f"{json.dumps(first)}", timeout=PREVIEW_BOUND_S * 1000)
            timings["fixed -> new preview"] = time.monotonic() - t0
            assert page.locator("#diagnostics li.error").count() == 0
            assert page.evaluate("() => document.getElementById('player').currentTime") == pytest.approx(t, abs=0.05)
            assert page.evaluate("() => document.body.dataset.stage") == "done"

            # playing: the playhead follows the video
            page.evaluate("() => document.getElementById('player').play()")
            page.wait_for_function(f"() => document.getElementById('player').currentTime > {t + 0.4}",
                                   timeout=10_000)
            page.evaluate("() => document.getElementById('player').pause()")
            page.wait_for_function("() => document.getElementById('player').paused", timeout=5_000)
            page.wait_for_timeout(100)  # the last timeupdate after the pause
            played = page.evaluate("() => document.getElementById('player').currentTime")
            x = float(page.locator("#timeline line.playhead").get_attribute("x1"))
            assert played > t + 0.4 and x == pytest.approx(left + played * pps, abs=0.5)
            assert not errors, errors
            browser.close()
    finally:
        code, err = interrupt(proc)
    print("studio timings (s):", {k: round(v, 2) for k, v in timings.items()})
    assert code == 130, err
    for name in ("studio.png", "studio-errors.png"):
        assert (shots / name).stat().st_size > 10_000
