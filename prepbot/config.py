"""One configuration for every command: defaults < config.toml < PREPBOT_* variables < command-line flags.

The TOML file lives in the user's config dir (``platformdirs``), or wherever ``PREPBOT_CONFIG`` points.
Keys are the field names below, e.g. ``backend = "openai-compatible"`` and ``base_url = "http://..."``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from prepbot.errors import PrepbotError

APP_NAME = "prepbot"

# The user's backends, and "scripted": replies a test wrote beforehand (prepbot/llm/backends/scripted.py).
Backend = Literal["local", "openai", "openai-compatible", "scripted"]


def config_file() -> Path:
    explicit = os.environ.get("PREPBOT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREPBOT_", extra="ignore", validate_default=True)

    # Where postings, the vector store, sessions and the call log live.
    home: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    # Assembled GGUF files are big and shared by every home, so they live in the cache dir.
    models_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir(APP_NAME)) / "models")

    # Vector store: embedded PersistentClient under home, or a chroma server ("http://host:port").
    chroma_url: str | None = None
    collection: str = "requirements"
    # Embedder: "use" (Universal Sentence Encoder multilingual, bundled weights) or "openai:<model>".
    embedder: str = "use"

    # LLM backend.
    backend: Backend = "local"
    # local: "default" (1.5B), "fast" (0.5B) or a GGUF path; openai/compatible: the served model name.
    model: str = "default"
    base_url: str | None = None
    api_key: SecretStr | None = None
    threads: int | None = None  # None: chosen from the cores that are free (llm/backends/local/threads.py)
    n_ctx: int = 4096
    timeout_s: float = 120.0
    max_retries: int = 3
    # openai/compatible: requests a model server takes at once (vLLM, llama.cpp's server with --parallel N:
    # that N; `prepbot serve-model` queues them); what concurrent callers such as `prepbot eval` send.
    server_slots: int = Field(default=4, ge=1)
    cache: bool = True
    # The LLM call log (which is also the reply cache) keeps calls this many days and at most this many calls;
    # older ones are deleted when a process first opens the database. 0 keeps everything.
    log_keep_days: int = Field(default=90, ge=0)
    log_max_calls: int = Field(default=20000, ge=0)
    history_max_entries: int = Field(default=1000, ge=1)  # chat input history (home/chat_history)
    # local: keep the model's state after each prompt's system message on disk (home/prefixes, ~10 MB each),
    # so a new process does not read it again; see llm/backends/local/prefixes.py.
    prefix_cache: bool = True
    # A directory of one's own prompt files (name.vN.md), next to the shipped ones; see prompts.py.
    prompts_dir: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def db_path(self) -> Path:
        """SQLite file for postings, sessions and the LLM call log."""
        return self.home / "prepbot.sqlite3"

    def resolved_api_key(self) -> str | None:
        """The key for the server ``base_url`` names: ``api_key`` (PREPBOT_API_KEY) wherever that is, and
        OPENAI_API_KEY only to OpenAI's own API over https, never to another server it was not issued for."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if is_openai_endpoint(self.base_url):
            return os.environ.get("OPENAI_API_KEY")
        return None

    def with_overrides(self, **overrides: Any) -> Settings:
        """Command-line flags win over everything; None means "flag not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given) if given else self


OPENAI_HOSTS = ("api.openai.com",)


def is_openai_endpoint(base_url: str | None) -> bool:
    """Whether requests go to OpenAI's API: no base_url (the client's default), or https to its host."""
    if not base_url:
        return True
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    return url.scheme == "https" and (url.hostname or "").lower() in OPENAI_HOSTS


@lru_cache(maxsize=1)
def _load() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:  # a bad PREPBOT_* value or config.toml key: say which, in one line
        raise _settings_error(exc) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed config.toml (tomllib raises ValueError)
        raise PrepbotError(f"cannot read the configuration {config_file()}: {exc}") from None


def _settings_error(exc: Any) -> PrepbotError:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        given = error.get("input")
        shown = f" (got {str(given)[:60]!r})" if given is not None and not isinstance(given, dict) else ""
        problems.append(f"{name}: {error['msg']}{shown}")
    where = f"PREPBOT_* variables or {config_file()}"
    return PrepbotError(f"bad setting in {where}: {'; '.join(problems)}")


def get_settings(**overrides: Any) -> Settings:
    return _load().with_overrides(**overrides)


def reset_settings_cache() -> None:
    """Tests and long-lived processes that change PREPBOT_* call this to re-read the environment."""
    _load.cache_clear()
