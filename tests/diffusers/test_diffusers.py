"""image.diffusers, portrait.diffusers and music.stable_audio on tiny random pipelines built
here (tiny.py, as diffusers' own fast tests build theirs): determinism, sizes, the prompt
reaching the pipeline, morph continuity, every setting's effect, the errors, and a film
rendered through the CLI with --profile twice to the same pixels and samples."""

from __future__ import annotations

import io
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tiny

from nyeshc.backends.base import (
    SAMPLE_RATE,
    BackendError,
    ImageBackend,
    MusicBackend,
    PortraitBackend,
)
from nyeshc.backends.models.diffusion import (
    HEADER,
    DiffusersImage,
    DiffusersPortrait,
    cost_model,
    pipeline_family,
)
from nyeshc.backends.models.stable_audio import StableAudioMusic, music_prompt

torch = tiny.torch


@pytest.fixture(scope="module")
def sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.tiny_sd(tmp_path_factory.mktemp("sd"))


@pytest.fixture(scope="module")
def audio_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.tiny_stable_audio(tmp_path_factory.mktemp("sa"))


@pytest.fixture(scope="module")
def image(sd: Path) -> DiffusersImage:
    return DiffusersImage(model=str(sd), steps=2, device="cpu")


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --------------------------------------------------------------------------- images


def test_protocol_determinism_and_canvas_size(image: DiffusersImage, sd: Path) -> None:
    assert isinstance(image, ImageBackend)
    z = image.sample(3, prompt="a drowned cathedral at dusk")
    assert z.dtype == np.float32 and z.ndim == 1 and z.shape[0] > image.latent_dim
    assert np.array_equal(z, image.sample(3, prompt="a drowned cathedral at dusk"))
    a = image.render(z, 128, 72)
    assert a.shape == (72, 128, 3) and a.dtype == np.uint8 and a.std() > 5
    assert a.tobytes() == image.render(z, 128, 72).tobytes()
    # a backend rebuilt from its settings (as the executor does in a worker) makes the same bytes
    again = DiffusersImage(**image.settings)
    assert again.render(again.sample(3, prompt="a drowned cathedral at dusk"), 128, 72).tobytes() == a.tobytes()
    assert image.render(z, 48, 80).shape == (80, 48, 3)


def test_seed_draws_the_noise_diffusers_draws(image: DiffusersImage) -> None:
    """sample(seed) holds exactly the noise the pipeline itself draws from a CPU generator at that
    seed, so a look is the picture diffusers makes for that prompt and seed."""
    pipe = image._net()
    prompt = "the sea at night"
    ref = pipe(prompt, generator=torch.Generator("cpu").manual_seed(11), num_inference_steps=2,
               output_type="np").images[0]
    ref = np.clip(np.round(ref * 255), 0, 255).astype(np.uint8)
    ours = image.render(image.sample(11, prompt=prompt), 64, 64)
    assert np.abs(ref.astype(np.int16) - ours.astype(np.int16)).max() <= 1


def _tokenized(pipe: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every text ``pipe``'s tokenizer is given from now on (a spy around its ``__call__``)."""
    seen: list[Any] = []
    real = type(pipe.tokenizer).__call__

    def spy(self: Any, text: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(text)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(type(pipe.tokenizer), "__call__", spy)
    return seen


def test_prompt_and_style_reach_the_pipeline(sd: Path, image: DiffusersImage, monkeypatch: pytest.MonkeyPatch) -> None:
    styled = DiffusersImage(model=str(sd), steps=2, device="cpu", style="oil painting")
    pipe = styled._net()
    seen = _tokenized(pipe, monkeypatch)
    z = styled.sample(5, prompt="cathedral night")  # a heading's place and time, as the planner passes it
    assert ["cathedral night, oil painting"] in seen or "cathedral night, oil painting" in seen
    monkeypatch.undo()
    plain = image.sample(5, prompt="cathedral night")
    assert not np.array_equal(z, plain)  # the style changed the embedding, not the noise
    assert np.array_equal(z[:image.latent_dim], plain[:image.latent_dim])
    sea = image.sample(5, prompt="the sea")
    assert diff(image.render(plain, 64, 64), image.render(sea, 64, 64)) > 2
    assert image.sample(5).shape == plain.shape  # no prompt: the empty prompt's embedding


def test_morph_is_continuous_and_ends_on_the_stills(image: DiffusersImage) -> None:
    a = image.sample(1, prompt="the sea")
    b = image.sample(2, prompt="a cathedral")
    frames = [image.render(image.interpolate([a, b], i / 6, "linear"), 64, 64) for i in range(7)]
    assert frames[0].tobytes() == image.render(a, 64, 64).tobytes()
    assert frames[-1].tobytes() == image.render(b, 64, 64).tobytes()
    ends = diff(frames[0], frames[-1])
    steps = [diff(frames[i], frames[i + 1]) for i in range(6)]
    assert max(steps) < ends / 2, (steps, ends)
    # the noise is slerped (its norm kept), the embedding linear
    mid = image.blend(a, b, 0.5)
    n = image.latent_dim
    norms = [float(np.linalg.norm(v[HEADER:n])) for v in (a, b, mid)]
    assert abs(norms[2] - (norms[0] + norms[1]) / 2) < 0.02 * norms[0]
    assert np.allclose(mid[n:], (a[n:] + b[n:]) / 2, atol=1e-5)
    # smooth easing: slow at the ends, same endpoints
    assert np.array_equal(image.interpolate([a, b], 0.0), a) and np.array_equal(image.interpolate([a, b], 1.0), b)
    assert np.linalg.norm(image.interpolate([a, b], 0.1) - a) < np.linalg.norm(image.interpolate([a, b], 0.1, "linear") - a)
    three = [a, b, image.sample(3, prompt="ruins")]
    assert np.array_equal(image.interpolate(three, 0.5, "linear"), b)


def test_latents_of_another_backend_are_refused(image: DiffusersImage, sd: Path) -> None:
    with pytest.raises(BackendError, match="not made by a diffusers backend"):
        image.render(np.zeros(32, np.float32), 64, 64)
    other = DiffusersImage(model=str(sd), steps=2, device="cpu", width=32, height=64)
    with pytest.raises(BackendError, match="different pipelines or generation sizes"):
        image.blend(image.sample(1), other.sample(1), 0.5)


@pytest.mark.parametrize("change", [{"steps": 1}, {"guidance": 1.0}, {"negative_prompt": "a storm"},
                                    {"dtype": "bfloat16"}])
def test_each_setting_changes_the_picture(sd: Path, image: DiffusersImage, change: dict[str, Any]) -> None:
    other = DiffusersImage(model=str(sd), **{"steps": 2, "device": "cpu", **change})
    assert other.settings != image.settings
    z = image.sample(7, prompt="a forest")
    assert diff(image.render(z, 64, 64), other.render(other.sample(7, prompt="a forest"), 64, 64)) > 0.3


def test_generation_size(sd: Path) -> None:
    tall = DiffusersImage(model=str(sd), steps=2, device="cpu", width=32, height=64)
    assert tall.settings["width"] == 32 and tall.settings["height"] == 64
    z = tall.sample(1, prompt="a forest")
    assert tuple(int(x) for x in z[1:4]) == (4, 32, 16)  # latent channels x rows x columns (VAE scale 2)
    assert tall._picture(z).shape == (64, 32, 3)
    assert tall.render(z, 128, 72).shape == (72, 128, 3)


def test_errors_name_the_setting(sd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BackendError, match=r"\[profile.<name>.image\] model"):
        DiffusersImage()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="no model_index.json"):
        DiffusersImage(model=str(tmp_path / "empty"))
    with pytest.raises(BackendError, match="does not exist"):
        DiffusersImage(model=str(tmp_path / "missing"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackendError, match="not in the Hugging Face cache.*nyeshc models pull"):
        DiffusersImage(model="nobody/no-such-model")
    with pytest.raises(BackendError, match="unknown setting.*stpes"):
        DiffusersImage(model=str(sd), stpes=2)
    with pytest.raises(BackendError, match="steps"):
        DiffusersImage(model=str(sd), steps=0)
    with pytest.raises(BackendError, match="dtype"):
        DiffusersImage(model=str(sd), dtype="int8")
    with pytest.raises(BackendError, match=r"image\] width = 33 must be a multiple of 2.*try 32"):
        DiffusersImage(model=str(sd), width=33, height=64)
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="float16.*needs a GPU"):
            DiffusersImage(model=str(sd), dtype="float16", device="cpu")
        with pytest.raises(BackendError, match="cpu_offload"):
            DiffusersImage(model=str(sd), cpu_offload=True, device="cpu")
        cuda = DiffusersImage(model=str(sd), steps=2, device="cuda")
        assert cuda.cost.device == "gpu"
        with pytest.raises(BackendError, match="no CUDA GPU"):
            cuda.sample(1)
    with pytest.raises(BackendError, match="changed since the film was planned"):
        DiffusersImage(model=str(sd), model_id="sha256:0")


def test_a_changed_weight_changes_the_key(sd: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(sd, copy)
    before = DiffusersImage(model=str(copy), steps=2, device="cpu").settings["model_id"]
    assert before == DiffusersImage(model=str(sd), steps=2, device="cpu").settings["model_id"]
    cfg = copy / "scheduler" / "scheduler_config.json"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"leading"', '"trailing"'), encoding="utf-8")
    assert DiffusersImage(model=str(copy), steps=2, device="cpu").settings["model_id"] != before


def test_cost_models_follow_pipeline_and_steps(image: DiffusersImage) -> None:
    assert pipeline_family("StableDiffusionPipeline") == "sd"
    assert pipeline_family("StableDiffusionXLPipeline") == "sdxl"
    assert pipeline_family("StableDiffusion3Pipeline") == "sd3"
    assert pipeline_family("FluxPipeline") == "flux"
    sd30 = cost_model("sd", "gpu", 30, 7.5, 512 * 512)
    assert cost_model("sd", "gpu", 60, 7.5, 512 * 512).per_frame > 1.9 * sd30.per_frame
    assert cost_model("sd", "gpu", 30, 1.0, 512 * 512).per_frame < 0.6 * sd30.per_frame  # no guidance: half
    assert cost_model("flux", "gpu", 28, 3.5, 1024 ** 2).per_frame > cost_model("sdxl", "gpu", 28, 5.0, 1024 ** 2).per_frame
    assert cost_model("sdxl", "cpu", 30, 5.0, 1024 ** 2).per_frame > 100 * cost_model("sdxl", "gpu", 30, 5.0, 1024 ** 2).per_frame
    assert image.cost.device == "cpu" and not image.cost.scale_by_pixels
    assert image.cost == cost_model("sd", "cpu", 2, 7.5, 64 * 64)


@pytest.mark.parametrize("family", ["sdxl", "sd3", "flux"])
def test_pipelines_with_pooled_embeddings(family: str, tmp_path: Path) -> None:
    """SDXL (two CLIP encoders, pooled embedding in the UNet's time embedding), SD3 (two CLIPs
    and T5, an MMDiT on flow matching) and Flux (CLIP
    pooled + T5 sequence, packed latents, no classifier-free guidance): the latent carries the
    pooled embedding, the picture is the one diffusers makes for that prompt and seed, and a
    morph ends on the stills."""
    folder = {"sdxl": tiny.tiny_sdxl, "sd3": tiny.tiny_sd3, "flux": tiny.tiny_flux}[family](tmp_path)
    image = DiffusersImage(model=str(folder), steps=2, device="cpu", width=32, height=32)
    assert image.family == family
    z = image.sample(11, prompt="the sea at night")
    assert int(z[6]) == (64 if family == "sd3" else 32)  # the pooled embedding's length (one or two CLIPs)
    pipe = image._net()
    ref = pipe("the sea at night", generator=torch.Generator("cpu").manual_seed(11), num_inference_steps=2,
               width=32, height=32, output_type="np").images[0]
    ref = np.clip(np.round(ref * 255), 0, 255).astype(np.uint8)
    ours = image.render(z, 32, 32)
    assert np.abs(ref.astype(np.int16) - ours.astype(np.int16)).max() <= 1
    assert ours.tobytes() == image.render(z, 32, 32).tobytes()
    other = image.sample(12, prompt="a cathedral")
    assert diff(ours, image.render(other, 32, 32)) > 0.3
    assert image.render(image.interpolate([z, other], 1.0, "linear"), 32, 32).tobytes() == \
        image.render(other, 32, 32).tobytes()


# --------------------------------------------------------------------------- portraits


def test_portraits(sd: Path) -> None:
    faces = DiffusersPortrait(model=str(sd), steps=2, device="cpu")
    assert isinstance(faces, PortraitBackend)
    a, b = faces.sample(1), faces.sample(2)
    p = faces.portrait(a, 96)
    assert p.image.shape == (96, 96, 4) and (p.image[..., 3] == 255).all() and p.latent is None
    assert p.mouth == (0.5 * 96, 0.62 * 96)
    assert p.image.tobytes() == faces.portrait(a, 96).image.tobytes()
    assert diff(p.image, faces.portrait(b, 96).image) > 2
    other = DiffusersPortrait(model=str(sd), steps=2, device="cpu", prompt="an old sailor", mouth=[0.5, 0.7])
    assert other.portrait(other.sample(1), 96).mouth == (48.0, 0.7 * 96)
    assert diff(p.image, other.portrait(other.sample(1), 96).image) > 0.3
    assert other.settings["prompt"] == "an old sailor" and other.settings["mouth"] == [0.5, 0.7]


# --------------------------------------------------------------------------- music


def test_music_prompt() -> None:
    assert music_prompt("ambient", "nobody", "the names\nare gone", "slow strings") == \
        "ambient, in the style of nobody, the names are gone, slow strings"
    assert music_prompt("folk", "", "") == "folk"


def test_stable_audio(audio_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    music = StableAudioMusic(model=str(audio_model), steps=2, device="cpu", crossfade=0.1)
    assert isinstance(music, MusicBackend)
    assert music.window() == pytest.approx(64 * 4 / 800)
    a = music.generate(genre="ambient", artist="nobody", lyrics="the names are gone", seconds=0.25, seed=3)
    assert a.shape == (round(0.25 * SAMPLE_RATE), 2) and a.dtype == np.float32
    assert np.abs(a).max() <= 0.999 and a.std() > 1e-3
    assert a.tobytes() == music.generate(genre="ambient", artist="nobody", lyrics="the names are gone",
                                         seconds=0.25, seed=3).tobytes()
    assert np.abs(a - music.generate(genre="folk", artist="nobody", lyrics="the names are gone", seconds=0.25,
                                     seed=3)).mean() > 1e-4
    assert np.abs(a - music.generate(genre="ambient", artist="nobody", lyrics="the names are gone", seconds=0.25,
                                     seed=4)).mean() > 1e-4
    pipe = music._net()
    seen = _tokenized(pipe, monkeypatch)
    music.generate(genre="drone", artist="", lyrics="la la", seconds=0.1, seed=1)
    assert any("drone, la la" in str(s) for s in seen)
    monkeypatch.undo()
    # longer than one window (0.32 s): windows crossfaded, exactly the cue's length
    long = music.generate(genre="ambient", artist="nobody", lyrics="", seconds=0.9, seed=3)
    assert long.shape == (round(0.9 * SAMPLE_RATE), 2) and np.abs(long[-2000:]).max() > 1e-3
    fewer = StableAudioMusic(model=str(audio_model), steps=1, device="cpu", crossfade=0.1)
    assert np.abs(a - fewer.generate(genre="ambient", artist="nobody", lyrics="the names are gone", seconds=0.25,
                                     seed=3)).mean() > 1e-4
    hard = StableAudioMusic(model=str(audio_model), steps=2, device="cpu", crossfade=0.0)
    soft = music.generate(genre="ambient", artist="nobody", lyrics="", seconds=0.9, seed=3)
    joins = hard.generate(genre="ambient", artist="nobody", lyrics="", seconds=0.9, seed=3)
    assert not np.array_equal(soft, joins)


def test_stable_audio_errors(audio_model: Path, sd: Path) -> None:
    with pytest.raises(BackendError, match="not a StableAudioPipeline"):
        StableAudioMusic(model=str(sd))
    with pytest.raises(BackendError, match=r"\[profile.<name>.music\] model"):
        StableAudioMusic()
    with pytest.raises(BackendError, match="crossfade"):
        StableAudioMusic(model=str(audio_model), crossfade=-1)
    m = StableAudioMusic(model=str(audio_model), steps=50, device="cpu")
    assert m.cost.per_audio_second == pytest.approx(4.0 * 0.5)


# --------------------------------------------------------------------------- the CLI

FILM = '''title: "Prompts"
canvas: 128x72, 12fps

look SEA:
    image: generate "the sea at dawn", seed 3
look NAVE:
    image: generate "a drowned cathedral", seed 4

character ANA:
    portrait: generate, seed 5
    voice: asemic
    motion: lipsync

music CUE:
    source: generate, genre "ambient", artist "nobody", length 2s, seed 1

SCENE 1 "One", 2s:
    backdrop: morph SEA -> NAVE
    music: CUE

    ANA, medium, center:
        "La la."

INT. CATHEDRAL - NIGHT, 1s:
    music: CUE
'''


def _decode(path: Path) -> tuple[bytes, bytes]:
    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    video = subprocess.run([ff, "-loglevel", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                           capture_output=True, check=True).stdout
    audio = subprocess.run([ff, "-loglevel", "error", "-i", str(path), "-vn", "-f", "s16le", "-"],
                           capture_output=True, check=True).stdout
    return video, audio


@pytest.mark.slow
def test_cli_renders_a_film_through_the_diffusers_backends_twice_alike(sd: Path, audio_model: Path,
                                                                        tmp_path: Path) -> None:
    from nyeshc.cli import main

    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    (tmp_path / "nysh.toml").write_text(
        f'[profile.diff.image]\nbackend = "image.diffusers"\nmodel = "{sd}"\nsteps = 2\ndevice = "cpu"\n\n'
        f'[profile.diff.portrait]\nbackend = "portrait.diffusers"\nmodel = "{sd}"\nsteps = 2\ndevice = "cpu"\n\n'
        f'[profile.diff.music]\nbackend = "music.stable_audio"\nmodel = "{audio_model}"\nsteps = 2\n'
        'device = "cpu"\ncrossfade = 0.1\n', encoding="utf-8")
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["plan", str(script), "--profile", "diff"]) == 0
    plan = buf.getvalue()
    for backend in ("image.diffusers", "portrait.diffusers", "music.stable_audio"):
        assert backend in plan.split("estimated cost")[1], plan
    outs = []
    for run in (1, 2):
        out = tmp_path / f"out{run}.mp4"
        assert main([str(script), "-o", str(out), "-q", "--profile", "diff", "--cache", str(tmp_path / f"c{run}")]) == 0
        outs.append(_decode(out))
    assert outs[0] == outs[1]
    frames = np.frombuffer(outs[0][0], np.uint8).reshape(-1, 72, 128, 3).astype(np.int16)
    assert len(frames) == 36 and frames[:24].std() > 10
    steps = np.abs(np.diff(frames[:24], axis=0)).mean(axis=(1, 2, 3))
    assert steps.max() < 40  # the morph moves without jumps
    assert len(outs[0][1]) > 0 and np.frombuffer(outs[0][1], np.int16).std() > 10
    lock = (tmp_path / "film.nysh.lock").read_text(encoding="utf-8")
    assert "image.diffusers" in lock and "music.stable_audio" in lock and "model_id" in lock


def test_doctor_takes_a_pipeline_folder_and_a_hub_id(sd: Path) -> None:
    from nyeshc.commands.doctor import Report, check_path, is_path_setting

    assert not is_path_setting("model", "stabilityai/stable-diffusion-xl-base-1.0")
    assert not is_path_setting("model", "5b_lyrics")
    assert is_path_setting("model", str(sd))
    report = Report()
    check_path(report, "diff", "image", "model", str(sd))
    assert [c.status for c in report.checks] == ["ok"] and "(folder)" in report.checks[0].detail


def test_stable_audio_cue_just_over_a_window(audio_model: Path) -> None:
    """A last window of a few samples is made longer and cut: the cue keeps its exact length."""
    music = StableAudioMusic(model=str(audio_model), steps=1, device="cpu", crossfade=0.0)
    seconds = music.window() + 3 / SAMPLE_RATE
    out = music.generate(genre="drone", artist="", lyrics="", seconds=seconds, seed=2)
    assert out.shape == (round(seconds * SAMPLE_RATE), 2) and np.isfinite(out).all()
    assert np.abs(out[-3:]).max() > 0  # the last samples are music, not padding
