"""The GGUF registry: assembling from part packages, sha256 pinning, the verification sidecar, GGUF paths."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from prepbot.config import get_settings, reset_settings_cache
from prepbot.errors import PrepbotError
from prepbot.llm.backends.local import models
from prepbot.llm.backends.local.models import ModelSpec, list_models, pull_model, resolve_model, verify_model
from tests.helpers import run_cli

CHUNKS = [b"GGUF" + b"a" * 3000, b"b" * 5000, b"c" * 10]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A three-part model whose parts are importable packages, like the real ones, in a private models dir."""
    site = tmp_path / "site"
    for n, chunk in enumerate(CHUNKS, start=1):
        data = site / f"tiny_model_part{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(CHUNKS)
    spec = ModelSpec(
        name="tiny",
        description="test model",
        filename="tiny.gguf",
        parts=[f"tiny-model-part{n}" for n in (1, 2, 3)],
        extra="tiny",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    monkeypatch.setitem(models.KNOWN_MODELS, "tiny", spec)
    monkeypatch.setenv("PREPBOT_MODELS_DIR", str(tmp_path / "models"))
    reset_settings_cache()
    return spec


def test_pull_assembles_in_order_verifies_and_writes_a_sidecar(tiny):
    seen = []
    path = pull_model("tiny", progress=seen.append)
    assert path.read_bytes() == b"".join(CHUNKS)
    assert sum(seen) == tiny.size
    sidecar = json.loads(path.with_name("tiny.gguf.verified.json").read_text())
    assert sidecar["sha256"] == tiny.sha256 and sidecar["size"] == tiny.size
    assert not list(path.parent.glob("*.partial"))
    status = next(s for s in list_models() if s.name == "tiny")
    assert status.assembled and status.parts_installed == status.parts_total == 3


def test_a_later_load_trusts_the_sidecar_instead_of_rehashing(tiny, monkeypatch):
    path = pull_model("tiny")
    monkeypatch.setattr(models, "_sha256", lambda *a, **k: pytest.fail("re-hashed an unchanged file"))
    assert resolve_model("tiny") == path


def test_a_changed_file_is_rehashed_and_rejected_and_removed(tiny):
    path = pull_model("tiny")
    path.write_bytes(b"GGUF" + b"x" * (tiny.size - 4))  # same size, new mtime, different bytes
    with pytest.raises(PrepbotError, match="is corrupt .* it was removed: run `prepbot models pull tiny`"):
        resolve_model("tiny")
    assert not path.exists()
    assert resolve_model("tiny").read_bytes() == b"".join(CHUNKS)  # assembled again on the next use


def test_parts_that_do_not_match_the_pinned_sha_are_never_used(tiny, monkeypatch):
    monkeypatch.setitem(models.KNOWN_MODELS, "tiny", tiny.model_copy(update={"sha256": "0" * 64}))
    with pytest.raises(
        PrepbotError, match=r"does not match the pinned sha256.*pip install --force-reinstall 'prepbot\[tiny\]'"
    ):
        pull_model("tiny")
    assert list((get_settings().models_dir).iterdir()) == []  # no file, no partial, no sidecar


def test_missing_parts_name_the_extra_to_install(tiny, monkeypatch):
    monkeypatch.setitem(
        models.KNOWN_MODELS, "tiny", tiny.model_copy(update={"parts": [*tiny.parts, "tiny-model-part4"]})
    )
    with pytest.raises(PrepbotError, match=r"missing tiny-model-part4\): pip install 'prepbot\[tiny\]'"):
        pull_model("tiny")
    assert next(s for s in list_models() if s.name == "tiny").parts_installed == 3


def test_verify_rehashes(tiny, monkeypatch):
    path = pull_model("tiny")
    calls = []
    real = models._sha256
    monkeypatch.setattr(models, "_sha256", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert verify_model("tiny") == path and calls == [1]
    with pytest.raises(PrepbotError, match="not assembled yet"):
        os.remove(path)
        verify_model("tiny")


def test_any_gguf_path(tmp_path):
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 10)
    assert resolve_model(str(gguf)) == gguf
    (tmp_path / "text.gguf").write_text("not a model")
    with pytest.raises(PrepbotError, match="is not a GGUF file"):
        resolve_model(str(tmp_path / "text.gguf"))
    with pytest.raises(PrepbotError, match="does not exist"):
        resolve_model(str(tmp_path / "absent.gguf"))
    with pytest.raises(PrepbotError, match="unknown model 'nope'"):
        pull_model("nope")


def test_cli_models_list_json_and_path(tiny):
    listed = json.loads(run_cli(["models", "list", "--json"]).stdout)
    assert {m["name"] for m in listed} >= {"default", "fast", "tiny"}
    result = run_cli(["models", "path", "tiny"])
    assert result.exit_code == 0 and result.stdout.strip().endswith("tiny.gguf")
    result = run_cli(["models", "verify", "tiny"])
    assert result.exit_code == 0 and "ok tiny" in result.stdout
    result = run_cli(["models", "pull", "nope"])
    assert result.exit_code == 1 and "unknown model 'nope'" in result.stderr
