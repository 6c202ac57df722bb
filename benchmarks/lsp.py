"""Benchmark: time from ``didChange`` to ``publishDiagnostics`` for a 2,000-line script.

Starts ``nyeshc lsp`` over stdio with pygls' client, opens a generated script of about 2,000
lines (characters, looks, music and scenes), then makes edits (a name misspelt and fixed in
turn) and reports the latency from the client's ``didChange`` send to the receipt of the
``publishDiagnostics`` for that version: median, 90th percentile and worst, the server's CPU
time per edit (from ``/proc``: analysis, protocol and garbage collection together) and the
load average. Target: a median under 100 ms.

Edits are sent as an editor sends them: incremental changes (the misspelt name's range only;
``--full`` sends the whole document each time), ``--pause`` seconds apart after the previous
diagnostics arrived (default 0.2 s, a typist's gap between keystrokes). ``--burst N`` adds a
second measurement: N edits ``--burst-gap`` seconds apart (key repeat), timed from the last
one; the server should analyse the burst about once. ``--edit quote`` drops and restores a
closing quote instead (a syntax error: the parser's slower error-recovering path). ``--server`` runs another server script
(for comparing with a saved baseline). Run: ``python benchmarks/lsp.py [--edits 40]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp())
    path = folder / "big.nysh"
    text = script()
    path.write_text(text, encoding="utf-8")
    client = LanguageClient("bench", "1")
    arrived: asyncio.Queue[tuple[float, t.PublishDiagnosticsParams]] = asyncio.Queue()
    count = [0]

    @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: t.PublishDiagnosticsParams) -> None:
        count[0] += 1
        arrived.put_nowait((time.perf_counter(), params))

    server = [args.server] if args.server else ["-m", "nyeshc.cli", "lsp"]
    await client.start_io(sys.executable, *server, cwd=str(folder))
    pid = client._server.pid  # type: ignore[union-attr]  # pygls keeps the subprocess here
    await client.initialize_async(t.InitializeParams(capabilities=t.ClientCapabilities(), process_id=None))
    client.initialized(t.InitializedParams())
    uri = path.as_uri()
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        t.TextDocumentItem(uri=uri, language_id="nysh", version=1, text=text)))
    await arrived.get()

    # the edit: "C0" of the first beat becomes "CX0" (an unknown character) and back; with
    # --edit quote, the first dialogue line loses its closing quote (a syntax error: the
    # parser's error-recovering path) and gets it back
    if args.edit == "quote":
        offset = text.index('dialogue."') + len("dialogue.")
        insert = False  # the bad text lacks the character at offset
    else:
        offset = text.index("    C0, medium") + 5
        insert = True  # the bad text has an "X" at offset
    line = text.count("\n", 0, offset)
    column = offset - text.rfind("\n", 0, offset) - 1
    bad = text[:offset] + "X" + text[offset:] if insert else text[:offset] + text[offset + 1:]
    version = 1

    def send(misspelt: bool) -> None:
        nonlocal version
        version += 1
        change: t.TextDocumentContentChangeEvent
        if args.full:
            change = t.TextDocumentContentChangeWholeDocument(text=bad if misspelt else text)
        elif misspelt == insert:  # put a character in: the "X", or the quote back
            change = t.TextDocumentContentChangePartial(
                range=t.Range(t.Position(line, column), t.Position(line, column)), text="X" if insert else '"')
        else:
            change = t.TextDocumentContentChangePartial(
                range=t.Range(t.Position(line, column), t.Position(line, column + 1)), text="")
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(uri=uri, version=version), [change]))

    async def wait_for(v: int) -> tuple[float, t.PublishDiagnosticsParams]:
        while True:
            when, params = await arrived.get()
            if params.version == v:
                return when, params

    times: list[float] = []
    load_before = load()
    cpu0 = cpu_seconds(pid)
    for i in range(args.edits):
        await asyncio.sleep(args.pause)
        t0 = time.perf_counter()
        send(i % 2 == 0)
        when, params = await wait_for(version)
        assert bool(params.diagnostics) == (i % 2 == 0), params
        times.append((when - t0) * 1000)
    cpu = (cpu_seconds(pid) - cpu0) / args.edits * 1000
    load_after = load()

    burst: list[float] = []
    published = 0
    if args.burst:
        for _ in range(5):
            await asyncio.sleep(0.5)
            while not arrived.empty():
                arrived.get_nowait()
            before = count[0]
            for j in range(args.burst):
                if j:
                    await asyncio.sleep(args.burst_gap)
                t0 = time.perf_counter()
                send(j % 2 == 0)
            when, params = await wait_for(version)
            assert bool(params.diagnostics) == ((args.burst - 1) % 2 == 0), params
            burst.append((when - t0) * 1000)
            await asyncio.sleep(0.3)
            published += count[0] - before

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    how = ("whole-document" if args.full else "incremental") + (" syntax-error" if args.edit == "quote" else "")
    print(f"{text.count(chr(10))} lines, {args.edits} {how} edits {args.pause * 1000:.0f} ms apart: "
          f"didChange -> publishDiagnostics median {statistics.median(times):.1f} ms, "
          f"p90 {percentile(times, 0.9):.1f} ms, max {max(times):.1f} ms; "
          f"server CPU {cpu:.1f} ms per edit; load average {load_before} -> {load_after}")
    if burst:
        print(f"bursts of {args.burst} edits {args.burst_gap * 1000:.0f} ms apart: last edit -> diagnostics "
              f"median {statistics.median(burst):.1f} ms, max {max(burst):.1f} ms; "
              f"{published / len(burst):.1f} publishes per burst")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--edits", type=int, default=40)
    p.add_argument("--pause", type=float, default=0.2, help="seconds between an edit's diagnostics and the next edit")
    p.add_argument("--full", action="store_true", help="send the whole document with each edit")
    p.add_argument("--edit", choices=("name", "quote"), default="name",
                   help="misspell a character's name (default) or drop a closing quote (a syntax error)")
    p.add_argument("--burst", type=int, default=0, metavar="N", help="also time bursts of N edits")
    p.add_argument("--burst-gap", type=float, default=0.03)
    p.add_argument("--server", help="a Python script to run as the server instead of `nyeshc lsp`")
    asyncio.run(main(p.parse_args()))
