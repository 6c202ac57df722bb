"""Fixtures for the checker's tests: tiny asset files, made fresh (no committed binaries)."""

from __future__ import annotations

import struct
import wave
from io import BytesIO

import pytest


def tiny_png() -> bytes:
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (4, 4), (200, 180, 150)).save(buf, format="PNG")
    return buf.getvalue()


def tiny_wav() -> bytes:
    buf = BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<80h", *([0] * 80)))
    return buf.getvalue()


def tiny_mp4() -> bytes:
    # an ISO-BMFF file type box and an empty media data box: enough to be recognised as MP4
    ftyp = struct.pack(">I4s4sI", 20, b"ftyp", b"isom", 512) + b"isom"
    return ftyp + struct.pack(">I4s", 8, b"mdat")


ASSETS = {
    "real.png": tiny_png,
    "real.wav": tiny_wav,
    "real.mp4": tiny_mp4,
    "fake.png": lambda: b"this is not a picture, it is text\n",
    "fake.wav": tiny_png,
    "fake.mp4": tiny_wav,
    "model.pkl": lambda: b"\x80\x04 this would be a pickle: the checker must never open it",
}


@pytest.fixture(scope="session")
def asset_bytes() -> dict[str, bytes]:
    return {name: make() for name, make in ASSETS.items()}


