"""``nyeshc models pull`` of Hugging Face models, against a fake Hub on 127.0.0.1.

The fake answers the four requests ``huggingface_hub.snapshot_download`` makes (the revision's
commit, the file tree, then HEAD and GET of each file under ``/resolve/<commit>/``) for one
tiny repo, a gated one and nothing else. ``HF_ENDPOINT`` points huggingface_hub at it;
huggingface_hub reads its environment when imported, so each pull runs in a fresh process."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {"model_index.json": b'{"_class_name": "StableDiffusionPipeline"}\n',
         "unet/config.json": b'{"sample_size": 8}\n',
         "unet/diffusion_pytorch_model.safetensors": bytes(range(256)) * 40}
LFS = {"unet/diffusion_pytorch_model.safetensors"}  # stored as the Hub stores weights: Git LFS


def git_oid(body: bytes) -> str:
    """The git blob id, which the Hub sends as the ETag of a file not in LFS."""
    return hashlib.sha1(b"blob %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


MANIFEST = '''version = 1
[models.tiny]
title = "a tiny pipeline"
licence = "Tiny Licence"
modality = "image"
backend = "image.diffusers"
hub = { repo = "owner/tiny", revision = "main" }

[models.locked]
title = "a gated pipeline"
licence = "Accept First Licence"
modality = "image"
backend = "image.diffusers"
hub = { repo = "owner/locked", revision = "main", gated = true }

[models.gone]
title = "a removed pipeline"
licence = "?"
modality = "image"
backend = "image.diffusers"
hub = { repo = "owner/gone", revision = "main" }
'''


def _handler(log: list[str]) -> type[http.server.BaseHTTPRequestHandler]:
    class Hub(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            log.append(f"{self.command} {self.path}")

        def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/api/models/owner/tiny/revision/"):
                self._send(200, json.dumps({"id": "owner/tiny", "sha": COMMIT}).encode(),
                           {"Content-Type": "application/json"})
            elif path == f"/api/models/owner/tiny/tree/{COMMIT}":
                tree = [{"type": "file", "path": f, "size": len(b), "oid": git_oid(b),
                         **({"lfs": {"oid": sha256(b), "size": len(b), "pointerSize": 134}} if f in LFS else {})}
                        for f, b in FILES.items()]
                self._send(200, json.dumps(tree).encode(), {"Content-Type": "application/json"})
            elif path.startswith(f"/owner/tiny/resolve/{COMMIT}/"):
                body = FILES.get(path.removeprefix(f"/owner/tiny/resolve/{COMMIT}/"))
                if body is None:
                    self._send(404, b"", {"X-Error-Code": "EntryNotFound"})
                else:
                    name = path.removeprefix(f"/owner/tiny/resolve/{COMMIT}/")
                    lfs = {"X-Linked-Etag": f'"{sha256(body)}"', "X-Linked-Size": str(len(body))} if name in LFS else {}
                    self._send(200, body, {"X-Repo-Commit": COMMIT, "ETag": f'"{git_oid(body)}"', **lfs})
            elif path.startswith("/api/models/owner/locked/"):
                self._send(403, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo", "X-Error-Message":
                                                       "Access to model owner/locked is restricted.",
                                                       "Content-Type": "application/json"})
            else:
                self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound",
                                                                      "Content-Type": "application/json"})

    return Hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    log: list[str] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def nyeshc(tmp_path: Path, endpoint: str, *args: str, offline: bool = False) -> subprocess.CompletedProcess[str]:
    (tmp_path / "m.toml").write_text(MANIFEST, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("HF_")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1",
               NYESHC_MODELS_DIR=str(tmp_path / "cache"), NYESHC_MODELS_MANIFEST=str(tmp_path / "m.toml"))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-m", "nyeshc.cli", "models", *args], check=False, capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)


def test_hub_model_is_pulled_into_the_hf_cache_and_configured(tmp_path: Path, hub: tuple[str, list[str]]) -> None:
    endpoint, log = hub
    proc = nyeshc(tmp_path, endpoint, "pull", "tiny", "--quiet")
    assert proc.returncode == 0, proc.stderr
    snapshot = tmp_path / "hf" / "hub" / "models--owner--tiny" / "snapshots" / COMMIT
    assert f"(commit {COMMIT}) in {snapshot}" in proc.stdout and "Tiny Licence" in proc.stdout
    for name, body in FILES.items():
        assert (snapshot / name).read_bytes() == body
    table = tomllib.loads((tmp_path / "nysh.toml").read_text(encoding="utf-8"))["profile"]["full"]["image"]
    assert table == {"backend": "image.diffusers", "model": str(snapshot)}
    record = json.loads((tmp_path / "cache" / "hashes.json").read_text(encoding="utf-8"))["hub:owner/tiny"]
    assert record["commit"] == COMMIT
    assert "Fetching" not in proc.stderr  # --quiet: no huggingface_hub progress bars
    assert any(line.startswith(f"GET /owner/tiny/resolve/{COMMIT}/unet/") for line in log)
    # offline afterwards: path and list find it in the cache, and nothing is asked of the Hub
    requests = len(log)
    proc = nyeshc(tmp_path, endpoint, "path", "tiny", offline=True)
    assert proc.returncode == 0 and proc.stdout.strip() == str(snapshot), proc.stderr
    proc = nyeshc(tmp_path, endpoint, "list", "--format", "json", offline=True)
    rows = {r["name"]: r for r in json.loads(proc.stdout)["models"]}
    assert rows["tiny"]["installed"] == "installed" and rows["gone"]["installed"] == "no"
    assert rows["tiny"]["source"] == "hf:owner/tiny"
    assert len(log) == requests
    # verify re-hashes the snapshot's blobs (SHA-256 for the LFS weights, git ids for the rest)
    proc = nyeshc(tmp_path, endpoint, "verify", "tiny", offline=True)
    assert proc.returncode == 0 and f"ok    owner/tiny at {COMMIT}: 3 file(s) match" in proc.stdout, proc.stdout
    blobs = tmp_path / "hf" / "hub" / "models--owner--tiny" / "blobs"
    assert (blobs / sha256(FILES["unet/diffusion_pytorch_model.safetensors"])).is_file()
    weights = (snapshot / "unet" / "diffusion_pytorch_model.safetensors").resolve()
    weights.write_bytes(b"damaged")
    proc = nyeshc(tmp_path, endpoint, "verify", "tiny", offline=True)
    assert proc.returncode == 1 and "BAD   owner/tiny: unet/diffusion_pytorch_model.safetensors hashes to" \
        in proc.stdout


def test_gated_and_missing_repos_say_what_to_do(tmp_path: Path, hub: tuple[str, list[str]]) -> None:
    endpoint, _ = hub
    proc = nyeshc(tmp_path, endpoint, "pull", "locked", "--quiet")
    assert proc.returncode == 1
    assert f"owner/locked is gated: accept its licence at {endpoint}/owner/locked" in proc.stderr
    assert "HF_TOKEN" in proc.stderr
    proc = nyeshc(tmp_path, endpoint, "pull", "gone", "--quiet")
    assert proc.returncode == 1 and f"owner/gone was not found on {endpoint}" in proc.stderr
    assert not (tmp_path / "nysh.toml").exists()


def test_offline_mode_is_honoured(tmp_path: Path, hub: tuple[str, list[str]]) -> None:
    endpoint, log = hub
    proc = nyeshc(tmp_path, endpoint, "pull", "tiny", "--quiet", offline=True)
    assert proc.returncode == 1
    assert "owner/tiny is not in the Hugging Face cache and HF_HUB_OFFLINE is set" in proc.stderr
    assert log == [] and not (tmp_path / "nysh.toml").exists()


def test_without_huggingface_hub_the_error_names_the_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.cli import main

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    (tmp_path / "m.toml").write_text(MANIFEST, encoding="utf-8")
    rc = main(["models", "pull", "tiny", "--manifest", str(tmp_path / "m.toml"), "--dir", str(tmp_path / "c"),
               "--config", str(tmp_path / "nysh.toml")])
    assert rc == 1
    assert "needs huggingface_hub: pip install 'nyeshc[hub]'" in capsys.readouterr().err
