"""``nyeshc models pull | verify | path | list`` against a local HTTP server on 127.0.0.1.

The server serves a few files from memory and can misbehave on purpose: cut a transfer after
some bytes the first time, stall before the body, answer 404. A manifest written by each test
(``--manifest``) points at it; nothing reaches the internet."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nyeshc.cli import main
from nyeshc.config import load_config

PAYLOAD = bytes(range(256)) * 1200 + b"tail"
PAYLOAD = PAYLOAD * 5  # 1.5 MB: more than one 1 MiB read
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Host:
    """What the server serves and how it misbehaves; ``requests`` records (path, Range)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_once: dict[str, int] = {}  # path -> bytes sent before the first transfer is cut
        self.stall: dict[str, float] = {}  # path -> seconds to wait before the body
        self.ignore_range = False
        self.busy = 0  # answer this many requests with 503 first
        self.requests: list[tuple[str, str | None]] = []


def _handler(host: Host) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            host.requests.append((self.path, rng))
            body = host.files.get(self.path)
            if host.busy:
                host.busy -= 1
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            if rng and not host.ignore_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if self.path in host.stall:
                time.sleep(host.stall[self.path])
            cut = host.cut_once.pop(self.path, None)
            if cut is not None:
                self.wfile.write(body[start:start + cut])
                self.wfile.flush()
                self.close_connection = True
                return
            try:
                self.wfile.write(body[start:])
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Host, str]]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    h = Host()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(h))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield h, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_manifest(path: Path, base: str, *, sha: str = SHA, size: int = len(PAYLOAD), name: str = "net",
                   url_path: str = "/ffhq.pkl", extra: str = "") -> Path:
    path.write_text(f'''version = 1

[models.{name}]
title = "a test network"
licence = "Test Licence 1.0 (non-commercial)"
modality = "portrait"
backend = "portrait.stylegan2"
settings = {{ w_dim = 512 }}
code = {{ repo = "https://example.invalid/code", commit = "abc1234", setting = "checkout", install = "git clone it" }}
files = [{{ path = "stylegan2/ffhq.pkl", url = "{base}{url_path}", size = {size}, sha256 = "{sha}", setting = "checkpoint" }}]
{extra}''', encoding="utf-8")
    return path


def pull(tmp_path: Path, manifest: Path, *args: str, name: str = "net") -> int:
    return main(["models", "pull", name, "--manifest", str(manifest), "--dir", str(tmp_path / "cache"),
                 "--config", str(tmp_path / "nysh.toml"), "--quiet", *args])


def leftovers(tmp_path: Path) -> list[str]:
    cache = tmp_path / "cache"
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_pull_downloads_checks_and_configures(tmp_path: Path, host: tuple[Host, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base)
    assert pull(tmp_path, manifest) == 0
    out = capsys.readouterr().out
    dest = tmp_path / "cache" / "stylegan2" / "ffhq.pkl"
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["stylegan2/ffhq.pkl"]
    assert f"sha256 {SHA}" in out and "Test Licence 1.0" in out
    # nysh.toml: the profile's portrait table names the file, and nyeshc's own loader reads it
    config = load_config(explicit=tmp_path / "nysh.toml")
    choice = config.profile("full").choice("portrait")
    assert choice.id == "portrait.stylegan2"
    assert choice.settings == {"checkpoint": str(dest), "w_dim": 512}
    # no checkout given: pull says how to get the code at the commit the adapter was checked against
    assert "abc1234" in out and "git clone it" in out
    # verify and path
    assert main(["models", "verify", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]) == 0
    assert f"ok    stylegan2/ffhq.pkl sha256 {SHA} (manifest)" in capsys.readouterr().out
    assert main(["models", "path", "net", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.strip() == str(dest)
    # a damaged file is found by verify
    dest.write_bytes(PAYLOAD[:-1] + b"!")
    assert main(["models", "verify", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]) == 1
    assert "BAD   stylegan2/ffhq.pkl" in capsys.readouterr().out


def test_cut_transfer_is_resumed_with_a_range_request(tmp_path: Path, host: tuple[Host, str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    h.cut_once["/ffhq.pkl"] = 300_000
    manifest = write_manifest(tmp_path / "m.toml", base)
    assert pull(tmp_path, manifest) == 0  # retries (2 by default) resume within one pull
    assert h.requests == [("/ffhq.pkl", None), ("/ffhq.pkl", "bytes=300000-")]
    assert (tmp_path / "cache" / "stylegan2" / "ffhq.pkl").read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["stylegan2/ffhq.pkl"]


def test_without_retries_a_cut_keeps_the_part_and_the_next_pull_resumes(
        tmp_path: Path, host: tuple[Host, str], capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    h.cut_once["/ffhq.pkl"] = 123_456
    manifest = write_manifest(tmp_path / "m.toml", base)
    assert pull(tmp_path, manifest, "--retries", "0") == 1
    err = capsys.readouterr().err
    assert "123456 bytes kept" in err and "run the same command to resume" in err
    assert leftovers(tmp_path) == ["stylegan2/ffhq.pkl.part"]
    assert not (tmp_path / "nysh.toml").exists()
    assert pull(tmp_path, manifest, "--retries", "0") == 0
    assert "resumed at byte 123456" in capsys.readouterr().out
    assert h.requests[-1] == ("/ffhq.pkl", "bytes=123456-")
    assert (tmp_path / "cache" / "stylegan2" / "ffhq.pkl").read_bytes() == PAYLOAD


def test_a_host_ignoring_range_restarts_from_zero(tmp_path: Path, host: tuple[Host, str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    h.cut_once["/ffhq.pkl"] = 1000
    h.ignore_range = True
    manifest = write_manifest(tmp_path / "m.toml", base)
    assert pull(tmp_path, manifest) == 0
    assert (tmp_path / "cache" / "stylegan2" / "ffhq.pkl").read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_leaves_nothing(tmp_path: Path, host: tuple[Host, str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    other = hashlib.sha256(b"another file").hexdigest()
    manifest = write_manifest(tmp_path / "m.toml", base, sha=other)
    (tmp_path / "nysh.toml").write_text("# mine\n", encoding="utf-8")
    assert pull(tmp_path, manifest) == 1
    err = capsys.readouterr().err
    assert f"SHA-256 {SHA} is not the expected {other}" in err and "removed" in err
    assert leftovers(tmp_path) == []
    assert (tmp_path / "nysh.toml").read_text(encoding="utf-8") == "# mine\n"


def test_wrong_size_is_refused_before_the_body(tmp_path: Path, host: tuple[Host, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base, size=len(PAYLOAD) + 1)
    assert pull(tmp_path, manifest) == 1
    assert f"the host sends {len(PAYLOAD)} bytes, the manifest says {len(PAYLOAD) + 1}" in capsys.readouterr().err
    assert leftovers(tmp_path) == []


def test_404_is_an_error_naming_the_url(tmp_path: Path, host: tuple[Host, str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _, base = host
    manifest = write_manifest(tmp_path / "m.toml", base, url_path="/gone.pkl")
    assert pull(tmp_path, manifest) == 1
    assert f"{base}/gone.pkl: HTTP 404" in capsys.readouterr().err
    assert leftovers(tmp_path) == []


def test_a_stalled_host_hits_the_timeout(tmp_path: Path, host: tuple[Host, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    h.stall["/ffhq.pkl"] = 3.0
    manifest = write_manifest(tmp_path / "m.toml", base)
    start = time.perf_counter()
    assert pull(tmp_path, manifest, "--timeout", "0.4", "--retries", "1") == 1
    took = time.perf_counter() - start
    err = capsys.readouterr().err
    assert "no data for 0.4 s (a slow or stalled host), after 2 attempts" in err
    assert took < 2.5, took  # two attempts of 0.4 s, not the host's 3 s each
    assert len(h.requests) == 2
    assert leftovers(tmp_path) == []


def test_unknown_hash_is_recorded_then_enforced(tmp_path: Path, host: tuple[Host, str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base, sha="", size=0)
    assert pull(tmp_path, manifest) == 0
    captured = capsys.readouterr()
    assert "the manifest publishes no SHA-256" in captured.err
    record = json.loads((tmp_path / "cache" / "hashes.json").read_text(encoding="utf-8"))
    assert record["stylegan2/ffhq.pkl"]["sha256"] == SHA
    assert main(["models", "verify", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]) == 0
    assert "(recorded at the first pull)" in capsys.readouterr().out
    # the host now serves other bytes: a second pull (after the file went) refuses them
    (tmp_path / "cache" / "stylegan2" / "ffhq.pkl").unlink()
    h.files["/ffhq.pkl"] = PAYLOAD[::-1]
    assert pull(tmp_path, manifest) == 1
    assert f"is not the expected {SHA}" in capsys.readouterr().err
    assert leftovers(tmp_path) == ["hashes.json"]


def test_manual_file_says_where_to_put_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(f'''version = 1
[models.lips]
title = "lips"
licence = "research only"
modality = "motion"
backend = "motion.wav2lip"
code = {{ repo = "https://example.invalid/w2l", commit = "5c90fa9", setting = "checkout", install = "git clone w2l" }}
files = [{{ path = "wav2lip/w.pth", manual = "https://drive.example/page", size = 7, sha256 = "{hashlib.sha256(b"weights").hexdigest()}", setting = "checkpoint" }}]
''', encoding="utf-8")
    assert pull(tmp_path, manifest, name="lips") == 1
    err = capsys.readouterr().err
    dest = tmp_path / "cache" / "wav2lip" / "w.pth"
    assert "https://drive.example/page" in err and str(dest) in err
    assert hashlib.sha256(b"weights").hexdigest() in err
    assert not (tmp_path / "nysh.toml").exists()
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"wrong")
    assert pull(tmp_path, manifest, name="lips") == 1
    assert "remove it and pull again" in capsys.readouterr().err
    dest.write_bytes(b"weights")
    checkout = tmp_path / "w2l"
    assert pull(tmp_path, manifest, "--checkout", str(checkout), name="lips") == 0
    table = tomllib.loads((tmp_path / "nysh.toml").read_text(encoding="utf-8"))["profile"]["full"]["motion"]
    assert table == {"backend": "motion.wav2lip", "checkpoint": str(dest), "checkout": str(checkout)}


def test_pull_keeps_the_users_nysh_toml(tmp_path: Path, host: tuple[Host, str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base)
    config = tmp_path / "nysh.toml"
    mine = '''# my settings
default_profile = "animatic"

[profile.full.portrait]
backend = "portrait.stylegan2"   # faces
checkout = "/src/sg2"
checkpoint = "/old/ffhq.pkl"
truncation = 0.7

[profile.full.music]
backend = "music.procedural"

[profile.draft.image]
backend = "image.procedural"
'''
    config.write_text(mine, encoding="utf-8")
    assert pull(tmp_path, manifest) == 0
    text = config.read_text(encoding="utf-8")
    dest = tmp_path / "cache" / "stylegan2" / "ffhq.pkl"
    data = tomllib.loads(text)
    # same backend: keys set in place, the others (checkout, truncation) and every comment kept
    assert data["profile"]["full"]["portrait"] == {"backend": "portrait.stylegan2", "checkout": "/src/sg2",
                                                   "checkpoint": str(dest), "truncation": 0.7, "w_dim": 512}
    assert data["profile"]["full"]["music"] == {"backend": "music.procedural"}
    assert data["profile"]["draft"] == {"image": {"backend": "image.procedural"}}
    assert text.startswith("# my settings\n") and text.count("\n") == mine.count("\n") + 1
    # the existing checkout was kept for the model's code, so pull printed no clone advice
    # another backend in the table: its old lines become comments, the new table replaces it
    config.write_text('[profile.full.portrait]\nbackend = "portrait.ganface"\nweights = "/w.tar"\n', encoding="utf-8")
    assert pull(tmp_path, manifest) == 0
    text = config.read_text(encoding="utf-8")
    assert tomllib.loads(text)["profile"]["full"]["portrait"] == {"backend": "portrait.stylegan2",
                                                                  "checkpoint": str(dest), "w_dim": 512}
    assert '# before `nyeshc models pull` (portrait.ganface): weights = "/w.tar"' in text


def test_forms_it_cannot_edit_are_left_alone(tmp_path: Path, host: tuple[Host, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base)
    config = tmp_path / "nysh.toml"
    for mine in ('[profile.full]\nportrait = { backend = "portrait.procedural" }\n',
                 '[profile.full]\nportrait.backend = "portrait.procedural"\n',
                 '[profile.full.portrait]\nbackend = "portrait.stylegan2"\ncheckpoint = """\n/x.pkl"""\n'):
        config.write_text(mine, encoding="utf-8")
        assert pull(tmp_path, manifest) == 1, mine
        err = capsys.readouterr().err
        assert "by hand" in err and "[profile.full.portrait]" in err
        assert config.read_text(encoding="utf-8") == mine


def test_no_config_and_as_and_profile(tmp_path: Path, host: tuple[Host, str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base)
    assert pull(tmp_path, manifest, "--no-config") == 0
    assert not (tmp_path / "nysh.toml").exists()
    assert pull(tmp_path, manifest, "--as", "image", "--profile", "faces") == 0  # the file is there: no request
    assert len(h.requests) == 1
    data = tomllib.loads((tmp_path / "nysh.toml").read_text(encoding="utf-8"))
    assert list(data["profile"]["faces"]) == ["image"]


def test_checkout_derives_settings(tmp_path: Path, host: tuple[Host, str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = tmp_path / "m.toml"
    write_manifest(manifest, base)
    text = manifest.read_text(encoding="utf-8").replace(
        'install = "git clone it" }', 'install = "git clone it", derived = { config = "{checkout}/config/vox-256.yaml" } }')
    manifest.write_text(text, encoding="utf-8")
    assert pull(tmp_path, manifest, "--checkout", str(tmp_path / "fomm")) == 0
    table = tomllib.loads((tmp_path / "nysh.toml").read_text(encoding="utf-8"))["profile"]["full"]["portrait"]
    assert table["checkout"] == str(tmp_path / "fomm")
    assert table["config"] == str(tmp_path / "fomm" / "config" / "vox-256.yaml")


def test_list_shows_licences_sizes_and_what_is_installed(tmp_path: Path, host: tuple[Host, str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base)
    args = ["models", "list", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]
    assert main([*args, "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["models"][0]
    assert (row["name"], row["licence"], row["size"], row["installed"]) == (
        "net", "Test Licence 1.0 (non-commercial)", len(PAYLOAD), "no")
    assert pull(tmp_path, manifest, "--no-config") == 0
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Test Licence 1.0" in out and "installed" in out and "1.5 MiB" in out


def test_shipped_manifest_lists_every_seed_model_with_licences(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    from nyeshc.backends.models.manifest import load_manifest

    manifest = load_manifest()
    backends = {m.backend for m in manifest.models.values()}
    assert {"portrait.stylegan2", "image.stylegan2", "motion.fomm", "motion.wav2lip", "music.jukebox",
            "image.diffusers"} <= backends
    for m in manifest.models.values():
        assert m.licence and (m.files or m.hub)
        for f in m.files:  # a hash is published or explicitly not known; never a placeholder
            assert f.sha256 == "" or len(f.sha256) == 64
    assert all(f.manual for m in manifest.models.values() if m.backend == "motion.wav2lip" for f in m.files)
    assert main(["models", "list", "--dir", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert {r["name"] for r in rows} >= {"stylegan2-ffhq", "fomm-vox", "wav2lip-gan", "jukebox-5b-lyrics", "sdxl"}


def test_unknown_model_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["models", "path", "stylegan2-ffhg", "--dir", str(tmp_path)]) == 2
    assert "did you mean stylegan2-ffhq" in capsys.readouterr().err


def test_hub_model_offline_mode_is_honoured(tmp_path: Path) -> None:
    """With HF_HUB_OFFLINE=1 and an empty Hugging Face cache, pull of a Hub model fails with
    the reason and writes nothing (huggingface_hub reads the variable when imported: a fresh
    process). The online path is not exercised here: that would need a fake Hub API."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "NYESHC_MODELS_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "nyeshc.cli", "models", "pull", "sd15", "--config",
                           str(tmp_path / "nysh.toml")], check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5 is not in the Hugging Face cache and HF_HUB_OFFLINE is set" \
        in proc.stderr
    assert not (tmp_path / "nysh.toml").exists()
    proc = subprocess.run([sys.executable, "-m", "nyeshc.cli", "models", "path", "sd15"], check=False,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "not in the Hugging Face cache" in proc.stderr


def test_fetch_reports_progress_in_order(tmp_path: Path, host: tuple[Host, str]) -> None:
    """The gate's progress callback (the command's bar on a terminal): bytes so far and the
    total, never decreasing, ending at the size; a resumed transfer starts at what was kept."""
    from nyeshc.backends.models.download import fetch

    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    h.cut_once["/ffhq.pkl"] = 200_000
    seen: list[tuple[int, int | None]] = []
    got = fetch(f"{base}/ffhq.pkl", tmp_path / "f.bin", size=len(PAYLOAD), sha256=SHA, retries=1,
                progress=lambda done, total: seen.append((done, total)))
    assert got.sha256 == SHA and got.attempts == 2 and got.resumed_from == 0
    assert all(total == len(PAYLOAD) for _, total in seen)
    first_of_second = seen.index((200_000, len(PAYLOAD)))
    assert [d for d, _ in seen[:first_of_second + 1]] == sorted(d for d, _ in seen[:first_of_second + 1])
    assert [d for d, _ in seen[first_of_second:]] == sorted(d for d, _ in seen[first_of_second:])
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))


@pytest.mark.parametrize(("entry", "message"), [
    ('{ path = "/abs.pkl", url = "http://x/a", size = 0, sha256 = "" }', "must be relative"),
    ('{ path = "../up.pkl", url = "http://x/a", size = 0, sha256 = "" }', "must be relative"),
    ('{ path = "a.pkl", url = "http://x/a", manual = "a page", size = 0, sha256 = "" }', "exactly one of url and manual"),
    ('{ path = "a.pkl", url = "http://x/a", size = 0, sha256 = "abc" }', "64 hex digits"),
    ('{ path = "a.pkl", url = "http://x/a", size = -1, sha256 = "" }', "whole number of bytes"),
])
def test_a_malformed_manifest_is_a_usage_error_naming_the_entry(tmp_path: Path, entry: str, message: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(f'''version = 1
[models.bad]
title = "t"
licence = "l"
modality = "image"
backend = "image.stylegan2"
files = [{entry}]
''', encoding="utf-8")
    assert main(["models", "list", "--manifest", str(manifest), "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "models.bad" in err and message in err


def test_two_pulls_of_one_file_at_once_do_not_share_the_part(tmp_path: Path, host: tuple[Host, str],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import fcntl

    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    manifest = write_manifest(tmp_path / "m.toml", base)
    lock = tmp_path / "cache" / "stylegan2" / ".ffhq.pkl.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+b") as held:  # another pull, mid-download
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert pull(tmp_path, manifest) == 1
        assert "another nyeshc models pull is downloading" in capsys.readouterr().err
        assert h.requests == []
    lock.unlink()
    assert pull(tmp_path, manifest) == 0
    assert leftovers(tmp_path) == ["stylegan2/ffhq.pkl"]  # the lock is removed after a pull


def test_folder_models_share_files_and_name_the_folder(tmp_path: Path, host: tuple[Host, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Jukebox's layout: files under one folder the `checkpoints` setting names; the VQ-VAE
    shared by two models is fetched once."""
    h, base = host
    vq, top_a, top_b = b"vqvae" * 1000, b"top a" * 1000, b"top b" * 1000
    h.files.update({"/5b/vqvae.pth.tar": vq, "/a/prior_level_2.pth.tar": top_a, "/b/prior_level_2.pth.tar": top_b})

    def model(name: str, top: bytes) -> str:
        return f'''
[models.{name}]
title = "{name}"
licence = "Noncommercial"
modality = "music"
backend = "music.jukebox"
settings = {{ model = "{name}" }}
folder = {{ setting = "checkpoints", path = "jukebox" }}
files = [
  {{ path = "jukebox/5b/vqvae.pth.tar", url = "{base}/5b/vqvae.pth.tar", size = {len(vq)}, sha256 = "{hashlib.sha256(vq).hexdigest()}" }},
  {{ path = "jukebox/{name}/prior_level_2.pth.tar", url = "{base}/{name}/prior_level_2.pth.tar", size = {len(top)}, sha256 = "{hashlib.sha256(top).hexdigest()}" }},
]
'''
    manifest = tmp_path / "m.toml"
    manifest.write_text("version = 1\n" + model("a", top_a) + model("b", top_b), encoding="utf-8")
    assert pull(tmp_path, manifest, name="a") == 0
    assert pull(tmp_path, manifest, name="b") == 0
    assert [p for p, _ in h.requests] == ["/5b/vqvae.pth.tar", "/a/prior_level_2.pth.tar", "/b/prior_level_2.pth.tar"]
    music = tomllib.loads((tmp_path / "nysh.toml").read_text(encoding="utf-8"))["profile"]["full"]["music"]
    assert music == {"backend": "music.jukebox", "model": "b", "checkpoints": str(tmp_path / "cache" / "jukebox")}
    capsys.readouterr()
    assert main(["models", "path", "a", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cache" / "jukebox")
    assert main(["models", "verify", "--manifest", str(manifest), "--dir", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.count("ok    ") == 3  # the shared file once


def test_a_busy_host_is_tried_again_and_a_cut_part_survives_it(tmp_path: Path, host: tuple[Host, str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    h, base = host
    h.files["/ffhq.pkl"] = PAYLOAD
    h.cut_once["/ffhq.pkl"] = 50_000
    manifest = write_manifest(tmp_path / "m.toml", base)
    assert pull(tmp_path, manifest, "--retries", "0") == 1  # cut: 50 000 bytes kept
    h.busy = 3
    assert pull(tmp_path, manifest, "--retries", "1") == 1
    err = capsys.readouterr().err
    assert "HTTP 503" in err and "50000 bytes kept" in err
    assert pull(tmp_path, manifest, "--retries", "1") == 0  # one more 503, then the rest
    assert h.requests[-1] == ("/ffhq.pkl", "bytes=50000-")
    assert (tmp_path / "cache" / "stylegan2" / "ffhq.pkl").read_bytes() == PAYLOAD
