"""A stand-in StyleGAN2-ADA checkout for the adapter tests (our own small code, no NVIDIA code).

It implements the interface ``nyeshc.backends.models.stylegan2`` uses, as the official
repository publishes it: ``legacy.load_network_pkl(f)`` returns a dict whose ``'G_ema'`` is a
``torch.nn.Module`` with ``z_dim``, ``w_dim``, ``c_dim``, ``num_ws``, ``img_resolution``,
``img_channels``, ``mapping(z, c, truncation_psi=1, truncation_cutoff=None)`` giving
``(N, num_ws, w_dim)`` (truncation lerps toward the ``w_avg`` buffer) and
``synthesis(ws, noise_mode=..., force_fp32=...)`` giving ``(N, img_channels, R, R)`` in about
[-1, 1]. The network pickle is written as the official training loop writes its snapshots:
``pickle.dump(dict(training_set_kwargs=..., G=..., D=..., G_ema=...), f)``.

Import it as ``from stylegan2_fakes import ...``: pytest's default ("prepend") import mode puts
tests/models, a folder without ``__init__.py``, on ``sys.path`` for the test modules there.
"""

from __future__ import annotations

import pickle
import sys
import textwrap
from pathlib import Path

LEGACY = '''
"""Stand-in legacy.py: load_network_pkl(f) unpickles the snapshot dict and checks it."""
import pickle
import torch

LOADS = []  # what was opened, for the tests


def load_network_pkl(f, force_fp16=False):
    LOADS.append(getattr(f, "name", None))
    data = pickle.load(f)
    assert isinstance(data["G_ema"], torch.nn.Module)
    return data
'''

NETWORKS = '''
"""Stand-in networks with StyleGAN2-ADA's generator interface (small, smooth in W)."""
import numpy as np
import torch


def normalize_2nd_moment(x, eps=1e-8):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FakeMapping(torch.nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, num_ws):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        g = torch.Generator().manual_seed(1)
        n_in = z_dim + (w_dim if c_dim else 0)
        self.fc0 = torch.nn.Parameter(torch.randn(n_in, w_dim, generator=g) / n_in ** 0.5)
        self.fc1 = torch.nn.Parameter(torch.randn(w_dim, w_dim, generator=g) / w_dim ** 0.5)
        if c_dim:
            self.embed = torch.nn.Parameter(torch.randn(c_dim, w_dim, generator=g))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, skip_w_avg_update=False):
        assert z.ndim == 2 and z.shape[1] == self.z_dim, z.shape
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim:
            assert c.shape[1] == self.c_dim
            x = torch.cat([x, normalize_2nd_moment(c.to(torch.float32) @ self.embed)], dim=1)
        x = torch.nn.functional.leaky_relu(x @ self.fc0, 0.2)
        x = x @ self.fc1
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x = self.w_avg.lerp(x, truncation_psi)
        return x


class FakeSynthesis(torch.nn.Module):
    def __init__(self, w_dim, num_ws, img_resolution, img_channels):
        super().__init__()
        self.w_dim, self.num_ws = w_dim, num_ws
        self.img_resolution, self.img_channels = img_resolution, img_channels
        g = torch.Generator().manual_seed(2)
        self.const = torch.nn.Parameter(torch.randn(8, 4, 4, generator=g))
        self.style = torch.nn.Parameter(torch.randn(w_dim, 8 * 16, generator=g) / w_dim ** 0.5)
        self.conv = torch.nn.Parameter(torch.randn(8, 8, 3, 3, generator=g) / 24 ** 0.5)
        self.rgb = torch.nn.Parameter(torch.randn(img_channels, 8, 1, 1, generator=g) / 8 ** 0.5)
        self.register_buffer("noise_const", torch.randn([img_resolution, img_resolution], generator=g))

    def forward(self, ws, noise_mode="random", force_fp32=False, **kwargs):
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.w_dim), ws.shape
        w = ws.to(torch.float32).mean(dim=1)
        x = self.const.unsqueeze(0) + (w @ self.style).reshape(-1, 8, 4, 4)
        x = torch.nn.functional.interpolate(x, size=(self.img_resolution,) * 2, mode="bilinear",
                                            align_corners=False)
        x = torch.nn.functional.leaky_relu(torch.nn.functional.conv2d(x, self.conv, padding=1), 0.2)
        if noise_mode == "random":
            x = x + 0.3 * torch.randn([x.shape[0], 1, x.shape[2], x.shape[3]], device=x.device)
        elif noise_mode == "const":
            x = x + 0.3 * self.noise_const
        return torch.tanh(torch.nn.functional.conv2d(x, self.rgb))


class FakeGenerator(torch.nn.Module):
    def __init__(self, z_dim=12, c_dim=0, w_dim=16, img_resolution=32, img_channels=3, num_ws=6):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = FakeSynthesis(w_dim, num_ws, img_resolution, img_channels)
        self.num_ws = self.synthesis.num_ws
        self.mapping = FakeMapping(z_dim, c_dim, w_dim, self.num_ws)
        with torch.no_grad():  # the moving average training would leave
            zs = torch.from_numpy(np.random.RandomState(123).randn(256, z_dim))
            c = torch.zeros([256, c_dim])
            if c_dim:
                c[:, 0] = 1
            self.mapping.w_avg.copy_(self.mapping(zs, c)[:, 0].mean(0))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, **synthesis_kwargs):
        return self.synthesis(self.mapping(z, c, truncation_psi, truncation_cutoff), **synthesis_kwargs)
'''

Z_DIM, W_DIM, RES = 12, 16, 32


def write_checkout(root: Path) -> Path:
    """A fake stylegan2-ada-pytorch checkout at ``root`` (legacy.py, dnnlib/, torch_utils/)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "legacy.py").write_text(textwrap.dedent(LEGACY), encoding="utf-8")
    (root / "sg2_fake_networks.py").write_text(textwrap.dedent(NETWORKS), encoding="utf-8")
    for pkg in ("dnnlib", "torch_utils"):
        (root / pkg).mkdir(exist_ok=True)
        (root / pkg / "__init__.py").write_text("", encoding="utf-8")
    return root


def write_pickle(checkout: Path, out: Path, *, c_dim: int = 0, w_dim: int = W_DIM, res: int = RES,
                 channels: int = 3) -> Path:
    """A network snapshot pickled from the fake checkout's classes, as training_loop.py does."""
    root = str(checkout.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    import sg2_fake_networks  # noqa: PLC0415

    G = sg2_fake_networks.FakeGenerator(z_dim=Z_DIM, c_dim=c_dim, w_dim=w_dim, img_resolution=res,
                                        img_channels=channels)
    data = dict(training_set_kwargs=dict(resolution=res), G=G, D=None, G_ema=G.eval().requires_grad_(False))
    with open(out, "wb") as f:
        pickle.dump(data, f)
    return out
