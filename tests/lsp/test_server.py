"""Drive ``nyeshc lsp`` through pygls' own client over stdio, as an editor would.

Each test starts ``python -m nyeshc.cli lsp`` as a subprocess, opens scripts, and checks the
answers; positions are UTF-16 (the scripts carry astral characters such as 🎬, which are two
UTF-16 code units but one Python character).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as t  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

SCRIPT = '''title: "Café 🎬 noir"
canvas: 640x360, 24fps

include "cast.nysh"

look FOG:
    image: generate, seed 5

SCENE 1 "Ça 🎬":
    backdrop: FOG
    NARRATOR:
        "Où est le film? 🎬"
    NARATOR, at 2s:
        "Ici."
'''

CAST = '''character NARRATOR:
    portrait: generate, seed 3
    voice: asemic
'''

GOOD = SCRIPT.replace("NARATOR, at 2s", "NARRATOR, at 2s")


class Session:
    """A client talking to a fresh server."""

    def __init__(self, folder: Path, capabilities: t.ClientCapabilities | None = None) -> None:
        self.folder = folder
        self.capabilities = capabilities or t.ClientCapabilities()
        self.initialized: t.InitializeResult | None = None
        self.client = LanguageClient("nyeshc-tests", "1")
        self.diagnostics: dict[str, list[t.PublishDiagnosticsParams]] = {}
        self.arrived = asyncio.Event()

        @self.client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: t.PublishDiagnosticsParams) -> None:
            self.diagnostics.setdefault(params.uri, []).append(params)
            self.arrived.set()

        @self.client.feature(t.WINDOW_LOG_MESSAGE)
        def on_log(params: t.LogMessageParams) -> None:
            print("server log:", params.message, file=sys.stderr)

    async def __aenter__(self) -> Session:
        await self.client.start_io(sys.executable, "-m", "nyeshc.cli", "lsp", cwd=str(self.folder))
        self.initialized = await self.client.initialize_async(t.InitializeParams(
            capabilities=self.capabilities, root_uri=self.folder.as_uri(), process_id=None))
        self.client.initialized(t.InitializedParams())
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        finally:
            await self.client.stop()

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        text = path.read_text(encoding="utf-8") if text is None else text
        uri = path.as_uri()
        self.client.text_document_did_open(t.DidOpenTextDocumentParams(
            t.TextDocumentItem(uri=uri, language_id="nysh", version=version, text=text)))
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [t.TextDocumentContentChangeWholeDocument(text=text)]))

    async def wait_diagnostics(self, uri: str, ready: Callable[[list[t.Diagnostic]], bool] = lambda d: True,
                               timeout: float = 20) -> list[t.Diagnostic]:
        async def poll() -> list[t.Diagnostic]:
            while True:
                for p in reversed(self.diagnostics.get(uri, [])):
                    if ready(p.diagnostics):
                        return list(p.diagnostics)
                    break
                self.arrived.clear()
                await self.arrived.wait()
        return await asyncio.wait_for(poll(), timeout)


def run(folder: Path, scenario: Callable[[Session], Awaitable[Any]],
        capabilities: t.ClientCapabilities | None = None) -> Any:
    async def main() -> Any:
        async with Session(folder, capabilities) as s:
            return await scenario(s)
    return asyncio.run(asyncio.wait_for(main(), 50))


def pos(text: str, needle: str, delta: int = 0, nth: int = 0) -> t.Position:
    """The UTF-16 position of ``needle`` (its ``nth`` occurrence) plus ``delta`` characters."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += delta
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return t.Position(line, len(text[start:offset].encode("utf-16-le")) // 2)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "film.nysh").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "cast.nysh").write_text(CAST, encoding="utf-8")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "fog.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return tmp_path


def test_misspelt_name_gets_a_diagnostic_with_its_range(project: Path) -> None:
    async def scenario(s: Session) -> None:
        uri = s.open(project / "film.nysh")
        diags = await s.wait_diagnostics(uri, lambda d: bool(d))
        [d] = [d for d in diags if d.code == "E101"]
        assert d.range == t.Range(pos(SCRIPT, "NARATOR"), pos(SCRIPT, "NARATOR", len("NARATOR")))
        assert d.severity == t.DiagnosticSeverity.Error
        assert "did you mean NARRATOR?" in d.message
        # fix it in the buffer (unsaved): the diagnostic goes away
        s.change(uri, GOOD, 2)
        assert await s.wait_diagnostics(uri, lambda d: not d) == []
        # an error after astral characters: the column counts UTF-16 code units
        broken = GOOD.replace('"Ici."', '"Ici 🎬🎬.", voise "x.wav"')
        s.change(uri, broken, 3)
        diags = await s.wait_diagnostics(uri, lambda d: bool(d))
        [d] = [d for d in diags if d.code == "E202"]
        assert d.range.start == pos(broken, "voise")
        assert d.range.end == pos(broken, "voise", 5)
        assert d.range.start.character == len('        "Ici 🎬🎬.", ') + 2  # two emoji, four units
    run(project, scenario)


def test_complete_a_character_name_and_words(project: Path) -> None:
    async def scenario(s: Session) -> None:
        text = GOOD.replace('    NARRATOR, at 2s:', '    NAR')
        uri = s.open(project / "film.nysh", text)
        await s.wait_diagnostics(uri)
        got = await s.client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(uri), pos(text, "    NAR\n", 7)))
        labels = {i.label: i for i in got.items}
        assert "NARRATOR" in labels and labels["NARRATOR"].kind == t.CompletionItemKind.Class
        assert "backdrop" in labels
        # a value: the look names after "backdrop:"
        text2 = GOOD.replace("backdrop: FOG", "backdrop: F")
        s.change(uri, text2, 2)
        got = await s.client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(uri), pos(text2, "backdrop: F", 11)))
        labels = {i.label for i in got.items}
        assert "FOG" in labels and "NARRATOR" not in labels
        # options after a comma, asset paths inside quotes
        text3 = GOOD.replace("backdrop: FOG", 'backdrop: "assets/')
        s.change(uri, text3, 3)
        got = await s.client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(uri), pos(text3, 'backdrop: "assets/', 18)))
        assert [i.label for i in got.items] == ["assets/fog.png"]
        text4 = GOOD.replace("backdrop: FOG", "backdrop: FOG, ")
        s.change(uri, text4, 4)
        got = await s.client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(uri), pos(text4, "backdrop: FOG, ", 15)))
        assert {"zoom", "fade in", "at"} <= {i.label for i in got.items}
    run(project, scenario)


def test_hover_a_scene_and_a_name(project: Path) -> None:
    (project / "film.nysh").write_text(GOOD, encoding="utf-8")

    async def scenario(s: Session) -> None:
        uri = s.open(project / "film.nysh")
        assert await s.wait_diagnostics(uri) == []
        h = await s.client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier(uri), pos(GOOD, "SCENE 1", 2)))
        assert h is not None and "SCENE 1" in h.contents.value
        assert "on the timeline **0:00.00 – 0:" in h.contents.value, h.contents.value
        h = await s.client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier(uri), pos(GOOD, "NARRATOR", 3)))
        assert "**character NARRATOR**" in h.contents.value and "portrait: generate" in h.contents.value
        assert h.range == t.Range(pos(GOOD, "NARRATOR"), pos(GOOD, "NARRATOR", 8))
    run(project, scenario)


def test_go_to_definition_and_references_across_an_include(project: Path) -> None:
    async def scenario(s: Session) -> None:
        uri = s.open(project / "film.nysh", GOOD)
        await s.wait_diagnostics(uri)
        got = await s.client.text_document_definition_async(t.DefinitionParams(
            t.TextDocumentIdentifier(uri), pos(GOOD, "NARRATOR", 1, nth=1)))
        [loc] = got
        assert loc.uri == (project / "cast.nysh").as_uri()
        assert loc.range == t.Range(t.Position(0, 10), t.Position(0, 18))
        got = await s.client.text_document_definition_async(t.DefinitionParams(
            t.TextDocumentIdentifier(uri), pos(GOOD, "backdrop: FOG", 11)))
        assert got[0].uri == uri and got[0].range.start == pos(GOOD, "look FOG", 5)
        refs = await s.client.text_document_references_async(t.ReferenceParams(
            text_document=t.TextDocumentIdentifier(uri), position=pos(GOOD, "NARRATOR"),
            context=t.ReferenceContext(include_declaration=True)))
        assert len(refs) == 3
    run(project, scenario)


def test_rename_a_character_across_the_script_and_its_include(project: Path) -> None:
    async def scenario(s: Session) -> None:
        uri = s.open(project / "film.nysh", GOOD)
        await s.wait_diagnostics(uri)
        edit = await s.client.text_document_rename_async(t.RenameParams(
            t.TextDocumentIdentifier(uri), pos(GOOD, "NARRATOR", 2), "TELLER"))
        cast_uri = (project / "cast.nysh").as_uri()
        assert set(edit.changes) == {uri, cast_uri}
        assert {e.new_text for es in edit.changes.values() for e in es} == {"TELLER"}
        assert sorted(e.range.start.line for e in edit.changes[uri]) == [10, 12]
        assert [e.range for e in edit.changes[cast_uri]] == [t.Range(t.Position(0, 10), t.Position(0, 18))]
        with pytest.raises(Exception):
            await s.client.text_document_rename_async(t.RenameParams(
                t.TextDocumentIdentifier(uri), pos(GOOD, "NARRATOR", 2), "not a name"))
    run(project, scenario)


def test_format_outline_tokens_and_robustness(project: Path) -> None:
    messy = 'title:   "x 🎬"\ncharacter  A:\n    portrait:   generate\nSCENE 1:\n    A:\n        "hi"\n'

    async def scenario(s: Session) -> None:
        uri = s.open(project / "messy.nysh", messy)
        await s.wait_diagnostics(uri)
        edits = await s.client.text_document_formatting_async(t.DocumentFormattingParams(
            t.TextDocumentIdentifier(uri), t.FormattingOptions(tab_size=4, insert_spaces=True)))
        [e] = edits
        from nyeshc.syntax.format import format_source
        assert e.new_text == format_source(messy, "messy.nysh").text
        assert e.range.end == t.Position(6, 0)
        symbols = await s.client.text_document_document_symbol_async(t.DocumentSymbolParams(
            t.TextDocumentIdentifier(uri)))
        assert [(x.name, x.detail) for x in symbols] == [("A", "character"), ("SCENE 1", "scene")]
        tokens = await s.client.text_document_semantic_tokens_full_async(t.SemanticTokensParams(
            t.TextDocumentIdentifier(uri)))
        assert tokens.data and len(tokens.data) % 5 == 0
        # a request at a nonsense position answers nothing and the server lives on
        h = await s.client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(99, 99)))
        assert h is None
        h = await s.client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier("file:///nowhere/x.nysh"), t.Position(0, 0)))
        assert h is None
        got = await s.client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(uri), t.Position(3, 0)))
        assert "SCENE" in {i.label for i in got.items}
    run(project, scenario)


def test_hover_shows_a_cached_portrait_and_look_or_says_it_is_not_rendered(project: Path) -> None:
    """The hover reads the artifact cache (never renders): before a build it says so; once the
    cache holds the portrait and the look's rendering, it links a PNG preview of each."""
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")
    from nyeshc.backends.base import Portrait
    from nyeshc.commands.lsp import planner
    from nyeshc.lsp.analysis import analyse, preview_job
    from nyeshc.store.cache import Cache

    script = project / "film.nysh"
    script.write_text(GOOD, encoding="utf-8")
    film = analyse(script).loaded.film
    plan = planner()(script.resolve(), film)
    narrator = next(d for d in film.definitions if d.name == "NARRATOR")
    fog = next(d for d in film.definitions if d.name == "FOG")
    portrait_job, look_job = preview_job(plan, narrator), preview_job(plan, fog)
    assert portrait_job.output == "portrait" and look_job.output == "image"
    cache = Cache(project / ".nyeshc-cache")

    async def hover(s: Session, uri: str, needle: str, nth: int = 0) -> str:
        h = await s.client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier(uri), pos(GOOD, needle, 2, nth=nth)))
        assert h is not None
        return h.contents.value

    async def scenario(s: Session) -> tuple[str, str]:
        uri = s.open(script)
        assert await s.wait_diagnostics(uri) == []
        before = await hover(s, uri, "NARRATOR")
        assert "portrait not rendered yet — build the film to see it" in before and "![" not in before
        assert "look not rendered yet — build the film to see it" in await hover(s, uri, "FOG")
        # now "build": the artifacts go into the cache through its API, as the executor puts them
        face = np.zeros((50, 50, 4), np.uint8)
        face[..., 0], face[..., 3] = 200, 255
        cache.put(portrait_job.key, Portrait(image=face, mouth=(25.0, 35.0), face_box=(5.0, 5.0, 45.0, 45.0)),
                  backend=portrait_job.backend, kind=portrait_job.kind)
        sky = np.zeros((72, 128, 3), np.uint8)
        sky[:, :64, 2] = 255  # left half blue, right half black
        cache.put(look_job.key, sky, backend=look_job.backend, kind=look_job.kind)
        return await hover(s, uri, "NARRATOR"), await hover(s, uri, "FOG", nth=1)

    portrait_md, look_md = run(project, scenario)
    for md, job, kind, name in ((portrait_md, portrait_job, "character", "NARRATOR"), (look_md, look_job, "look", "FOG")):
        png = (project / ".nyeshc-cache" / "previews" / f"{job.key}.png").resolve()
        assert f"![{kind} {name}]({png.as_uri()})" in md, md
        assert "not rendered yet" not in md
    with Image.open(project / ".nyeshc-cache" / "previews" / f"{portrait_job.key}.png") as im:
        assert im.size == (50, 50) and im.convert("RGBA").getpixel((10, 10)) == (200, 0, 0, 255)
    with Image.open(project / ".nyeshc-cache" / "previews" / f"{look_job.key}.png") as im:
        rgb = im.convert("RGB")
        assert im.size == (128, 72) and rgb.getpixel((10, 10)) == (0, 0, 255) and rgb.getpixel((100, 10)) == (0, 0, 0)
    # previews are the only thing the hover wrote; no stray temporary files
    assert sorted(p.suffix for p in (project / ".nyeshc-cache" / "previews").iterdir()) == [".png", ".png"]


def test_positions_stay_utf16_when_the_client_prefers_utf8(project: Path) -> None:
    """Neovim offers utf-8 first; the server counts UTF-16 code units, so it must answer utf-16."""
    broken = GOOD.replace('"Ici."', '"Ici 🎬é.", voise "x.wav"')
    caps = t.ClientCapabilities(general=t.GeneralClientCapabilities(
        position_encodings=[t.PositionEncodingKind.Utf8, t.PositionEncodingKind.Utf16]))

    async def scenario(s: Session) -> None:
        assert s.initialized is not None
        assert s.initialized.capabilities.position_encoding == t.PositionEncodingKind.Utf16
        uri = s.open(project / "film.nysh", broken)
        diags = await s.wait_diagnostics(uri, lambda d: bool(d))
        [d] = [d for d in diags if d.code == "E202"]
        assert d.range.start == pos(broken, "voise")
        assert d.range.start.character == len('        "Ici 🎬é.", ') + 1  # the emoji is two units
    run(project, scenario, caps)


def test_a_burst_of_edits_publishes_only_diagnostics_of_the_text_they_name(project: Path) -> None:
    """Edits sent back to back are coalesced; whatever is published carries the version whose
    text it describes, versions never go back, and the last edit's diagnostics arrive."""
    async def scenario(s: Session) -> None:
        uri = s.open(project / "film.nysh", GOOD)
        assert await s.wait_diagnostics(uri) == []
        texts = {1: GOOD}
        for version in range(2, 11):  # misspelt on even versions (the last is 10), fixed on odd ones
            text = SCRIPT if version % 2 == 0 else GOOD
            texts[version] = text
            s.change(uri, text, version)
        await s.wait_diagnostics(uri, lambda d: s.diagnostics[uri][-1].version == 10)
        published = s.diagnostics[uri]
        versions = [p.version for p in published]
        assert versions == sorted(versions) and versions[-1] == 10
        for p in published:
            assert p.version in texts
            assert [d.code for d in p.diagnostics] == (["E101"] if texts[p.version] is SCRIPT else [])
        # the state after the burst is the last text's: a request sees it too
        h = await s.client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier(uri), pos(SCRIPT, "NARATOR", 2)))
        assert h is not None and "not defined" in h.contents.value
    run(project, scenario)
