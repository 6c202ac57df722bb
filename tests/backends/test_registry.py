"""Loading a backend with the settings of a ``nysh.toml`` profile."""

from __future__ import annotations

import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import BackendError


def test_an_unknown_setting_is_named_with_the_closest_known_one() -> None:
    """``checkpoint = …`` for JukeBox (whose setting is ``checkpoints``): a clear error, not a
    ``TypeError`` traceback from the constructor."""
    with pytest.raises(BackendError, match=r"backend music\.jukebox has no setting 'checkpoint'; did you mean "
                                           r"'checkpoints'\? \(its settings: checkpoints, model, "):
        registry.load("music.jukebox", {"checkpoint": "/nowhere"})


def test_a_setting_nothing_resembles_lists_the_settings() -> None:
    with pytest.raises(BackendError) as info:
        registry.load("music.procedural", {"zzz": 1})
    message = str(info.value)
    assert message.startswith("backend music.procedural has no setting 'zzz' (its settings: ")
    assert "did you mean" not in message


def test_known_settings_still_load() -> None:
    backend = registry.load("music.procedural", {})
    assert backend.id == "music.procedural"
