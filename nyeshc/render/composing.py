"""The segments a render must encode, composed and encoded by one process or several.

:func:`compose_spans` composes a run of segments' frames and feeds each to its own encoder
(pipelined: a segment's encoder is waited for after the next one's frames are sent), caching
each encode under its key. :class:`Composers` runs that in ``--jobs`` forked processes, each on
a run of consecutive segments (:func:`share`), with progress over a pipe; the first failure stops
the others and is raised with its own message; Ctrl-C and SIGTERM are the build's to handle
(:mod:`nyeshc.render.segments` calls both; see ``docs/rendering.md``, "Segments").
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.plan.model import Timeline
from nyeshc.render.compositor import Compositor, RenderError
from nyeshc.render.encoder import EncodeError, Encoder, Interrupted, sigterm_guard
from nyeshc.store.cache import Cache
from nyeshc.store.pages import forking

__all__ = ["PROGRESS_FRAMES", "Composers", "Piece", "compose_spans", "share"]

Piece = tuple[int, int, str, Path]
"""A segment to make: its frames ``[start, end)``, its key, the file its encode is written to."""


def compose_spans(timeline: Timeline, cache: Cache, items: list[Piece], video_args: list[str],
                  step: Callable[[int], None]) -> None:
    """Compose and encode each ``(start, end, key, file)`` of ``items`` (frames ``[start, end)``)
    and cache the encode under ``key``; ``step(n)`` after each ``n`` frames sent to an encoder.

    A segment's encoder is finished (waited for, its file cached) only after the next segment's
    frames have been composed and sent: x264 fills and drains its pipeline at each start and
    end, and the cores would idle through that drain if the next segment waited for it."""
    comp = Compositor(timeline, cache)
    pending: tuple[Encoder, str, Path] | None = None

    def finish() -> None:
        nonlocal pending
        if pending is not None:
            enc, key, seg = pending
            pending = None
            try:
                enc.close()
            except BaseException:
                enc.abort()
                raise
            cache.put(key, np.fromfile(seg, dtype=np.uint8), kind="render.segment")

    try:
        for start, end, key, seg in items:
            enc = Encoder(seg, timeline.width, timeline.height, timeline.fps, video_args=video_args,
                          container_args=())
            try:
                sent = 0
                for f in range(start, end):
                    enc.write(comp.frame(f))
                    sent += 1
                    if sent == PROGRESS_FRAMES:
                        step(sent)
                        sent = 0
                if sent:
                    step(sent)
                enc.end_input()
            except BaseException:
                enc.abort()
                raise
            finish()  # the previous segment's encoder, done draining by now
            pending = (enc, key, seg)
        finish()
    finally:
        if pending is not None:  # an error or an interrupt: kill the encoder still draining
            pending[0].abort()


PROGRESS_FRAMES = 4
"""Frames composed between two progress reports (a composing process sends each report over a pipe)."""


def share(todo: list[Piece], workers: int) -> list[list[Piece]]:
    """``todo`` cut into at most ``workers`` runs of consecutive segments with about as many
    frames each (consecutive, so each process reads its frame sequences in order)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1  # the composers share the timeline and the cache by forking
    workers = max(1, min(workers, len(todo)))
    total = sum(end - start for start, end, _, _ in todo)
    groups: list[list[Piece]] = [[]]
    acc = 0
    for item in todo:
        if groups[-1] and len(groups) < workers and acc >= total * len(groups) / workers:
            groups.append([])
        groups[-1].append(item)
        acc += item[1] - item[0]
    return [g for g in groups if g]


_STOPPING = frozenset({signal.SIGINT, signal.SIGTERM})


class Composers:
    """:func:`compose_spans` for each group of segments in a process of its own, forked when
    made (before any progress bar's thread exists; the timeline and the cache's open files are
    shared as they are). Progress comes back over a pipe (:meth:`wait`); the first failure
    stops the others (SIGTERM: each aborts its encoder, so no half-written segment is cached)
    and is raised with its own message; :meth:`stop` ends them all (an interrupt, an error)."""

    def __init__(self, timeline: Timeline, cache: Cache, groups: list[list[Piece]], video_args: list[str]) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.reader, writer = ctx.Pipe(duplex=False)
        self.procs = [ctx.Process(target=_composer, args=(timeline, cache, group, video_args, writer), daemon=True)
                      for group in groups]
        # Ctrl-C or SIGTERM arriving during a fork would be raised inside the interpreter's
        # at-fork hooks, which swallow it: the signals wait (blocked) until the forks are done
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
        try:
            with forking():  # (a composer's collections then walk only its own objects)
                for p in self.procs:
                    p.start()
        except BaseException:
            self.procs = [p for p in self.procs if p.pid is not None]
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            self.stop()
            raise
        finally:
            writer.close()
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a signal that came in is raised here
        except BaseException:
            self.stop()
            raise

    def wait(self, step: Callable[[int], None]) -> None:
        running = len(self.procs)
        failure: tuple[str, str] | None = None
        while running:
            try:
                message = self.reader.recv()
            except EOFError:  # every composer has exited (one may have died without a word)
                break
            if message[0] == "frames":
                step(message[1])
            elif message[0] == "done":
                running -= 1
            elif message[0] == "stopped":  # SIGTERM from outside: this build is being stopped
                self.stop()
                raise Interrupted("a composing process was stopped")
            else:
                failure = (message[1], message[2])
                break
        if failure is not None:
            self.stop()
            kind, text = failure
            raise (EncodeError if kind == "EncodeError" else RenderError)(text)
        for p in self.procs:
            p.join()
        lost = [p.exitcode for p in self.procs if p.exitcode != 0]
        if lost:
            raise RenderError(f"a process composing segments exited with code {lost[0]}")

    def stop(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(10.0)
            if p.is_alive():
                p.kill()
                p.join()
        self.reader.close()


def _composer(timeline: Timeline, cache: Cache, items: list[Piece], video_args: list[str], conn: Any) -> None:
    """A composing process: :func:`compose_spans`, reporting over ``conn``. Ctrl-C is the
    parent's to handle (it reaches the whole process group): the parent stops its composers with
    SIGTERM, which aborts each one's encoder."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)  # blocked by the parent while forking
        with sigterm_guard():  # stopped by the parent: abort the encoder, cache nothing half-made
            compose_spans(timeline, cache, items, video_args, lambda n: conn.send(("frames", n)))
        conn.send(("done",))
    except KeyboardInterrupt:  # stopped: the parent knows why
        with contextlib.suppress(Exception):
            conn.send(("stopped",))
        raise SystemExit(1) from None
    except BaseException as exc:  # noqa: BLE001 - said to the parent, which raises it
        with contextlib.suppress(Exception):
            conn.send(("error", type(exc).__name__, str(exc) or type(exc).__name__))
        raise SystemExit(1) from None
    finally:
        conn.close()
