"""Fixtures shared by every test: each test gets its own prepbot home and no config file."""

from __future__ import annotations

import re

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from prepbot.config import get_settings, reset_settings_cache
from prepbot.llm import LLM, Backend


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point PREPBOT_HOME at a temp dir; models stay in the shared cache (assembling 1 GB per test is no test)."""
    monkeypatch.setenv("PREPBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREPBOT_CONFIG", str(tmp_path / "absent-config.toml"))
    for name in ("PREPBOT_CHROMA_URL", "PREPBOT_COLLECTION", "PREPBOT_BACKEND", "PREPBOT_MODEL", "PREPBOT_BASE_URL",
                 "PREPBOT_PROMPTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    yield tmp_path / "home"
    reset_settings_cache()


# --- LLM: a scripted fake chat model behind the real backend interface -------------------------------------


class FakeChatModel(BaseChatModel):
    """Replies with what the test enqueued, streamed in word-sized pieces; an enqueued exception is raised.

    ``calls`` records the messages and bound parameters of every call, for assertions.
    """

    replies: list = Field(default_factory=list)
    calls: list = Field(default_factory=list)
    finish_reason: str = "stop"
    # Asked for logprobs, each streamed piece reports these alternatives for its stripped text (if any).
    alternatives: dict = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "fake"

    def enqueue(self, *replies: str | BaseException) -> "FakeChatModel":
        self.replies.extend(replies)
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append({"messages": list(messages), **kwargs})
        assert self.replies, "the fake chat model was called with no reply enqueued"
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        pieces = re.findall(r"\S+\s*|\s+", reply)
        for piece in pieces:
            info = None
            if kwargs.get("logprobs"):
                top = self.alternatives.get(piece.strip(), {})
                info = {"logprobs": {"content": [{"token": piece, "logprob": top.get(piece.strip()),
                        "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top.items()]}]}}  # fmt: skip
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece), generation_info=info)
        prompt_tokens = sum(len(m.text.split()) for m in messages)
        usage = {"input_tokens": prompt_tokens, "output_tokens": len(pieces),
                 "total_tokens": prompt_tokens + len(pieces)}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage),
                                  generation_info={"finish_reason": self.finish_reason})


@pytest.fixture
def fake_chat() -> FakeChatModel:
    return FakeChatModel()


@pytest.fixture
def fake_llm(fake_chat, monkeypatch) -> LLM:
    """An LLM on the fake; ``get_llm()`` anywhere in prepbot returns one on the same fake too."""
    backend = Backend("fake", "fake-model", fake_chat, n_ctx=4096)
    monkeypatch.setattr("prepbot.llm.make_backend", lambda settings, threads=None: backend)
    return LLM(get_settings(), backend)
