"""Which backend class ``settings.backend`` names, and building one.

Each backend class builds itself from the settings (``Backend.from_settings``) and declares what it can do
(``Backend.capabilities``), so ``capabilities_for`` answers without building a backend or loading weights.
"""

from __future__ import annotations

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.llm.backend import Backend, Capabilities
from prepbot.llm.backends.local.backend import LocalBackend
from prepbot.llm.backends.openai import CompatibleBackend, OpenAIBackend
from prepbot.llm.backends.scripted import ScriptedBackend

_BACKENDS: dict[str, type[Backend]] = {}


def register_backend(name: str, backend_class: type[Backend]) -> None:
    """Make ``settings.backend == name`` build ``backend_class.from_settings(settings)``."""
    _BACKENDS[name] = backend_class


def backend_class(name: str) -> type[Backend]:
    try:
        return _BACKENDS[name]
    except KeyError:
        raise PrepbotError(f"unknown backend {name!r} (known: {', '.join(sorted(_BACKENDS))})") from None


def make_backend(settings: Settings) -> Backend:
    """The backend these settings choose, built (for the local one: loaded, or shared once loaded)."""
    return backend_class(settings.backend).from_settings(settings)


def capabilities_for(settings: Settings) -> Capabilities:
    """What the backend these settings choose can do, without building it (no weights are loaded); a
    server backend takes as many calls at once as the server has slots (``server_slots``)."""
    capabilities = backend_class(settings.backend).capabilities
    if settings.backend in ("openai", "openai-compatible"):
        return capabilities.model_copy(update={"max_concurrency": settings.server_slots})
    return capabilities


register_backend("local", LocalBackend)
register_backend("openai", OpenAIBackend)
register_backend("openai-compatible", CompatibleBackend)
register_backend("scripted", ScriptedBackend)
