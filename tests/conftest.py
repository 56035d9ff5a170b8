"""Fixtures shared by every test: each test gets its own prepbot home and no config file."""

from __future__ import annotations

import pytest

from prepbot.config import reset_settings_cache


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point PREPBOT_HOME at a temp dir; models stay in the shared cache (assembling 1 GB per test is no test)."""
    monkeypatch.setenv("PREPBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREPBOT_CONFIG", str(tmp_path / "absent-config.toml"))
    for name in ("PREPBOT_CHROMA_URL", "PREPBOT_COLLECTION", "PREPBOT_BACKEND", "PREPBOT_MODEL", "PREPBOT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    yield tmp_path / "home"
    reset_settings_cache()
