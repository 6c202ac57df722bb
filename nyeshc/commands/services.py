"""The real :class:`nyeshc.resolve.services.Services` now lives in the pipeline driver:
:class:`nyeshc.pipeline.RegistryServices` (the language server and a studio need it too, and
they may not import ``nyeshc.commands``). This name stays for the callers that import it from
here."""

from __future__ import annotations

from nyeshc.pipeline import RegistryServices

__all__ = ["RegistryServices"]
