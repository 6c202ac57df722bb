"""The local executor: order, parallel = serial, caching, failures, re-runs, --no-cache, Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
from execute_fakes import calls
from execute_fakes import image_graph, job, plan_of
from rich.console import Console

from nyeshc.execute import Cache, JobFailed, execute

pytestmark = pytest.mark.usefixtures("fakes")


def test_serial_run_in_dependency_order(tmp_path: Path, counter: Path) -> None:
    plan = image_graph({"counter": str(counter)})
    cache = Cache(tmp_path / "c")
    result = execute(plan, cache, jobs=1, progress=False)
    assert set(result) == {j.key for j in plan.jobs}
    log = calls(counter)
    assert log.index("sample 1") < log.index("render")  # a before render(a)
    assert max(log.index("sample 1"), log.index("sample 2")) < log.index("blend")  # a, b before blend
    assert log.count("render") == 2 + 4
    a, b, ab, ra, rab, morph = plan.jobs
    latent_a = result.load(a.key)
    assert latent_a.dtype == np.float32 and latent_a.shape == (4,)
    assert result.load(ra.key).shape == (6, 8, 3)
    frames = result.load(morph.key)
    assert frames.shape == (4, 6, 8, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[0], result.load(ra.key))  # the morph starts on key a
    assert cache.record(morph.key)["kind"] == "image.morph"
    assert result[morph.key] == cache.data_path(morph.key)


def test_parallel_and_serial_give_identical_bytes(tmp_path: Path, counter: Path) -> None:
    plan = image_graph({"counter": str(counter)})
    one = execute(plan, Cache(tmp_path / "one"), jobs=1, progress=False)
    two = execute(plan, Cache(tmp_path / "two"), jobs=2, progress=False)
    for job_ in plan.jobs:
        assert one[job_.key].read_bytes() == two[job_.key].read_bytes(), job_.name


def test_cached_jobs_are_not_run_again(tmp_path: Path, counter: Path) -> None:
    plan = image_graph({"counter": str(counter)})
    cache = Cache(tmp_path / "c")
    execute(plan, cache, jobs=2, progress=False)
    first = len(calls(counter))
    assert first > 0
    execute(plan, cache, jobs=2, progress=False)
    assert len(calls(counter)) == first


def test_failure_names_the_job_and_keeps_finished_work(tmp_path: Path, counter: Path) -> None:
    flag = tmp_path / "broken"
    flag.touch()
    plan = image_graph({"counter": str(counter)}, fail_if=str(flag))
    cache = Cache(tmp_path / "c")
    with pytest.raises(JobFailed) as info:
        execute(plan, cache, jobs=2, progress=False)
    err = info.value
    message = str(err)
    assert "image.render" in message and "image.fake" in message
    assert "the fake model is unhappy" in message and "backdrop" in message
    assert "BackendError" not in message  # a backend's message is shown as it is
    assert err.job.kind == "image.render"
    a, b, ab, ra, rab, morph = plan.jobs
    assert cache.has(a.key) and cache.has(b.key)  # finished before the failure: kept
    assert cache.stray_files() == []

    # fixed: the re-run does only what is missing
    flag.unlink()
    counter.unlink()
    execute(plan, cache, jobs=2, progress=False)
    log = calls(counter)
    assert not any(line.startswith("sample") for line in log)
    assert all(cache.has(j.key) for j in plan.jobs)


def test_other_exceptions_carry_their_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.execute import ops

    def broken(*args: object) -> None:
        raise ValueError("no track today")

    monkeypatch.setitem(ops.OPS, "voice.track", broken)
    track = job("voice.track", "", {"length": 10, "offsets": []}, output="audio", name="scene 1 / beat 1")
    with pytest.raises(JobFailed, match=r"^scene 1 / beat 1: voice.track with backend built-in failed: "
                                        r"ValueError: no track today$") as info:
        execute(plan_of(track), Cache(tmp_path / "c"), jobs=1, progress=False)
    assert "raise ValueError" in info.value.traceback


def test_a_dead_worker_is_a_job_failure(tmp_path: Path) -> None:
    plan = image_graph({"die": True})
    with pytest.raises(JobFailed, match="worker process running it died"):
        execute(plan, Cache(tmp_path / "c"), jobs=2, progress=False)


def test_wrong_output_is_reported_with_job_and_backend(tmp_path: Path) -> None:
    plan = image_graph({"bad": True})
    with pytest.raises(JobFailed, match=r"backdrop.*image\.fake.*float64") as info:
        execute(plan, Cache(tmp_path / "c"), jobs=1, progress=False)
    assert "expected uint8 (6, 8, 3)" in str(info.value)


def test_corrupt_cached_input_is_remade(tmp_path: Path, counter: Path) -> None:
    plan = image_graph({"counter": str(counter)})
    cache = Cache(tmp_path / "c")
    execute(plan, cache, jobs=1, progress=False)
    a, b, ab, ra, rab, morph = plan.jobs
    path = cache.data_path(a.key)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x55
    path.write_bytes(bytes(raw))
    cache.discard(ra.key)  # something must read a again
    counter.unlink()
    result = execute(plan, cache, jobs=1, progress=False)
    assert calls(counter).count("sample 1") == 1 and "render" in calls(counter)
    assert cache.verify(a.key) and a.key in result


def test_verify_checks_every_hit_up_front(tmp_path: Path, counter: Path) -> None:
    plan = image_graph({"counter": str(counter)})
    cache = Cache(tmp_path / "c")
    execute(plan, cache, jobs=1, progress=False)
    morph = plan.jobs[-1]
    path = cache.data_path(morph.key)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x55
    path.write_bytes(bytes(raw))
    counter.unlink()
    execute(plan, cache, jobs=1, progress=False, verify=True)
    assert cache.verify(morph.key)
    assert calls(counter).count("render") == 4  # only the morph's frames


def test_no_cache_uses_a_temporary_folder_removed_on_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           counter: Path) -> None:
    monkeypatch.chdir(tmp_path)
    plan = image_graph({"counter": str(counter)})
    scratch = tmp_path / "scratch"
    with execute(plan, None, jobs=2, progress=False, scratch_dir=scratch) as result:
        root = result.cache.root
        assert root.parent == scratch and root.is_dir()
        assert result.load(plan.jobs[3].key).shape == (6, 8, 3)
    assert not root.exists()
    assert not (tmp_path / ".nyeshc-cache").exists()
    assert list(scratch.iterdir()) == []


def test_no_cache_failure_removes_the_temporary_folder(tmp_path: Path) -> None:
    flag = tmp_path / "broken"
    flag.touch()
    scratch = tmp_path / "scratch"
    with pytest.raises(JobFailed):
        execute(image_graph({}, fail_if=str(flag)), None, jobs=1, progress=False, scratch_dir=scratch)
    assert list(scratch.iterdir()) == []


def test_progress_bars_on_a_terminal(tmp_path: Path, counter: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    execute(image_graph({"counter": str(counter)}), Cache(tmp_path / "c"), jobs=2, console=console)
    text = out.getvalue()
    assert "image.render" in text and "image.morph" in text and "2/2" in text


def test_quiet_when_not_a_terminal(tmp_path: Path) -> None:
    out = io.StringIO()
    execute(image_graph({}), Cache(tmp_path / "c"), jobs=1, console=Console(file=out, force_terminal=False))
    assert out.getvalue() == ""


def test_stray_files_are_removed_when_the_cache_is_idle(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    folder = cache.objects / "ab"
    folder.mkdir(parents=True)
    (folder / ".ab12-x.tmp").write_bytes(b"partial")
    execute(image_graph({}), cache, jobs=1, progress=False)
    assert cache.stray_files() == []


def test_ctrl_c_kills_workers_and_leaves_no_partial_entries(tmp_path: Path, counter: Path) -> None:
    settings = {"counter": str(counter), "delay": 0.3}
    plan = image_graph(settings)
    cache = Cache(tmp_path / "c")
    main = threading.main_thread()
    assert threading.current_thread() is main
    timer = threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            execute(plan, cache, jobs=2, progress=False)
    finally:
        timer.cancel()
    import multiprocessing

    # every worker is gone (asked of the kernel: multiprocessing's own list can keep a worker
    # another waiter reaped first, whose Popen never learnt its exit status)
    for child in multiprocessing.active_children():
        with pytest.raises(ProcessLookupError):
            os.kill(child.pid, 0)
    morph = plan.jobs[-1]
    assert not cache.has(morph.key)  # 4 frames × 0.3 s: interrupted mid-way
    assert cache.stray_files() == []  # the worker removed its temporary file
    done_before = {j.key for j in plan.jobs if cache.has(j.key)}
    assert all(cache.verify(k) for k in done_before)
    counter.unlink(missing_ok=True)
    execute(plan, cache, jobs=2, progress=False)
    assert all(cache.has(j.key) for j in plan.jobs)
    # only unfinished jobs ran: no latent that was already cached was sampled again
    again = {line for line in calls(counter) if line.startswith("sample")}
    for j in plan.jobs[:2]:
        if j.key in done_before:
            assert f"sample {j.seed}" not in again


@pytest.mark.parametrize("jobs", [1, 2])
def test_when_done_is_called_once_as_soon_as_its_jobs_are_done(tmp_path: Path, counter: Path, jobs: int) -> None:
    """``when_done=(keys, call)``: called once, while other jobs still wait to run, when every
    job making one of ``keys`` is done (the build starts the film's sound then); at once when
    they are all cached; never when a job fails first."""
    plan = image_graph({"counter": str(counter)})
    a, b, ab, ra, rab, morph = plan.jobs
    cache = Cache(tmp_path / "c")
    seen: list[tuple[bool, bool, int]] = []

    def call() -> None:  # what the cache holds at the call, and how many jobs had run
        seen.append((cache.has(a.key), cache.has(ra.key) or cache.has(morph.key), len(calls(counter))))

    execute(plan, cache, jobs=jobs, progress=False, when_done=([a.key], call))
    assert len(seen) == 1
    ready, later, ran = seen[0]
    assert ready and not later and ran < len(calls(counter))  # before the jobs that read look A
    seen.clear()
    execute(plan, cache, jobs=jobs, progress=False, when_done=([ra.key, morph.key], call))
    assert seen == [(True, True, len(calls(counter)))]  # everything cached: called at once

    flag = tmp_path / "broken"
    flag.touch()
    broken = image_graph({"counter": str(counter)}, fail_if=str(flag))
    seen.clear()
    with pytest.raises(JobFailed):
        execute(broken, Cache(tmp_path / "d"), jobs=jobs, progress=False, when_done=([broken.jobs[3].key], call))
    assert seen == []


def test_the_sound_waits_for_a_core_no_job_is_about_to_need() -> None:
    """``cores_to_spare`` (when ``when_done``'s call may run beside the jobs): with every worker
    busy, yes; with one free, not while a job is ready for it, nor while a job waits only on
    running ones (the edited line's voice track, then its lip-sync), else yes."""
    from nyeshc.execute.local import cores_to_spare

    voice = job("voice.speak", "voice.fake", {"text": "a"}, output="audio", name="voice")
    track = job("voice.track", "", {"length": 1}, (voice.key,), output="audio", name="track")
    lipsync = job("motion.lipsync", "motion.fake", {"frames": 1}, ("portrait", track.key), output="frames",
                  name="lip-sync")
    other = job("image.latent", "image.fake", {}, output="latent", name="other")
    dependents = {voice.key: [track], track.key: [lipsync]}
    pending = {j.key: j for j in (track, lipsync, other)}
    # the track runs on one worker, the other is free, the lip-sync waits only on the track
    assert not cores_to_spare([track], 2, False, pending, dependents, {voice.key, "portrait"})
    # ... unless it also waits on something not running yet
    assert cores_to_spare([track], 2, False, pending, dependents, {voice.key})
    assert not cores_to_spare([], 2, True, pending, dependents, {voice.key})  # a job ready for the free core
    assert cores_to_spare([track, other], 2, True, pending, dependents, {voice.key})  # every core busy
    assert cores_to_spare([other], 2, False, pending, dependents, {voice.key, "portrait"})  # nothing waits on it
