"""music.jukebox against a stand-in jukebox_infer package (tests/models/jukebox_fakes.py): shapes,
lengths, resampling, limiting, determinism, priming, the never-download guard, error messages,
and a tiny film with a generated cue rendered from the command line under a `full` profile."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

from jukebox_fakes import write_checkpoints, write_fake_jukebox  # noqa: E402

from nyeshc.backends.base import SAMPLE_RATE, BackendError, MusicBackend  # noqa: E402
from nyeshc.backends.models.jukebox import CEILING, JukeboxMusic  # noqa: E402

CUE = dict(genre="Jazz", artist="Ella Fitzgerald", lyrics="the fog keeps the words", seed=7)
UPSAMPLER_MIN = 2048 * 8  # the stand-in's level-1 upsampler: n_ctx 2048 tokens of 8 samples


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One stand-in checkout per session (a module name can only be imported from one place)."""
    root = tmp_path_factory.getbasetemp() / "jukebox-fake"
    if not (root / "checkout" / "jukebox_infer").is_dir():
        write_fake_jukebox(root / "checkout")
        write_checkpoints(root / "models")
    return {"checkout": root / "checkout", "models": root / "models", "root": root}


def make(fake: dict[str, Path], **settings: object) -> JukeboxMusic:
    opts = {"checkout": str(fake["checkout"]), "checkpoints": str(fake["models"]), "device": "cpu", **settings}
    return JukeboxMusic(**opts)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- output


def test_protocol_shape_stereo_and_no_clipping(fake: dict[str, Path]) -> None:
    b = make(fake)
    assert isinstance(b, MusicBackend)
    seen: list[float] = []
    a = b.generate(**CUE, seconds=0.5, progress=seen.append)
    assert a.dtype == np.float32 and a.shape == (round(0.5 * SAMPLE_RATE), 2)
    assert np.array_equal(a[:, 0], a[:, 1])  # jukebox is mono: both channels carry it
    assert a.std() > 0.05  # music, not silence
    peak = float(np.abs(a).max())
    # the stand-in decodes at amplitude 1.4: scaled down to -1 dBFS, not clipped (no flat tops)
    assert peak == pytest.approx(CEILING, abs=1e-6)
    # the same music decoded at amplitude 0.5 (below the ceiling, left alone) is the same wave, scaled
    quiet = make(fake, hparams={"vqvae": {"amplitude": 0.5}}).generate(**CUE, seconds=0.5)
    assert 0.3 < float(np.abs(quiet).max()) < 0.8 * CEILING
    np.testing.assert_allclose(a, quiet * (CEILING / np.abs(quiet).max()), atol=2e-6)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4


def test_dc_offset_is_removed(fake: dict[str, Path]) -> None:
    """Random or badly trained decoders can sit off zero (the tiny real stack did): a 20 Hz high-pass."""
    a = make(fake, hparams={"vqvae": {"amplitude": 0.2, "offset": 0.5}}).generate(**CUE, seconds=1.0)
    assert abs(float(a[:, 0].mean())) < 0.01 and a.std() > 0.05 and np.abs(a).max() <= CEILING


def test_zero_seconds_is_empty(fake: dict[str, Path]) -> None:
    assert make(fake).generate(**CUE, seconds=0.0).shape == (0, 2)
    with pytest.raises(BackendError, match="seconds"):
        make(fake).generate(**CUE, seconds=-1.0)


def test_resampled_from_44k1_to_48k(fake: dict[str, Path], tmp_path: Path) -> None:
    """Every code of this VQ-VAE plays 1 kHz: the cue must be a 1 kHz tone at 48 kHz (without
    resampling it would read as 44.1 kHz samples played at 48 kHz: 1088 Hz)."""
    models = write_checkpoints(tmp_path / "models")
    state = torch.load(models / "5b" / "vqvae.pth.tar")
    state["model"]["freqs"] = torch.full_like(state["model"]["freqs"], 1000.0)
    torch.save(state, models / "5b" / "vqvae.pth.tar")
    a = make(fake, checkpoints=str(models)).generate(**CUE, seconds=1.0)[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(a * np.hanning(a.size)))
    assert np.fft.rfftfreq(a.size, 1 / SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(1000.0, abs=1.0)


def test_below_the_minimum_generates_the_minimum_and_trims(fake: dict[str, Path]) -> None:
    b = make(fake)
    assert b.sample_length(0.1) == UPSAMPLER_MIN  # one context of the level-1 upsampler
    assert b.sample_length(0.3) == UPSAMPLER_MIN
    assert b.sample_length(1.0) % 16 == 0 and b.sample_length(1.0) >= 44_100  # top-level hop: 16
    short = b.generate(**CUE, seconds=0.1)
    longer = b.generate(**CUE, seconds=0.3)
    assert short.shape == (4800, 2) and longer.shape == (14400, 2)
    # the same generated song, cut at two lengths (the gains may differ: each is limited on its own)
    x, y = short[:4000, 0].astype(np.float64), longer[:4000, 0].astype(np.float64)
    assert np.corrcoef(x, y)[0, 1] > 0.9999
    # the top level alone has no upsampler window to fill
    top = make(fake, levels=1)
    assert top.sample_length(0.001) == 48  # 48 samples at 48 kHz = 45 (+1) at 44.1 kHz, up to the 16-sample hop
    assert top.generate(**CUE, seconds=0.001).shape == (48, 2)


def test_deterministic_and_seed_genre_artist_matter(fake: dict[str, Path]) -> None:
    a = make(fake).generate(**CUE, seconds=0.4)
    assert np.array_equal(a, make(fake).generate(**CUE, seconds=0.4))  # a fresh instance, same array
    assert not np.array_equal(a, make(fake).generate(**{**CUE, "seed": 8}, seconds=0.4))
    assert not np.array_equal(a, make(fake).generate(**{**CUE, "genre": "Country"}, seconds=0.4))
    assert not np.array_equal(a, make(fake).generate(**{**CUE, "artist": "Alan Jackson"}, seconds=0.4))
    # torch's global generator is left as it was
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make(fake).generate(**CUE, seconds=0.05)
    assert torch.equal(torch.rand(3), expected)


def test_temperature_and_levels_change_the_music(fake: dict[str, Path]) -> None:
    base = make(fake).generate(**CUE, seconds=0.4)
    assert not np.array_equal(base, make(fake, temperature=0.5).generate(**CUE, seconds=0.4))
    lofi = make(fake, levels=1).generate(**CUE, seconds=0.4)
    assert lofi.shape == base.shape and not np.array_equal(base, lofi)


def test_a_cues_temperature_replaces_the_setting(fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """`source: generate, temperature X`: the job's value is what every level samples at (the
    sampler receives it), None keeps the setting, and 0 samples at MIN_TEMPERATURE."""
    from nyeshc.backends.models import jukebox

    b = make(fake)  # setting: 0.98
    base = b.generate(**CUE, seconds=0.4)
    assert np.array_equal(b.generate(**CUE, seconds=0.4, temperature=None), base)
    assert np.array_equal(b.generate(**CUE, seconds=0.4, temperature=0.5),
                          make(fake, temperature=0.5).generate(**CUE, seconds=0.4))
    assert np.array_equal(make(fake, temperature=0.5).generate(**CUE, seconds=0.4, temperature=0.98), base)
    assert jukebox.MIN_TEMPERATURE == 0.01
    assert np.array_equal(b.generate(**CUE, seconds=0.4, temperature=0),
                          make(fake, temperature=0.01).generate(**CUE, seconds=0.4))
    # what the sampler receives, level by level
    seen: list[float] = []
    net = b._load()
    real = net["sample"]._sample

    def spy(zs, labels, sampling_kwargs, priors, levels, hps, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.extend(float(sampling_kwargs[level]["temp"]) for level in levels)
        return real(zs, labels, sampling_kwargs, priors, levels, hps, **kw)

    monkeypatch.setattr(net["sample"], "_sample", spy)
    b.generate(**CUE, seconds=0.4, temperature=1.7)
    assert seen == [1.7, 1.7, 1.7]
    seen.clear()
    b.generate(**CUE, seconds=0.4)
    assert seen == [0.98, 0.98, 0.98]
    for bad in (-0.1, 2.5, float("nan"), True):
        with pytest.raises(BackendError, match=r"temperature must be a number from 0 to 2"):
            b.generate(**CUE, seconds=0.4, temperature=bad)


def test_cpu_type_assertions_are_satisfied_narrowly(fake: dict[str, Path]) -> None:
    """The stand-in keeps jukebox's `isinstance(x, t.cuda.LongTensor)` checks; on the CPU the
    adapter gives those modules a torch view where that means "int64 on any device"."""
    b = make(fake)
    b.generate(**CUE, seconds=0.05)
    import jukebox_infer.prior.prior as prior_mod

    view = prior_mod.t
    assert view is not torch and view.zeros is torch.zeros and view.cuda.is_available is torch.cuda.is_available
    assert isinstance(torch.zeros(2, dtype=torch.long), view.cuda.LongTensor)
    assert not isinstance(torch.zeros(2), view.cuda.LongTensor)
    import jukebox_infer.sample as sample_mod

    assert sample_mod.t is torch  # modules without those checks are untouched


# --------------------------------------------------------------------------- priming


def _wav(path: Path, seconds: float, rate: int = 44_100) -> Path:
    n = int(seconds * rate)
    x = (0.6 * np.sin(2 * np.pi * 330 * np.arange(n) / rate) * np.linspace(0, 1, n) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())
    return path


def test_prime_from_an_audio_file(fake: dict[str, Path], tmp_path: Path) -> None:
    prime = _wav(tmp_path / "prime.wav", 1.0)
    b = make(fake, prime=str(prime), prime_seconds=0.2)
    assert len(b.settings["prime_sha256"]) == 64 and b.settings["prime_seconds"] == 0.2
    assert JukeboxMusic(**b.settings).settings == b.settings  # the executor rebuilds it from its settings
    a = b.generate(**CUE, seconds=0.5)
    assert a.shape == (24_000, 2) and np.abs(a).max() <= CEILING
    assert np.array_equal(a, make(fake, prime=str(prime), prime_seconds=0.2).generate(**CUE, seconds=0.5))
    assert not np.array_equal(a, make(fake).generate(**CUE, seconds=0.5))
    _wav(prime, 1.0, rate=44_100)  # same content rewritten: same hash
    assert make(fake, prime=str(prime), prime_seconds=0.2).settings["prime_sha256"] == b.settings["prime_sha256"]
    other = _wav(tmp_path / "other.wav", 0.9)
    assert make(fake, prime=str(other)).settings["prime_sha256"] != b.settings["prime_sha256"]
    with pytest.raises(BackendError, match="prime_seconds"):
        make(fake, prime=str(_wav(tmp_path / "tiny.wav", 0.1)), prime_seconds=0.3).generate(**CUE, seconds=1.0)


# --------------------------------------------------------------------------- files, settings, downloads


def test_settings_hash_the_checkpoints(fake: dict[str, Path], tmp_path: Path) -> None:
    models = write_checkpoints(tmp_path / "models", seed=0)
    s1 = make(fake, checkpoints=str(models)).settings
    assert set(s1["checkpoints_sha256"]) == {"vqvae", "level_0", "level_1", "level_2"}
    assert set(make(fake, checkpoints=str(models), levels=1).settings["checkpoints_sha256"]) == {"vqvae", "level_2"}
    assert JukeboxMusic(**s1).settings == s1  # the executor rebuilds backends from job settings
    write_checkpoints(tmp_path / "models", seed=1)  # replaced files
    with pytest.raises(BackendError, match="changed since the film was planned"):
        JukeboxMusic(**s1)
    s2 = make(fake, checkpoints=str(models)).settings
    assert s1["checkpoints_sha256"]["level_2"] != s2["checkpoints_sha256"]["level_2"]
    json.dumps(s2)  # job keys need JSON
    assert make(fake, model="1b_lyrics").settings["model"] == "1b_lyrics"


def test_missing_checkpoints_are_errors_naming_file_and_setting(fake: dict[str, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "downloads.jsonl"
    monkeypatch.setenv("FAKE_JUKEBOX_DOWNLOADS", str(log))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(BackendError, match=r"\[profile.<name>.music\] checkpoints"):
        JukeboxMusic(checkout=str(fake["checkout"]), device="cpu")
    with pytest.raises(BackendError, match="does not exist"):
        make(fake, checkpoints=str(tmp_path / "nowhere"))
    models = write_checkpoints(tmp_path / "models", models=("5b",))
    with pytest.raises(BackendError) as err:
        make(fake, checkpoints=str(models), model="5b_lyrics")
    assert "5b_lyrics/prior_level_2.pth.tar" in str(err.value) and "checkpoints" in str(err.value)
    # the top level alone needs neither upsampler
    (models / "5b" / "prior_level_0.pth.tar").unlink()
    top = make(fake, checkpoints=str(models), model="5b", levels=1)
    with pytest.raises(BackendError, match="prior_level_0.pth.tar"):
        make(fake, checkpoints=str(models), model="5b", levels=3)
    # a file gone between the constructor and the first call: an error, never a download
    (models / "5b" / "prior_level_2.pth.tar").unlink()
    with pytest.raises(BackendError, match=r"no longer exists.*checkpoints"):
        top.generate(**CUE, seconds=0.1)
    assert not log.exists()
    assert not (tmp_path / "home" / ".cache").exists()


def test_loads_only_the_configured_local_files(fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    log = tmp_path / "downloads.jsonl"
    monkeypatch.setenv("FAKE_JUKEBOX_DOWNLOADS", str(log))
    b = make(fake, model="5b")
    b.generate(**CUE, seconds=0.05)
    import jukebox_infer.make_models as mm

    loaded = {Path(p) for p in mm.LOADED}
    assert set(b.paths.values()) <= loaded
    assert all(str(p).startswith(str(fake["models"])) or str(p).startswith(str(fake["root"].parent))
               for p in loaded)
    assert not any(str(p).startswith("https://") for p in mm.LOADED)
    assert mm.download.__module__ == "jukebox_infer.make_models"  # restored after loading
    assert not log.exists()
    with pytest.raises(BackendError, match="restore_prior"):
        make(fake, hparams={"level_2": {"restore_prior": "https://openaipublic.azureedge.net/x.pth.tar"}})


def test_bad_settings_are_errors_naming_them(fake: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="model must be one of"):
        make(fake, model="7b")
    with pytest.raises(BackendError, match="levels"):
        make(fake, levels=4)
    with pytest.raises(BackendError, match="temperature"):
        make(fake, temperature=0)
    with pytest.raises(BackendError, match="max_batch_size"):
        make(fake, max_batch_size=0)
    with pytest.raises(BackendError, match=r"\[profile.<name>.music\] prime"):
        make(fake, prime=str(tmp_path / "missing.wav"))
    with pytest.raises(BackendError, match=r"checkout.*jukebox_infer/make_models.py"):
        make(fake, checkout=str(tmp_path))
    with pytest.raises(BackendError, match="not one of"):
        make(fake, hparams={"level_9": {}})
    with pytest.raises(BackendError, match=r"hparams.level_2"):
        make(fake, hparams={"level_2": {"no_such_hparam": 1}}).generate(**CUE, seconds=0.05)
    with pytest.raises(BackendError, match="no CUDA|cuda"):
        if torch.cuda.is_available():
            raise BackendError("cuda present: nothing to check")
        make(fake, device="cuda").generate(**CUE, seconds=0.05)


def test_hparams_override_the_model_sizes(fake: dict[str, Path]) -> None:
    """Own-trained models: an upsampler with a shorter context lowers the minimum length."""
    b = make(fake, hparams={"level_1": {"n_ctx": 512}})
    assert b.settings["hparams"] == {"level_1": {"n_ctx": 512}}
    assert b.sample_length(0.01) == 512 * 8  # level 1: 512 tokens of 8 samples (level 0: 256 x 4)
    assert b.generate(**CUE, seconds=0.01).shape == (480, 2)


def test_cuda_without_a_gpu_is_an_error(fake: dict[str, Path]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(BackendError, match="CUDA"):
        make(fake, device="cuda").generate(**CUE, seconds=0.05)


# --------------------------------------------------------------------------- a film from the command line

FILM = '''title: "Jukebox cue"
canvas: 128x72, 12fps
seed: 2

look DUSK:
    image: generate, seed 5

music SONG:
    source: generate, genre "jazz", artist "ella fitzgerald", length 2s, seed 4
    lyrics: """
        into the fog
    """

SCENE 1 "Cue", 2s:
    backdrop: DUSK
    music: SONG
'''


def test_cli_film_with_a_jukebox_cue(fake: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from nyeshc.cli import main

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    (tmp_path / "nysh.toml").write_text(
        "[profile.full.music]\n"
        'backend = "music.jukebox"\n'
        f'checkout = "{fake["checkout"]}"\n'
        f'checkpoints = "{fake["models"]}"\n'
        'model = "5b_lyrics"\n'
        'device = "cpu"\n'
        "levels = 3\n", encoding="utf-8")
    out = tmp_path / "out.mp4"
    rc = main([str(script), "-o", str(out), "-q", "--profile", "full", "-j", "1", "--cache", str(tmp_path / "cache")])
    assert rc == 0 and out.is_file()
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    info = subprocess.run([ff, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "48000 Hz" in info and "stereo" in info and "128x72" in info
    raw = subprocess.run([ff, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(out), "-map", "0:a:0",
                          "-f", "f32le", "-ac", "2", "-ar", "48000", "-"], capture_output=True, check=True).stdout
    audio = np.frombuffer(raw, "<f4").reshape(-1, 2)
    assert audio.shape[0] >= int(1.9 * SAMPLE_RATE)
    assert float(np.sqrt(np.mean(audio[: 2 * SAMPLE_RATE] ** 2))) > 0.02  # the cue is heard
    assert float(np.abs(audio).max()) <= 1.0
    # what is heard is the jukebox cue the plan asked for (AAC-coded, mixed at the film's music level)
    assert main(["plan", str(script), "--profile", "full", "--json"]) == 0
    jobs = [j for j in json.loads(capsys.readouterr().out)["jobs"] if j["kind"] == "music.generate"]
    assert len(jobs) == 1 and jobs[0]["backend"] == "music.jukebox"
    job = jobs[0]
    assert job["settings"]["checkpoints_sha256"] == make(fake).settings["checkpoints_sha256"]
    assert job["cost_seconds"] > 3600  # jukebox is slow, and the plan says so
    cue = make(fake).generate(**job["params"], seed=job["seed"])
    n = min(cue.shape[0], audio.shape[0])
    x, y = audio[:n, 0].astype(np.float64), cue[:n, 0].astype(np.float64)
    from scipy import signal

    c = signal.correlate(x, y, mode="full", method="fft")[n - 1: n - 1 + 4096]  # lags 0..4095 (codec delay)
    assert c.max() / np.sqrt((x ** 2).sum() * (y ** 2).sum()) > 0.9


def test_a_checkpoint_needing_full_unpickling_is_refused_with_advice(fake: dict[str, Path], tmp_path: Path) -> None:
    import pathlib

    models = write_checkpoints(tmp_path / "models", models=("5b",))
    ckpt = torch.load(models / "5b" / "prior_level_2.pth.tar")
    ckpt["hps"] = pathlib.PurePosixPath("an/object")  # not a tensor or plain container
    torch.save(ckpt, models / "5b" / "prior_level_2.pth.tar")
    with pytest.raises(BackendError, match=r"weights_only.*re-save"):
        make(fake, checkpoints=str(models), model="5b", levels=1).generate(**CUE, seconds=0.05)


def test_doctor_load_loads_jukebox_without_sampling(fake: dict[str, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from nyeshc.cli import main

    (tmp_path / "nysh.toml").write_text(
        "[profile.full.music]\n"
        'backend = "music.jukebox"\n'
        f'checkout = "{fake["checkout"]}"\n'
        f'checkpoints = "{fake["models"]}"\n'
        'device = "cpu"\n', encoding="utf-8")
    loaded: list[bool] = []
    real_load = JukeboxMusic._load

    def spy_load(self: JukeboxMusic) -> object:
        loaded.append(True)
        return real_load(self)

    def no_sampling(self: JukeboxMusic, **kwargs: object) -> np.ndarray:
        raise AssertionError("doctor --load sampled jukebox")

    monkeypatch.setattr(JukeboxMusic, "_load", spy_load)
    monkeypatch.setattr(JukeboxMusic, "generate", no_sampling)
    rc = main(["doctor", "--config", str(tmp_path / "nysh.toml"), "--profile", "full", "--load", "--format", "json"])
    out = capsys.readouterr().out
    assert loaded and "loaded its networks (sampling skipped" in out
    assert rc in (0, 1) and '"music.jukebox"' in out
