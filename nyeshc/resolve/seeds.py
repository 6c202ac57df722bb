"""Seed derivation: every random choice from the film seed, a name path and an explicit seed.

A *name path* names an element by what it is, never by where it sits in the file::

    look DUSK                      a look's latent
    image / seed 17                an inline ``seed 17`` stop of a backdrop morph
    character NARRATOR / portrait  a generated portrait
    portrait / seed 5              a ``blend(seed 5, …)`` argument
    music THEME                    a generated cue
    alphabet NYESH                 an alphabet
    scene 1 / NARRATOR / line 2    the second line NARRATOR speaks in scene 1
    scene 1 / NARRATOR / beat 1    NARRATOR's first beat in scene 1 (blinks, head motion)

Scenes are named by their number (``SCENE 3`` → ``scene 3``), else their heading
(``scene INT. CATHEDRAL - NIGHT``); so inserting or editing a scene changes no other scene's
seeds.

The explicit seed does not replace the derivation: ``look DUSK: image: generate, seed 42`` is
``derive(film_seed, "look DUSK", 42)``. The film seed stays in on purpose — changing the
header's ``seed`` re-rolls the whole film, and two films that both say ``seed 42`` still get
different pictures unless they also share the film seed and the name path.

>>> derive(2020, "look DUSK", 42) == derive(2020, "look  DUSK ", 42)
True
>>> derive(2020, "look DUSK", 42) != derive(2021, "look DUSK", 42)
True
>>> 0 <= derive(0, "music THEME") < 2**32
True
"""

from __future__ import annotations

import hashlib

SEED_SPACE = 2**32
_VERSION = "nyeshc-seed/1"


def normalise(name_path: str) -> str:
    """Whitespace collapsed, `` / `` between parts: the canonical spelling of a name path."""
    parts = [" ".join(p.split()) for p in name_path.split("/")]
    return " / ".join(parts)


def derive(film_seed: int, name_path: str, explicit: int | None = None) -> int:
    """A seed in ``[0, 2**32)`` from SHA-256 of ``film seed | name path | explicit seed``."""
    canon = "\x1f".join((_VERSION, str(int(film_seed)), normalise(name_path),
                         "" if explicit is None else str(int(explicit))))
    digest = hashlib.sha256(canon.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big")
