"""A stand-in for the ``jukebox_infer`` package (our own small code, not OpenAI's), written into a
temporary folder and used as the ``checkout`` of ``music.jukebox``.

It implements the part of jukebox-infer 0.1.2's interface the adapter calls, with the same
module names, function names and signatures, shapes and dtypes:

* ``jukebox_infer.hparams``: ``Hyperparams``, ``setup_hparams(names, kwargs)`` (unknown keys raise
  ``ValueError``), ``REMOTE_PREFIX``, the sets ``vqvae``, ``upsampler_level_0/1``, ``prior_5b``,
  ``prior_5b_lyrics``, ``prior_1b_lyrics`` (tiny sizes here, same roles);
* ``jukebox_infer.make_models``: ``make_vqvae(hps, device, auto_download)``,
  ``make_prior(hps, vqvae, device, auto_download)``, ``load_checkpoint`` (which, like the real
  one, downloads a ``REMOTE_PREFIX`` path that is missing from ``~/.cache`` — here ``download``
  just records the attempt in :data:`DOWNLOADS` (a file named by ``$FAKE_JUKEBOX_DOWNLOADS``));
* ``jukebox_infer.sample``: ``_sample(zs, labels, sampling_kwargs, priors, sample_levels, hps,
  device)`` with the real windowing (``get_starts``, partial windows at the top level, one full
  context needed below it), ``load_prompts(files, duration, hps, device)``;
* VQ-VAE ``encode``/``decode`` (``(N, T, 1)`` float audio ⇄ per-level ``(N, T/hop)`` int64 codes);
  priors with ``n_ctx``, ``raw_to_tokens``, ``labeller.get_batch_labels(metas, device)``,
  ``sample(n_samples, z, z_conds, y, fp16, temp, chunk_size, sample_tokens)``;
* the CUDA-only type assertions ``isinstance(x, t.cuda.LongTensor)`` in ``prior/prior.py``,
  ``prior/autoregressive.py`` and ``prior/conditioners.py``, so the adapter's CPU workaround is
  exercised; the label conditioner asserts the song length is in ``[min_duration, max_duration)``.

Decoded audio peaks above 1 (so the adapter's limiter is exercised); the ``vqvae`` hparams
``amplitude`` and ``offset`` (a DC offset) are the stand-in's own, for the tests. Sampling draws from
torch's global generator, as jukebox does.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

MODELS = ("5b_lyrics", "5b", "1b_lyrics")

_HPARAMS = '''
REMOTE_PREFIX = "https://openaipublic.azureedge.net/"
HPARAMS_REGISTRY = {}
DEFAULTS = {}


class Hyperparams(dict):
    def __getattr__(self, attr):
        return self[attr]

    def __setattr__(self, attr, value):
        self[attr] = value


def setup_hparams(hparam_set_names, kwargs):
    H = Hyperparams()
    if not isinstance(hparam_set_names, tuple):
        hparam_set_names = hparam_set_names.split(",")
    sets = [HPARAMS_REGISTRY[x.strip()] for x in hparam_set_names if x] + [kwargs]
    for v in DEFAULTS.values():
        H.update(v)
    for hps in sets:
        for k in hps:
            if k not in H:
                raise ValueError(f"{k} not in default args")
        H.update(**hps)
    return H


DEFAULTS["all"] = Hyperparams(
    sr=44100, sample_length=0, sample_length_in_seconds=0, total_sample_length_in_seconds=240, n_samples=1,
    hop_fraction=(0.5, 0.5, 0.125), levels=3, downs_t=(2, 1, 1), strides_t=(2, 2, 2), l_bins=16,
    restore_vqvae="", restore_prior="", level=0, n_ctx=64, prior_width=8, prior_depth=1, labels=True,
    min_duration=None, max_duration=None, fp16_params=False, n_tokens=0, amplitude=1.4, offset=0.0,
)
HPARAMS_REGISTRY["vqvae"] = Hyperparams(restore_vqvae=REMOTE_PREFIX + "jukebox/models/5b/vqvae.pth.tar")
HPARAMS_REGISTRY["upsampler_level_0"] = Hyperparams(
    level=0, n_ctx=256, restore_prior=REMOTE_PREFIX + "jukebox/models/5b/prior_level_0.pth.tar")
HPARAMS_REGISTRY["upsampler_level_1"] = Hyperparams(
    level=1, n_ctx=2048, restore_prior=REMOTE_PREFIX + "jukebox/models/5b/prior_level_1.pth.tar")
for _name, _ctx, _tokens in (("5b", 128, 0), ("5b_lyrics", 128, 16), ("1b_lyrics", 96, 12)):
    HPARAMS_REGISTRY["prior_" + _name] = Hyperparams(
        level=2, n_ctx=_ctx, min_duration=2.0, max_duration=600.0, n_tokens=_tokens, fp16_params=True,
        restore_prior=REMOTE_PREFIX + f"jukebox/models/{_name}/prior_level_2.pth.tar")
'''

_MAKE_MODELS = '''
import json
import os

import torch as t

from jukebox_infer.hparams import REMOTE_PREFIX
from jukebox_infer.vqvae.vqvae import VQVAE
from jukebox_infer.prior.prior import SimplePrior

MODELS = {
    "5b": ("vqvae", "upsampler_level_0", "upsampler_level_1", "prior_5b"),
    "5b_lyrics": ("vqvae", "upsampler_level_0", "upsampler_level_1", "prior_5b_lyrics"),
    "1b_lyrics": ("vqvae", "upsampler_level_0", "upsampler_level_1", "prior_1b_lyrics"),
}
LOADED = []  # every checkpoint path load_checkpoint read


def download(remote_path, local_path, async_download=False, show_progress=True):
    log = os.environ.get("FAKE_JUKEBOX_DOWNLOADS")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([remote_path, local_path]) + "\\n")
    raise OSError(f"(fake) no network: cannot download {remote_path}")


def load_checkpoint(path, auto_download=True):
    restore = path
    if restore.startswith(REMOTE_PREFIX):
        local = os.path.join(os.path.expanduser("~/.cache"), restore[len(REMOTE_PREFIX):])
        if not os.path.exists(local):
            if auto_download:
                download(restore, local)
            else:
                raise FileNotFoundError(f"Checkpoint not found at {local}")
        restore = local
    if not os.path.exists(restore):
        raise FileNotFoundError(f"Checkpoint file not found: {restore}")
    LOADED.append(restore)
    return t.load(restore, map_location=t.device("cpu"))


def restore_model(hps, model, checkpoint_path, auto_download=True):
    if checkpoint_path != "":
        checkpoint = load_checkpoint(checkpoint_path, auto_download=auto_download)
        state = {k[7:] if k[:7] == "module." else k: v for k, v in checkpoint["model"].items()}
        model.load_state_dict(state)


def make_vqvae(hps, device="cuda", auto_download=True):
    assert hps.sample_length, "fake make_vqvae wants sample_length"
    vqvae = VQVAE(input_shape=(hps.sample_length, 1), levels=hps.levels, downs_t=hps.downs_t,
                  strides_t=hps.strides_t, l_bins=hps.l_bins, amplitude=hps.amplitude,
                  offset=hps.offset).to(device)
    restore_model(hps, vqvae, hps.restore_vqvae, auto_download=auto_download)
    vqvae.eval()
    return vqvae


def make_prior(hps, vqvae, device="cuda", auto_download=True):
    prior = SimplePrior(level=hps.level, levels=vqvae.levels, hop_lengths=list(vqvae.hop_lengths),
                        n_ctx=hps.n_ctx, l_bins=vqvae.l_bins, width=hps.prior_width, sr=hps.sr,
                        min_duration=hps.min_duration, max_duration=hps.max_duration, n_tokens=hps.n_tokens)
    if hps.fp16_params:
        prior.table.data = prior.table.data.half()
    prior = prior.to(device)
    restore_model(hps, prior, hps.restore_prior, auto_download=auto_download)
    prior.eval()
    return prior
'''

_VQVAE = '''
import numpy as np
import torch as t
import torch.nn as nn


class VQVAE(nn.Module):
    """Codes are pitches: level-l code k plays a sine at freqs[l, k] for one hop."""

    def __init__(self, input_shape, levels, downs_t, strides_t, l_bins, amplitude, offset):
        super().__init__()
        self.sample_length = input_shape[0]
        self.levels = levels
        self.l_bins = l_bins
        self.downsamples = [s ** d for s, d in zip(strides_t, downs_t)]
        self.hop_lengths = np.cumprod(self.downsamples)
        self.z_shapes = [(self.sample_length // int(h),) for h in self.hop_lengths]
        self.amplitude = amplitude
        self.offset = offset
        self.freqs = nn.Parameter(t.zeros(levels, l_bins))

    def _decode(self, zs, start_level=0, end_level=None):
        end_level = self.levels if end_level is None else end_level
        assert len(zs) == end_level - start_level
        z = zs[0]
        assert z.dtype == t.long and z.dim() == 2
        hop = int(self.hop_lengths[start_level])
        f = self.freqs[start_level][z]                           # (N, T)
        f = f.repeat_interleave(hop, dim=1)                      # (N, T * hop)
        phase = t.cumsum(f * (2 * np.pi / 44100.0), dim=1)
        return (self.amplitude * t.sin(phase) + self.offset).unsqueeze(-1)  # (N, T * hop, 1)

    def decode(self, zs, start_level=0, end_level=None, bs_chunks=1):
        z_chunks = [t.chunk(z, bs_chunks, dim=0) for z in zs]
        outs = [self._decode([c[i] for c in z_chunks], start_level, end_level) for i in range(bs_chunks)]
        return t.cat(outs, dim=0)

    def _encode(self, x, start_level=0, end_level=None):
        end_level = self.levels if end_level is None else end_level
        assert x.dim() == 3 and x.shape[-1] == 1, x.shape
        zs = []
        for level in range(self.levels):
            hop = int(self.hop_lengths[level])
            n = x.shape[1] // hop
            frames = x[:, : n * hop, 0].reshape(x.shape[0], n, hop).abs().mean(dim=2)
            zs.append((frames * self.l_bins).long().clamp(0, self.l_bins - 1))
        return zs[start_level:end_level]

    def encode(self, x, start_level=0, end_level=None, bs_chunks=1):
        chunks = [self._encode(x_i, start_level, end_level) for x_i in t.chunk(x, bs_chunks, dim=0)]
        return [t.cat(level, dim=0) for level in zip(*chunks)]
'''

_CONDITIONERS = '''
import torch as t
import torch.nn as nn


class LabelConditioner(nn.Module):
    """Artist and genre ids -> a bias over the code bins; checks the song length range."""

    def __init__(self, l_bins, sr, min_duration, max_duration):
        super().__init__()
        self.artist_emb = nn.Embedding(100, l_bins)
        self.genre_emb = nn.Embedding(100, l_bins)
        self.time = min_duration is not None
        if self.time:
            self.pos_min, self.pos_max = min_duration * sr, max_duration * sr

    def forward(self, y):
        assert isinstance(y, t.cuda.LongTensor), f"Expected dtype {t.cuda.LongTensor}, got {y.dtype}"
        if self.time:
            total = y[:, 0:1]
            assert (self.pos_min <= total).all() and (total < self.pos_max).all(), \\
                f"Range is [{self.pos_min},{self.pos_max}), got {total}"
        return self.artist_emb(y[:, 3]) + self.genre_emb(y[:, 4])
'''

_AUTOREGRESSIVE = '''
import torch as t


def draw_tokens(logits, temp):
    """One draw per position from softmax(logits / temp) (not autoregressive: a stand-in)."""
    return t.distributions.Categorical(logits=logits / temp).sample()


def check_tokens(x, bins):
    assert isinstance(x, t.cuda.LongTensor), x
    assert (0 <= x).all() and (x < bins).all()
'''

_PRIOR = '''
import zlib

import numpy as np
import torch as t
import torch.nn as nn

from jukebox_infer.prior.autoregressive import check_tokens, draw_tokens
from jukebox_infer.prior.conditioners import LabelConditioner


def _id(name):
    words = "_".join("".join(c if c.isalnum() else " " for c in str(name).lower()).split())
    return zlib.crc32(words.encode()) % 100


class Labeller:
    def __init__(self, sample_length, n_tokens):
        self.sample_length = sample_length
        self.n_tokens = n_tokens

    def get_batch_labels(self, metas, device="cpu"):
        ys, infos = [], []
        for m in metas:
            tokens = [ord(c) % 80 for c in str(m["lyrics"])][: self.n_tokens]
            tokens = [0] * (self.n_tokens - len(tokens)) + tokens
            ys.append([m["total_length"], m["offset"], self.sample_length, _id(m["artist"]), _id(m["genre"]), *tokens])
            infos.append(dict(artist=m["artist"], genre=m["genre"], lyrics=m["lyrics"]))
        return dict(y=t.tensor(ys, dtype=t.long).to(device), info=infos)


class SimplePrior(nn.Module):
    def __init__(self, level, levels, hop_lengths, n_ctx, l_bins, width, sr, min_duration, max_duration, n_tokens):
        super().__init__()
        self.level, self.levels, self.n_ctx, self.l_bins = level, levels, n_ctx, l_bins
        self.raw_to_tokens = int(hop_lengths[level])
        self.cond_downsample = int(hop_lengths[level + 1] // hop_lengths[level]) if level < levels - 1 else None
        self.sample_length = n_ctx * self.raw_to_tokens
        self.n_tokens = n_tokens
        self.table = nn.Parameter(t.zeros(l_bins, l_bins))      # previous/upper code -> logits
        self.lyric_emb = nn.Embedding(80, l_bins) if n_tokens else None
        top = level == levels - 1
        self.y_emb = LabelConditioner(l_bins, sr, min_duration if top else None, max_duration)
        self.labeller = Labeller(self.sample_length, n_tokens)

    def get_y(self, labels, start):
        y = labels["y"].clone()
        y[:, 2] = int(self.sample_length)
        y[:, 1:2] += int(start * self.raw_to_tokens)
        return y

    def get_z_conds(self, zs, start, end):
        if self.level == self.levels - 1:
            return None
        assert start % self.cond_downsample == end % self.cond_downsample == 0
        z_cond = zs[self.level + 1][:, start // self.cond_downsample:end // self.cond_downsample]
        assert z_cond.shape[1] == self.n_ctx // self.cond_downsample, (z_cond.shape, self.n_ctx)
        return [z_cond]

    def sample(self, n_samples, z=None, z_conds=None, y=None, fp16=False, temp=1.0, top_k=0, top_p=0.0,
               chunk_size=None, sample_tokens=None):
        sample_tokens = self.n_ctx if sample_tokens is None else sample_tokens
        table = self.table.float()
        have = 0 if z is None else z.shape[1]
        if z is not None and have:
            check_tokens(z, self.l_bins)
        bias = self.y_emb(y).float()                               # (N, bins)
        if self.lyric_emb is not None:
            bias = bias + self.lyric_emb(y[:, 5:]).float().mean(dim=1)
        new = sample_tokens - have
        if z_conds is not None:
            cond = z_conds[0]
            check_tokens(cond, self.l_bins)
            up = cond.repeat_interleave(self.cond_downsample, dim=1)[:, have:sample_tokens]
            logits = table[up] + bias[:, None, :]
        else:
            prev = z[:, -1] if have else t.zeros(n_samples, dtype=t.long, device=bias.device)
            logits = (table[prev] + bias)[:, None, :].expand(n_samples, new, self.l_bins)
        out = draw_tokens(logits, temp)
        return t.cat([z, out], dim=1) if have else out

'''

_SAMPLE = '''
import torch as t

from jukebox_infer.utils.audio_utils import load_audio


def get_starts(total_length, n_ctx, hop_length):
    starts = []
    for start in range(0, total_length - n_ctx + hop_length, hop_length):
        if start + n_ctx >= total_length:
            start = total_length - n_ctx
        starts.append(start)
    return starts


def sample_single_window(zs, labels, sampling_kwargs, level, prior, start, hps):
    end = start + prior.n_ctx
    z = zs[level][:, start:end]
    sample_tokens = sampling_kwargs.get("sample_tokens", end - start)
    new_tokens = sample_tokens - z.shape[1]
    if new_tokens <= 0:
        return zs
    z_conds = prior.get_z_conds(zs, start, end)
    y = prior.get_y(labels, start)
    kwargs = {k: v for k, v in sampling_kwargs.items() if k not in ("max_batch_size",)}
    z = prior.sample(n_samples=z.shape[0], z=z, z_conds=z_conds, y=y, **kwargs)
    zs[level] = t.cat([zs[level], z[:, -new_tokens:]], dim=1)
    return zs


def sample_partial_window(zs, labels, sampling_kwargs, level, prior, tokens_to_sample, hps):
    z = zs[level]
    current = z.shape[1]
    if current < prior.n_ctx - tokens_to_sample:
        sampling_kwargs["sample_tokens"] = current + tokens_to_sample
        start = 0
    else:
        sampling_kwargs["sample_tokens"] = prior.n_ctx
        start = current - prior.n_ctx + tokens_to_sample
    return sample_single_window(zs, labels, sampling_kwargs, level, prior, start, hps)


def sample_level(zs, labels, sampling_kwargs, level, prior, total_length, hop_length, hps):
    if total_length >= prior.n_ctx:
        for start in get_starts(total_length, prior.n_ctx, hop_length):
            zs = sample_single_window(zs, labels, sampling_kwargs, level, prior, start, hps)
    else:
        zs = sample_partial_window(zs, labels, sampling_kwargs, level, prior, total_length, hps)
    return zs


def _sample(zs, labels, sampling_kwargs, priors, sample_levels, hps, device=None):
    device = t.device("cpu") if device is None else t.device(device)
    for level in reversed(sample_levels):
        prior = priors[level]
        prior.to(device)
        assert hps.sample_length % prior.raw_to_tokens == 0, "sample_length not a multiple of raw_to_tokens"
        total_length = hps.sample_length // prior.raw_to_tokens
        hop_length = int(hps.hop_fraction[level] * prior.n_ctx)
        zs = sample_level(zs, labels[level], sampling_kwargs[level], level, prior, total_length, hop_length, hps)
    return zs


def load_prompts(audio_files, duration, hps, device="cuda"):
    xs = []
    for audio_file in audio_files:
        x = load_audio(audio_file, sr=hps.sr, duration=duration, offset=0.0, mono=True)
        xs.append(x.T)
    while len(xs) < hps.n_samples:
        xs.extend(xs)
    x = t.stack([t.from_numpy(x) for x in xs[: hps.n_samples]])
    return x.to(device)
'''

_AUDIO_UTILS = '''
import wave

import numpy as np


def load_audio(file, sr, offset, duration, mono=False):
    """(channels, samples) float32 of a 16-bit PCM WAV at rate ``sr`` (the fake reads WAV only)."""
    with wave.open(str(file), "rb") as w:
        assert w.getframerate() == sr, f"fake load_audio wants {sr} Hz, got {w.getframerate()}"
        ch = w.getnchannels()
        w.setpos(int(offset))
        raw = w.readframes(int(duration))
    x = np.frombuffer(raw, "<i2").astype(np.float32).reshape(-1, ch).T / 32768.0
    if mono:
        x = x.mean(axis=0, keepdims=True)
    return x
'''

FILES = {
    "jukebox_infer/__init__.py": "",
    "jukebox_infer/hparams.py": _HPARAMS,
    "jukebox_infer/make_models.py": _MAKE_MODELS,
    "jukebox_infer/sample.py": _SAMPLE,
    "jukebox_infer/vqvae/__init__.py": "",
    "jukebox_infer/vqvae/vqvae.py": _VQVAE,
    "jukebox_infer/prior/__init__.py": "",
    "jukebox_infer/prior/prior.py": _PRIOR,
    "jukebox_infer/prior/autoregressive.py": _AUTOREGRESSIVE,
    "jukebox_infer/prior/conditioners.py": _CONDITIONERS,
    "jukebox_infer/utils/__init__.py": "",
    "jukebox_infer/utils/audio_utils.py": _AUDIO_UTILS,
}

L_BINS = 16
LEVELS = 3


def write_fake_jukebox(root: Path) -> Path:
    """The stand-in package under ``root/jukebox_infer``; returns ``root``."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def write_checkpoints(folder: Path, models: tuple[str, ...] = MODELS, seed: int = 0) -> Path:
    """Random-weight checkpoints for the stand-in, in jukebox's layout and format
    (``{"model": state_dict, "step": ..}`` saved with ``torch.save``)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    (folder / "5b").mkdir(parents=True, exist_ok=True)
    freqs = 110.0 * 2.0 ** (torch.randint(0, 36, (LEVELS, L_BINS), generator=g).float() / 12.0)
    torch.save({"model": {"freqs": freqs}, "step": 1}, folder / "5b" / "vqvae.pth.tar")

    def prior(n_tokens: int, fp16: bool) -> dict:
        state = {"table": 2.0 * torch.randn(L_BINS, L_BINS, generator=g),
                 "y_emb.artist_emb.weight": torch.randn(100, L_BINS, generator=g),
                 "y_emb.genre_emb.weight": torch.randn(100, L_BINS, generator=g)}
        if fp16:
            state["table"] = state["table"].half()
        if n_tokens:
            state["lyric_emb.weight"] = torch.randn(80, L_BINS, generator=g)
        return {"model": {f"module.{k}": v for k, v in state.items()}, "step": 2}

    torch.save(prior(0, False), folder / "5b" / "prior_level_0.pth.tar")
    torch.save(prior(0, False), folder / "5b" / "prior_level_1.pth.tar")
    for model, tokens in (("5b", 0), ("5b_lyrics", 16), ("1b_lyrics", 12)):
        if model in models:
            (folder / model).mkdir(parents=True, exist_ok=True)
            torch.save(prior(tokens, True), folder / model / "prior_level_2.pth.tar")
    return folder
