"""The protocol side of ``nyeshc lsp`` (pygls 2, stdio).

Open buffers become :class:`~nyeshc.world.World` overlays, so the checker sees unsaved text;
a script's includes are analysed with the script that includes them when it is open. Every
handler is wrapped: an exception is logged (to stderr and the client's log) and the request
answers "nothing", never killing the server. Positions are UTF-16 code units, as LSP
requires, converted with :class:`~nyeshc.diagnostics.LineIndex`.

Latency (edit → diagnostics; ``benchmarks/lsp.py``): an edit is analysed at once on a worker
thread, while the event loop goes on reading; edits that arrive meanwhile are coalesced into
one more analysis (:meth:`NyeshServer.schedule`). The cyclic garbage collector is held off
from an edit's analysis until its diagnostics are sent (the analysis allocates a whole tree of
acyclic IR, which a collection in the middle would walk, and a full one every module too); the
objects alive at start-up are frozen out of full collections (:func:`warm_up`).
A request right after an edit (semantic tokens, hover…) waits for that analysis rather than
running its own; completion takes names from the newest analysis, even one edit behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import from_fs_path, to_fs_path

from nyeshc import __version__
from nyeshc.diagnostics import Diagnostic, LineIndex, Span
from nyeshc.lsp.analysis import (TOKEN_MODIFIERS, TOKEN_TYPES, Analysis, Planner, analyse, complete)
from nyeshc.syntax.format import format_source

log = logging.getLogger("nyeshc.lsp")
F = TypeVar("F", bound=Callable[..., Any])

#: an extra wait before an edit's analysis starts (seconds). None by default: edits that arrive
#: while an analysis runs are coalesced into the next one (see :meth:`NyeshServer.schedule`), so
#: a wait would only add its length to every edit's latency; a slow machine may trade latency
#: for fewer analyses with ``NYESHC_LSP_DEBOUNCE=0.1``.
DEBOUNCE_S = float(os.environ.get("NYESHC_LSP_DEBOUNCE", "0"))

_COMPLETION_KIND = {
    "character": t.CompletionItemKind.Class, "look": t.CompletionItemKind.Color,
    "music": t.CompletionItemKind.Event, "alphabet": t.CompletionItemKind.Enum,
    "keyword": t.CompletionItemKind.Keyword, "transition": t.CompletionItemKind.Keyword,
    "option": t.CompletionItemKind.Property, "property": t.CompletionItemKind.Field,
    "file": t.CompletionItemKind.File, "folder": t.CompletionItemKind.Folder,
}
_SYMBOL_KIND = {
    "character": t.SymbolKind.Class, "look": t.SymbolKind.Interface, "music": t.SymbolKind.Event,
    "alphabet": t.SymbolKind.Enum, "unknown": t.SymbolKind.Variable, "scene": t.SymbolKind.Module,
    "transition": t.SymbolKind.Operator, "credits": t.SymbolKind.Module, "beat": t.SymbolKind.Field,
}
_SEVERITY = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning,
             "info": t.DiagnosticSeverity.Information}


def _path(uri: str) -> Path:
    return Path(to_fs_path(uri) or uri).resolve()


def _uri(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()


class NyeshProtocol(LanguageServerProtocol):
    """pygls' protocol, always speaking UTF-16 positions.

    pygls picks the first encoding of the client's ``general.positionEncodings`` (Neovim offers
    ``utf-8`` first), but every conversion here counts UTF-16 code units, which LSP requires
    every client to accept: so the server offers only that (a non-ASCII line would otherwise
    get its diagnostics and highlighting in the wrong columns)."""

    @lsp_method(t.INITIALIZE)
    def lsp_initialize(self, params: t.InitializeParams) -> Any:
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            general.position_encodings = [t.PositionEncodingKind.Utf16]
        return (yield from super().lsp_initialize(params))


class NyeshServer(LanguageServer):
    def __init__(self, planner: Planner | None = None) -> None:
        super().__init__("nyeshc", __version__, protocol_cls=NyeshProtocol)
        self.planner = planner
        self.analyses: dict[Path, Analysis] = {}   # by main script
        self.stale: set[Path] = set()              # main scripts whose analysis is behind the buffers
        self.edits: dict[Path, int] = {}           # main script → edits seen (to spot stale results)
        self.refreshing: dict[Path, asyncio.Task[None]] = {}  # main script → its analyse-and-publish
        self.published: dict[Path, set[str]] = {}  # main script → URIs it published diagnostics for
        self.lock = threading.Lock()               # one analysis at a time, worker or event loop
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="nyeshc-analysis")

    # ------------------------------------------------------------------ documents and analyses

    def overlays(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for uri, doc in list(self.workspace.text_documents.items()):
            if uri.startswith("file:"):
                out[str(_path(uri))] = doc.source
        return out

    def is_open(self, path: Path) -> bool:
        return any(uri.startswith("file:") and _path(uri) == path for uri in list(self.workspace.text_documents))

    def root_of(self, path: Path) -> Path:
        """The open script that includes ``path`` (or ``path`` itself)."""
        for main, a in self.analyses.items():
            if main != path and any(p == path for p in a.loaded.paths.values()):
                return main
        return path

    def analysis(self, uri: str) -> tuple[Analysis, str] | None:
        """The (fresh) analysis that covers ``uri`` and the span file name of ``uri`` in it."""
        path = _path(uri)
        main = self.root_of(path)
        a = self.analyses.get(main)
        if a is None or main in self.stale:
            a = self.reanalyse(main)
        file = a.file_for(path)
        if file is None:
            return None
        return a, file

    async def current(self, uri: str) -> tuple[Analysis, str] | None:
        """:meth:`analysis`, after the analysis of the latest edits under way (if any) is done:
        a request right after an edit waits for it instead of analysing the same text again."""
        main = self.root_of(_path(uri))
        task = self.refreshing.get(main)
        if task is not None and not task.done() and main in self.stale:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
        return self.analysis(uri)

    def latest(self, uri: str) -> tuple[Analysis, str] | None:
        """The newest analysis covering ``uri``, even one edit behind (completion only takes
        names from it); a fresh one when there is none yet."""
        path = _path(uri)
        a = self.analyses.get(self.root_of(path))
        if a is None:
            return self.analysis(uri)
        file = a.file_for(path)
        return (a, file) if file is not None else None

    def _analyse(self, main: Path, overlays: dict[str, str]) -> Analysis:
        with self.lock:
            return analyse(main, overlays)

    def reanalyse(self, main: Path) -> Analysis:
        """Analyse ``main`` now, on the event loop (a request that needs the current text)."""
        edits = self.edits.get(main, 0)
        a = self._analyse(main, self.overlays())
        self.analyses[main] = a
        if self.edits.get(main, 0) == edits:
            self.stale.discard(main)
        return a

    def schedule(self, uri: str, delay: float = 0.0) -> None:
        """Analyse the scripts ``uri`` belongs to and publish their diagnostics.

        At most one analysis of a script runs at a time, on a worker thread, so the event loop
        goes on reading messages meanwhile; the edits that arrive while it runs are taken
        together by one more analysis right after it (its now out-of-date diagnostics are not
        published). That is the debounce: an edit after a pause is analysed at once, and a
        burst of edits costs one analysis more than fit in it, never a fixed wait per edit.
        ``delay`` (``DEBOUNCE_S`` for an edit) adds a wait before an analysis starts."""
        path = _path(uri)
        mains = {self.root_of(path)} | {m for m, a in self.analyses.items()
                                        if any(p == path for p in a.loaded.paths.values())}
        for main in mains:
            self.stale.add(main)
            self.edits[main] = self.edits.get(main, 0) + 1
            task = self.refreshing.get(main)
            if task is None or task.done():
                self.refreshing[main] = asyncio.get_event_loop().create_task(self._refresh(main, delay))

    async def _refresh(self, main: Path, delay: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if delay:
                    await asyncio.sleep(delay)
                edits = self.edits.get(main, 0)
                versions = {uri: doc.version for uri, doc in list(self.workspace.text_documents.items())}
                collecting = gc.isenabled()
                gc.disable()  # no collection between the edit and its diagnostics (see the module's notes)
                try:
                    a = await loop.run_in_executor(self.worker, self._analyse, main, self.overlays())
                    if self.edits.get(main, 0) != edits:
                        continue  # edited meanwhile: analyse the newer text
                    if not self.is_open(main):
                        return  # closed meanwhile
                    self.analyses[main] = a
                    self.stale.discard(main)
                    self.send_diagnostics(main, a, versions)
                    return
                finally:
                    if collecting:
                        gc.enable()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log_exception("diagnostics")

    def send_diagnostics(self, main: Path, a: Analysis, versions: dict[str, int | None]) -> None:
        by_uri: dict[str, list[t.Diagnostic]] = {}
        for file, path in a.loaded.paths.items():
            by_uri[_uri(path)] = []
        main_uri = _uri(main)
        by_uri.setdefault(main_uri, [])
        for d in a.diagnostics:
            path = a.path_of(d.span.file)
            uri = _uri(path) if path is not None else main_uri
            by_uri.setdefault(uri, []).append(to_lsp_diagnostic(d, a))
        for uri in self.published.get(main, set()) - set(by_uri):
            by_uri[uri] = []  # clear what an include that is gone had
        self.published[main] = {u for u, ds in by_uri.items() if ds}
        for uri, diags in by_uri.items():
            self.text_document_publish_diagnostics(
                t.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=versions.get(uri)))

    def log_exception(self, where: str) -> None:
        text = traceback.format_exc()
        log.error("nyeshc lsp: %s failed:\n%s", where, text)
        try:
            self.window_log_message(t.LogMessageParams(type=t.MessageType.Error,
                                                       message=f"nyeshc: {where} failed:\n{text}"))
        except Exception:  # noqa: BLE001 - logging must never raise
            pass


# --------------------------------------------------------------------------- conversions


def lsp_range(a: Analysis, span: Span) -> t.Range:
    index = a.index(span.file)
    sl, sc = index.utf16_position(span.start)
    el, ec = index.utf16_position(max(span.start, span.end))
    return t.Range(t.Position(sl, sc), t.Position(el, ec))


def to_lsp_diagnostic(d: Diagnostic, a: Analysis) -> t.Diagnostic:
    related = []
    for label in d.labels:
        path = a.path_of(label.span.file)
        if path is not None:
            related.append(t.DiagnosticRelatedInformation(t.Location(_uri(path), lsp_range(a, label.span)),
                                                          label.message))
    message = d.message + "".join(f"\n{h}" for h in d.hints)
    return t.Diagnostic(range=lsp_range(a, d.span), message=message, severity=_SEVERITY.get(d.severity),
                        code=d.code, source="nyeshc", related_information=related or None)


def _offset(a: Analysis, file: str, pos: t.Position) -> int:
    return a.index(file).offset_from_utf16(pos.line, pos.character)


def _location(a: Analysis, span: Span) -> t.Location | None:
    path = a.path_of(span.file)
    return t.Location(_uri(path), lsp_range(a, span)) if path is not None else None


# --------------------------------------------------------------------------- the server


def safe(server: NyeshServer, default: Any = None) -> Callable[[F], F]:
    def wrap(fn: F) -> F:
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any) -> Any:
                try:
                    return await fn(*args)
                except Exception:
                    server.log_exception(fn.__name__)
                    return default
            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception:
                server.log_exception(fn.__name__)
                return default
        return run  # type: ignore[return-value]
    return wrap


def create_server(planner: Planner | None = None) -> NyeshServer:
    server = NyeshServer(planner)

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    @safe(server)
    def did_open(ls: NyeshServer, params: t.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    @safe(server)
    def did_change(ls: NyeshServer, params: t.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, DEBOUNCE_S)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    @safe(server)
    def did_save(ls: NyeshServer, params: t.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    @safe(server)
    def did_close(ls: NyeshServer, params: t.DidCloseTextDocumentParams) -> None:
        path = _path(params.text_document.uri)
        if path in ls.analyses:
            for uri in ls.published.pop(path, set()) | {params.text_document.uri}:
                ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
            ls.analyses.pop(path, None)
        if ls.root_of(path) != path:  # an include: its script now reads it from disk again
            ls.schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_COMPLETION,
                    t.CompletionOptions(trigger_characters=[",", ":", '"', "/", " "]))
    @safe(server)
    def completion(ls: NyeshServer, params: t.CompletionParams) -> t.CompletionList:
        uri = params.text_document.uri
        doc = ls.workspace.get_text_document(uri)
        index = LineIndex(doc.source)
        offset = index.offset_from_utf16(params.position.line, params.position.character)
        line, column = index.position(offset)
        found = ls.latest(uri) if uri.startswith("file:") else None
        a = found[0] if found else None
        items = []
        for c in complete(doc.source, line, column, _path(uri).parent, a):
            item = t.CompletionItem(label=c.label, kind=_COMPLETION_KIND.get(c.kind), detail=c.detail or None)
            if c.insert is not None:
                item.insert_text = c.insert
                item.insert_text_format = t.InsertTextFormat.Snippet if "$" in c.insert else None
            items.append(item)
        return t.CompletionList(is_incomplete=False, items=items)

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    @safe(server)
    async def hover(ls: NyeshServer, params: t.HoverParams) -> t.Hover | None:
        found = await ls.current(params.text_document.uri)
        if found is None:
            return None
        a, file = found
        offset = _offset(a, file, params.position)
        sym = a.symbol_at(file, offset)
        pictured = sym is not None and sym.definition is not None and sym.definition.kind in ("character", "look")
        if (pictured or a.scene_at(file, offset) is not None) and not a.planned and ls.planner is not None:
            # plan off the event loop (voice backends may take a moment), at most once per analysis:
            # a scene's times, and the job keys of a portrait's or a look's cached rendering
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(loop.run_in_executor(None, a.timeline, ls.planner), 10)
            except Exception:
                ls.log_exception("planning for hover")
        result = a.hover(file, offset, ls.planner)
        if result is None:
            return None
        text, span = result
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text), range=lsp_range(a, span))

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    @safe(server)
    async def definition(ls: NyeshServer, params: t.DefinitionParams) -> list[t.Location] | None:
        found = await ls.current(params.text_document.uri)
        if found is None:
            return None
        a, file = found
        sym = a.symbol_at(file, _offset(a, file, params.position))
        if sym is None or sym.definition is None:
            return None
        loc = _location(a, sym.definition.name_span)
        return [loc] if loc else None

    @server.feature(t.TEXT_DOCUMENT_REFERENCES)
    @safe(server)
    async def references(ls: NyeshServer, params: t.ReferenceParams) -> list[t.Location] | None:
        found = await ls.current(params.text_document.uri)
        if found is None:
            return None
        a, file = found
        sym = a.symbol_at(file, _offset(a, file, params.position))
        if sym is None:
            return None
        spans = sym.spans
        if not params.context.include_declaration and sym.definition is not None:
            spans = [s for s in spans if s != sym.definition.name_span]
        return [loc for s in spans if (loc := _location(a, s)) is not None]

    @server.feature(t.TEXT_DOCUMENT_PREPARE_RENAME)
    @safe(server)
    async def prepare_rename(ls: NyeshServer, params: t.PrepareRenameParams) -> t.Range | None:
        found = await ls.current(params.text_document.uri)
        if found is None:
            return None
        a, file = found
        offset = _offset(a, file, params.position)
        sym = a.symbol_at(file, offset)
        if sym is None:
            return None
        span = next(s for s in sym.spans if s.file == file and s.start <= offset <= s.end)
        return lsp_range(a, span)

    @server.feature(t.TEXT_DOCUMENT_RENAME)
    async def rename(ls: NyeshServer, params: t.RenameParams) -> t.WorkspaceEdit | None:
        # not wrapped in safe(): a bad new name is answered with the error, as LSP expects
        found = await ls.current(params.text_document.uri)
        if found is None:
            return None
        a, file = found
        try:
            edits = a.rename(file, _offset(a, file, params.position), params.new_name)
        except ValueError:
            raise
        except Exception:
            ls.log_exception("rename")
            return None
        if edits is None:
            return None
        changes: dict[str, list[t.TextEdit]] = {}
        for f, items in edits.items():
            path = a.path_of(f)
            if path is None:
                continue
            changes[_uri(path)] = [t.TextEdit(lsp_range(a, s), new) for s, new in items]
        return t.WorkspaceEdit(changes=changes)

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @safe(server)
    async def document_symbol(ls: NyeshServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol] | None:
        found = await ls.current(params.text_document.uri)
        if found is None:
            return None
        a, file = found
        out = []
        for name, kind, span, sel, kids in a.outline(file):
            children = [t.DocumentSymbol(name=n, kind=_SYMBOL_KIND[k], range=lsp_range(a, s),
                                         selection_range=lsp_range(a, ss), detail=k) for n, k, s, ss in kids]
            out.append(t.DocumentSymbol(name=name or "?", kind=_SYMBOL_KIND.get(kind, t.SymbolKind.Variable),
                                        range=lsp_range(a, span), selection_range=lsp_range(a, sel),
                                        detail=kind, children=children or None))
        return out

    @server.feature(t.TEXT_DOCUMENT_FORMATTING)
    @safe(server)
    def formatting(ls: NyeshServer, params: t.DocumentFormattingParams) -> list[t.TextEdit] | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        text = doc.source
        result = format_source(text, _path(params.text_document.uri).name)
        if result.text is None or result.text == text:
            return []
        index = LineIndex(text)
        end = index.utf16_position(len(text))
        return [t.TextEdit(t.Range(t.Position(0, 0), t.Position(*end)), result.text)]

    @server.feature(t.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                    t.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS))
    @safe(server)
    async def semantic_tokens(ls: NyeshServer, params: t.SemanticTokensParams) -> t.SemanticTokens:
        found = await ls.current(params.text_document.uri)
        if found is None:
            return t.SemanticTokens(data=[])
        a, file = found
        index = a.index(file)
        data: list[int] = []
        prev_line = prev_col = 0
        for start, end, kind, decl in a.tokens(file):
            # one token per line (triple-quoted strings span lines)
            pos = start
            while pos < end:
                line, _ = index.position(pos)
                line_end = index.starts[line + 1] - 1 if line + 1 < len(index.starts) else len(index.text)
                stop = min(end, line_end)
                if stop > pos:
                    l0, c0 = index.utf16_position(pos)
                    _, c1 = index.utf16_position(stop)
                    delta_line = l0 - prev_line
                    delta_col = c0 - prev_col if delta_line == 0 else c0
                    data += [delta_line, delta_col, c1 - c0, TOKEN_TYPES.index(kind), 1 if decl else 0]
                    prev_line, prev_col = l0, c0
                pos = line_end + 1
        return t.SemanticTokens(data=data)

    return server


def warm_up() -> None:
    """Build the parser's tables (a tiny script read once), then move everything alive — modules,
    tables, the checker's schema — out of the cyclic collector's way for good
    (:func:`gc.freeze`): a full collection then walks only what analyses made."""
    from nyeshc.syntax import read

    read('title: "warm-up"\n', "<warm-up>")
    gc.collect()
    gc.freeze()


def serve(planner: Planner | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    server = create_server(planner)
    warm_up()
    server.start_io()
