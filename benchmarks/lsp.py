"""Benchmark: time from ``didChange`` to ``publishDiagnostics`` for a 2,000-line script.

Starts ``nyeshc lsp`` over stdio with pygls' client, opens a generated script of about 2,000
lines (characters, looks, music and scenes), then makes 20 edits (a name misspelt and fixed in
turn) and reports the median and worst latency, debounce included (``NYESHC_LSP_DEBOUNCE``,
default 0.03 s). Target: under 100 ms. Run: ``python benchmarks/lsp.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as t
from pygls.lsp.client import LanguageClient


def script(lines: int = 2000) -> str:
    out = ['title: "Benchmark"', "canvas: 640x360, 24fps", ""]
    n = 0
    while len(out) < 400:
        out += [f"character C{n}:", "    portrait: generate, seed 3", "    voice: asemic, pitch 1.1", ""]
        out += [f"look L{n}:", "    image: generate, seed 5", ""]
        n += 1
    s = 0
    while len(out) < lines - 8:
        c, lk = f"C{s % n}", f"L{s % n}"
        out += [f'SCENE {s + 1} "Part {s + 1}":', f"    backdrop: {lk}, zoom 1.0 -> 1.1",
                f"    {c}, medium, left:", '        "A line of dialogue."', "        (softly)",
                '        "Another line."', ""]
        s += 1
    return "\n".join(out[:lines]) + "\n"


async def main() -> None:
    folder = Path(tempfile.mkdtemp())
    path = folder / "big.nysh"
    text = script()
    path.write_text(text, encoding="utf-8")
    client = LanguageClient("bench", "1")
    arrived: asyncio.Queue[tuple[float, t.PublishDiagnosticsParams]] = asyncio.Queue()

    @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: t.PublishDiagnosticsParams) -> None:
        arrived.put_nowait((time.perf_counter(), params))

    await client.start_io(sys.executable, "-m", "nyeshc.cli", "lsp", cwd=str(folder))
    await client.initialize_async(t.InitializeParams(capabilities=t.ClientCapabilities(), process_id=None))
    client.initialized(t.InitializedParams())
    uri = path.as_uri()
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri=uri, language_id="nysh", version=1, text=text)))
    await arrived.get()
    times = []
    bad = text.replace("    C0, medium", "    CX0, medium", 1)
    for i in range(20):
        body = bad if i % 2 == 0 else text
        t0 = time.perf_counter()
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(uri=uri, version=i + 2), [t.TextDocumentContentChangeWholeDocument(text=body)]))
        while True:
            when, params = await arrived.get()
            if params.version == i + 2:
                break
        assert bool(params.diagnostics) == (i % 2 == 0)
        times.append((when - t0) * 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    print(f"{text.count(chr(10))} lines, 20 edits: didChange -> publishDiagnostics "
          f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
