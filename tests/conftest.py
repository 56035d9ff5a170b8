"""Fixtures shared by every test: each test gets its own prepbot home and no config file."""

from __future__ import annotations

import pytest

from prepbot.config import reset_settings_cache
from prepbot.llm import LLM, get_llm
from prepbot.llm.backends import scripted
from prepbot.llm.backends.scripted import ScriptedChatModel


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point PREPBOT_HOME at a temp dir; models stay in the shared cache (assembling 1 GB per test is no test)."""
    monkeypatch.setenv("PREPBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREPBOT_CONFIG", str(tmp_path / "absent-config.toml"))
    for name in (
        "PREPBOT_CHROMA_URL",
        "PREPBOT_COLLECTION",
        "PREPBOT_BACKEND",
        "PREPBOT_MODEL",
        "PREPBOT_BASE_URL",
        "PREPBOT_PROMPTS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    yield tmp_path / "home"
    reset_settings_cache()


# --- LLM: the scripted backend (prepbot/llm/backends/scripted.py) ------------------------------------------


@pytest.fixture
def fake_chat() -> ScriptedChatModel:
    """The scripted chat model: ``enqueue`` its replies, read ``calls`` afterwards."""
    return ScriptedChatModel()


@pytest.fixture
def fake_llm(fake_chat, monkeypatch) -> LLM:
    """An LLM on the scripted backend (PREPBOT_BACKEND=scripted); ``get_llm()`` anywhere in prepbot returns one
    on the same chat model too."""
    scripted.select(monkeypatch, fake_chat)
    return get_llm()
