"""The studio's server and session without a browser: what it serves, what it refuses, the
events it sends, and what a script with errors does to the preview."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path

import pytest
from studio_support import FILM, Served, write_film

from nyeshc.studio.server import (
    MIN_STARLETTE,
    StarletteTooOld,
    check_starlette,
    create_app,
)
from nyeshc.studio.session import KEEP_PREVIEWS, Closed, Hub, Studio


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    """A studio whose first check and build are done (in this thread; no watcher)."""
    root = tmp_path_factory.mktemp("project")
    script = write_film(root)
    (root / "secret.txt").write_text("the project's own file", encoding="utf-8")
    studio = Studio(script, jobs=1)
    data, _ = studio.run_check()
    assert data["ok"], data["diagnostics"]
    assert studio.run_build(), studio.state()["progress"]
    return studio


@pytest.fixture(scope="module")
def site(built: Studio, serve_module) -> Served:
    """``built`` served for the tests that only read."""
    return serve_module(built)


def preview_name(studio: Studio) -> str:
    state = studio.state()
    assert state["preview"] is not None, state["progress"]
    return state["preview"]["url"].rsplit("/", 1)[1]


# --------------------------------------------------------------------------- what is served


def test_page_static_files_and_security_headers(built: Studio, site: Served) -> None:
    s = site
    status, headers, body = s.request("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'<video id="player"' in body and b"/static/studio.js" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for name, kind in (("studio.js", "text/javascript"), ("studio.css", "text/css")):
        status, headers, body = s.request(f"/static/{name}")
        assert status == 200 and headers["content-type"].startswith(kind) and body
    assert s.request("/static/missing.js")[0] == 404
    assert s.request("/nowhere")[0] == 404


def test_state_timeline_and_preview(built: Studio, site: Served) -> None:
    s = site
    status, _, body = s.request("/api/state")
    state = json.loads(body)
    assert status == 200 and state["check"]["ok"] and state["progress"]["stage"] == "done"
    preview = state["preview"]
    assert (preview["width"], preview["height"]) == (64, 36)  # half of 128x72
    assert preview["seconds"] == pytest.approx(3.5)  # 2 s + 2 s - a 0.5 s crossfade
    assert [f["name"].endswith("tiny.nysh") for f in state["check"]["files"]] == [True]
    status, headers, svg = s.request(preview["timeline_url"])
    assert status == 200 and headers["content-type"].startswith("image/svg+xml")
    assert svg.count(b'class="block scene"') == 2 and b'data-scene="2"' in svg
    wide = s.request(preview["timeline_url"] + "&width=3000")[2]
    assert b'width="3000"' in wide and b'width="1600"' in svg
    status, headers, video = s.request(preview["url"])
    assert status == 200 and headers["content-type"] == "video/mp4" and video[4:8] == b"ftyp"
    assert (built.preview_dir / preview_name(built)).read_bytes() == video
    assert built.preview_dir.parent == built.cache_dir == (built.root / ".nyeshc-cache")


def test_range_requests_for_the_video(built: Studio, site: Served) -> None:
    """Chromium's <video> seeks with Range requests: 206 with the asked bytes, 416 outside."""
    s = site
    url = built.state()["preview"]["url"]
    data = (built.preview_dir / preview_name(built)).read_bytes()
    status, headers, body = s.request(url, {"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(data)}"
    status, headers, body = s.request(url, {"Range": "bytes=-64"})
    assert status == 206 and body == data[-64:]
    status, headers, body = s.request(url, {"Range": f"bytes={len(data) - 10}-"})
    assert status == 206 and body == data[-10:]
    status, headers, body = s.request(url, method="HEAD")
    assert status == 200 and headers["accept-ranges"] == "bytes" and int(headers["content-length"]) == len(data)
    assert s.request(url, {"Range": f"bytes={len(data) + 5}-{len(data) + 9}"})[0] == 416


# --------------------------------------------------------------------------- what is refused


TRAVERSALS = [
    "/static/../session.py", "/static/..%2fsession.py", "/static/%2e%2e%2fserver.py",
    "/static/..%5cserver.py", "/static/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "/preview/../tiny.nysh", "/preview/..%2f..%2ftiny.nysh", "/preview/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/preview/..%252f..%252fsecret.txt", "/preview/preview-0123456789abcdef.mp4",
    "/%2e%2e/%2e%2e/secret.txt", "/static//etc/passwd", "/preview/%2Fetc%2Fpasswd",
    "/timeline.svg/../tiny.nysh", "/static/studio.js%00.mp4",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_refused(built: Studio, site: Served, path: str) -> None:
    s = site
    status, _, body = s.request(path)
    assert status in (403, 404), (path, status)
    assert b"project's own file" not in body and b"SCENE" not in body and b"root:" not in body
    assert b"import" not in body and len(body) < 200  # no file of the package either


def test_a_symlink_in_place_of_the_preview_is_not_followed(built: Studio, site: Served, tmp_path: Path) -> None:
    s = site
    name = preview_name(built)
    path = built.preview_dir / name
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"\0\0\0\x18ftypoutside the cache")
    real = path.with_name("kept-aside")
    os.replace(path, real)
    try:
        path.symlink_to(outside)
        status, _, body = s.request(f"/preview/{name}")
        assert status == 404 and b"outside the cache" not in body
    finally:
        path.unlink(missing_ok=True)
        os.replace(real, path)
    assert s.request(f"/preview/{name}")[2] == path.read_bytes()


def test_a_studio_folder_linked_out_of_the_cache_is_not_served(tmp_path: Path, serve) -> None:
    script = write_film(tmp_path / "p")
    studio = Studio(script, jobs=1)
    assert studio.run_build()
    name = preview_name(studio)
    elsewhere = tmp_path / "elsewhere"
    os.replace(studio.preview_dir, elsewhere)
    studio.preview_dir.symlink_to(elsewhere, target_is_directory=True)
    s = serve(studio)
    assert (studio.preview_dir / name).is_file()  # reachable through the link...
    assert s.request(f"/preview/{name}")[0] == 404  # ...but it lies outside the cache


def test_an_include_linked_out_of_the_project_is_not_shown(tmp_path: Path, serve) -> None:
    """The studio shows the sources the loader read; an include that is a symlink out of the
    project is refused (a diagnostic) and its text never reaches the page, unless the writer
    passes --allow-outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cast.nysh").write_text("# SECRET outside text\nlook C:\n    image: generate, seed 4\n",
                                       encoding="utf-8")
    root = tmp_path / "project"
    script = write_film(root, 'include "cast.nysh"\n' + FILM)
    (root / "cast.nysh").symlink_to(outside / "cast.nysh")
    for allow in (False, True):
        studio = Studio(script, jobs=1, allow_outside=allow)
        data, watched = studio.run_check()
        s = serve(studio)
        body = s.request("/api/state")[2].decode()
        if allow:
            assert "SECRET outside text" in body and data["ok"]
        else:
            assert "SECRET outside text" not in body and not data["ok"]
            assert any("cast.nysh" in d["message"] or d["line"] == 1 for d in data["diagnostics"])
        assert script.resolve() in watched


@pytest.mark.parametrize(("headers", "status"), [
    ({"Host": "evil.example:{port}"}, 403),  # DNS rebinding: another name that resolves here
    ({"Host": "127.0.0.1:1"}, 403),
    ({"Host": "127.0.0.1"}, 403),
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "http://127.0.0.1:1"}, 403),
    ({"Origin": "null"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Sec-Fetch-Site": "same-site"}, 403),
    ({"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}, 200),
    ({"Host": "localhost:{port}", "Origin": "http://localhost:{port}"}, 200),
    ({"Sec-Fetch-Site": "none"}, 200),  # typed into the address bar
    ({}, 200),
])
def test_requests_from_another_origin_are_refused(built: Studio, site: Served, headers: dict[str, str],
                                                  status: int) -> None:
    s = site
    filled = {k: v.format(port=s.port) for k, v in headers.items()}
    for path in ("/", "/api/state", built.state()["preview"]["url"], "/timeline.svg?build=1"):
        got, _, body = s.request(path, filled)
        assert got == status, (path, filled, got, body[:200])
        if status == 403:
            assert b"SCENE" not in body and b"ftyp" not in body


def test_only_get_and_head(built: Studio, site: Served) -> None:
    s = site
    for method in ("POST", "PUT", "DELETE"):
        assert s.request("/api/state", method=method)[0] == 405


# --------------------------------------------------------------------------- errors and builds


def test_errors_keep_the_last_good_preview(tmp_path: Path, serve) -> None:
    script = write_film(tmp_path)
    studio = Studio(script, jobs=1)
    s = serve(studio)
    assert studio.run_build()
    first = studio.state()["preview"]
    script.write_text(FILM.replace("backdrop: B", "backdrop: NOPE"), encoding="utf-8")
    data, _ = studio.run_check()
    assert not data["ok"] and data["errors"] >= 1
    bad = next(d for d in data["diagnostics"] if d["severity"] == "error")
    assert (bad["line"], bad["column"]) == (16, 15) and "NOPE" in bad["message"]
    assert not studio.run_build()
    state = json.loads(s.request("/api/state")[2])
    assert state["progress"]["stage"] == "failed" and "errors" in state["progress"]["message"]
    assert any(d["code"] == bad["code"] for d in state["progress"]["diagnostics"])
    assert state["preview"] == first  # the last good preview stays
    assert s.request(first["url"])[0] == 200
    # fixed with a change: a new preview, the previous one still served (a player may read it)
    script.write_text(FILM.replace("2s:\n    backdrop: B", "3s:\n    backdrop: B"), encoding="utf-8")
    assert studio.run_check()[0]["ok"] and studio.run_build()
    second = studio.state()["preview"]
    assert second["url"] != first["url"] and second["seconds"] == pytest.approx(4.5)
    assert s.request(first["url"])[0] == 200 and s.request(second["url"])[0] == 200
    script.write_text(FILM.replace("seed: 3", "seed: 4"), encoding="utf-8")
    assert studio.run_build()
    third = studio.state()["preview"]
    assert len({first["url"], second["url"], third["url"]}) == 3
    kept = sorted(p.name for p in studio.preview_dir.glob("preview-*.mp4"))
    assert len(kept) == KEEP_PREVIEWS and first["url"].rsplit("/", 1)[1] not in kept
    assert s.request(first["url"])[0] == 404
    assert not list(studio.preview_dir.glob("render-*"))  # no temporary file left behind


def test_the_cache_option_puts_previews_in_that_cache(tmp_path: Path) -> None:
    script = write_film(tmp_path / "p")
    studio = Studio(script, cache=tmp_path / "elsewhere", jobs=1)
    assert studio.run_build()
    assert list((tmp_path / "elsewhere" / "studio").glob("preview-*.mp4"))
    assert not (tmp_path / "p" / ".nyeshc-cache").exists()


def test_a_newer_save_supersedes_a_queued_build(tmp_path: Path) -> None:
    """While a build runs, any number of requests leave one build waiting."""
    release = threading.Event()
    calls: list[float] = []

    class Slow(Studio):
        def run_build(self) -> bool:
            calls.append(time.monotonic())
            if len(calls) == 1:
                release.wait(10)
            return True

        def _watch(self) -> None:  # requests come from the test, not from saves
            return

    studio = Slow(write_film(tmp_path))
    studio.start()
    try:
        studio.request_build()
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(5):
            studio.request_build()
        assert studio.hub.last("queued") is not None
        release.set()
        time.sleep(0.5)
        assert len(calls) == 2
    finally:
        studio.stop()


def test_a_save_is_checked_at_once_and_streamed_as_events(tmp_path: Path, serve) -> None:
    """The real watcher and builder behind /events: the first check, progress and preview,
    then a save with an error (a check event within a second), then a fix (a new preview)."""
    script = write_film(tmp_path)
    studio = Studio(script, jobs=1, interval=0.1)
    s = serve(studio)
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.request("GET", "/events", headers={"Host": s.host})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("content-type").startswith("text/event-stream")
    studio.start()  # after connecting, so that every event of the first build comes through

    passed: list[dict] = []  # the events next_event read past

    def next_event(kind: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        event, data = None, None
        while time.monotonic() < deadline:
            line = resp.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and event is not None:
                if event == kind:
                    return data
                passed.append({"event": event, **(data or {})})
                event, data = None, None
        raise AssertionError(f"no {kind} event within {timeout} s")

    try:
        assert next_event("check")["ok"]
        first = next_event("preview")
        # the first build's progress: planning, its jobs counted up to all of them, then the
        # render frame by frame up to all 84
        stages = [e["stage"] for e in passed if e["event"] == "progress"]
        assert stages[0] == "planning" and "jobs" in stages and stages[-1] == "render"
        assert stages.index("jobs") < stages.index("render")
        jobs = [e for e in passed if e.get("stage") == "jobs"]
        assert jobs[0]["done"] == 0 and jobs[-1]["done"] == jobs[-1]["total"] > 0
        renders = [e for e in passed if e.get("stage") == "render" and e["total"]]
        assert renders[-1]["done"] == renders[-1]["total"] == 84
        assert next_event("progress")["stage"] == "done"
        script.write_text(FILM.replace("backdrop: B", "backdrop: NOPE"), encoding="utf-8")
        saved = time.monotonic()
        check = next_event("check", timeout=5)
        assert not check["ok"] and time.monotonic() - saved < 2.0
        waiting = next_event("progress", timeout=5)
        assert waiting["stage"] == "waiting"
        script.write_text(FILM.replace("seed: 3", "seed: 5"), encoding="utf-8")
        assert next_event("check", timeout=5)["ok"]
        second = next_event("preview")
        assert second["url"] != first["url"] and second["build"] > first["build"]
    finally:
        conn.close()


def test_the_hub() -> None:
    hub = Hub(keep=3)
    a = hub.publish("check", {"n": 1})
    assert hub.wait(0, 0.01) == [a] and hub.wait(a.id, 0.01) == []
    got: list = []
    waiter = threading.Thread(target=lambda: got.extend(hub.wait(a.id, 5)))
    waiter.start()
    b = hub.publish("progress", {"n": 2})
    waiter.join(5)
    assert got == [b]
    for n in range(5):
        hub.publish("progress", {"n": 3 + n})
    # fell behind by more than `keep`: the latest of each kind, oldest first
    assert [e.kind for e in hub.wait(a.id, 0.01)] == ["check", "progress"]
    assert hub.last("progress") == {"n": 7}
    assert b"event: check\ndata: {\"n\":1}\n\n" in a.encode()
    hub.close()
    with pytest.raises(Closed):
        hub.wait(0, 1)


def test_a_save_of_an_include_is_checked(tmp_path: Path) -> None:
    """The watcher watches what the script includes: breaking the include shows its error."""
    script = write_film(tmp_path, 'include "cast.nysh"\n' + FILM.replace("look B:\n    image: generate, seed 2\n", ""))
    include = tmp_path / "cast.nysh"
    include.write_text("look B:\n    image: generate, seed 2\n", encoding="utf-8")
    studio = Studio(script, jobs=1, interval=0.1)
    first, watched = studio.run_check()
    assert first["ok"] and include.resolve() in watched
    assert sorted(f["name"].rsplit("/", 1)[-1] for f in first["files"]) == ["cast.nysh", "tiny.nysh"]
    studio.start()
    try:
        deadline = time.monotonic() + 10
        while (studio.hub.last("check") or {}).get("check", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the watcher's own first check
        include.write_text("look B:\n    image: generate, sed 2\n", encoding="utf-8")
        saved = time.monotonic()
        while time.monotonic() < saved + 5:
            check = studio.hub.last("check")
            if check is not None and not check["ok"]:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the include's error was not seen within 5 s")
        assert time.monotonic() - saved < 2.0
        bad = next(d for d in check["diagnostics"] if d["severity"] == "error")
        assert bad["file"].endswith("cast.nysh") and bad["line"] == 2
    finally:
        studio.stop()


def test_stopping_abandons_the_render(tmp_path: Path) -> None:
    """Ctrl-C (Studio.stop) during a build: the render stops at its next frame, no preview
    is published and nothing half-written is left in the studio folder."""
    studio = Studio(write_film(tmp_path), jobs=1)
    studio.stop()  # stopped before the build: it plans and runs its jobs, then stops rendering
    assert not studio.run_build()
    state = studio.state()
    assert state["preview"] is None and state["progress"]["stage"] == "stopped"
    assert not list(studio.preview_dir.iterdir())


def test_too_old_a_starlette_is_refused_with_the_fix(built: Studio) -> None:
    need = ".".join(map(str, MIN_STARLETTE))
    for old in ("0.37.2", "0.39.0", "0.49.0"):
        with pytest.raises(StarletteTooOld, match=rf"starlette>={need}"):
            check_starlette(old)
    for fine in (need, "0.50.0", "1.10.0", "2.0.0rc1"):
        check_starlette(fine)
    assert create_app(built, 1) is not None  # the installed one
