"""The scripted backend: replies that a test wrote beforehand, behind the real backend interface.

Tests select it through the settings (``PREPBOT_BACKEND=scripted``) and stage what it answers with
``select(monkeypatch, chat_model)``; every ``get_llm()`` in prepbot then runs on that chat model. The staged
``ScriptedChatModel`` streams each enqueued reply in word-sized pieces, raises an enqueued exception, and
records every call's messages and bound options. It speaks OpenAI's wire format (a strict json_schema
``response_format``) and takes one call at a time, so that what a test sees does not depend on threads.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import Field

from prepbot.config import Settings, reset_settings_cache
from prepbot.errors import PrepbotError
from prepbot.llm.backend import Backend, Capabilities
from prepbot.llm.backends.openai import OpenAIBackend

NAME, MODEL = "fake", "fake-model"  # what its calls are logged and reported under
N_CTX = 4096

_staged: Backend | None = None


class ScriptedChatModel(BaseChatModel):
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
        return "scripted"

    def enqueue(self, *replies: str | BaseException) -> ScriptedChatModel:
        self.replies.extend(replies)
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append({"messages": list(messages), **kwargs})
        if not self.replies:
            raise AssertionError("the scripted chat model was called with no reply enqueued")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        pieces = re.findall(r"\S+\s*|\s+", reply)
        for piece in pieces:
            info = {"logprobs": {"content": [self._logprobs_entry(piece)]}} if kwargs.get("logprobs") else None
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece), generation_info=info)
        prompt_tokens = sum(len(m.text.split()) for m in messages)
        total = prompt_tokens + len(pieces)
        usage = {"input_tokens": prompt_tokens, "output_tokens": len(pieces), "total_tokens": total}
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=cast(UsageMetadata, usage)),
            generation_info={"finish_reason": self.finish_reason},
        )

    def _logprobs_entry(self, piece: str) -> dict[str, Any]:
        """The chat completions API's logprobs entry for ``piece``, with the alternatives scripted for it."""
        top = self.alternatives.get(piece.strip(), {})
        return {
            "token": piece,
            "logprob": top.get(piece.strip()),
            "top_logprobs": [{"token": token, "logprob": logprob} for token, logprob in top.items()],
        }


class ScriptedBackend(OpenAIBackend):
    """The staged chat model with OpenAI's request options; ``from_settings`` returns what ``select`` staged."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        stream=True, structured_output="json_schema", logprobs=True, prewarm=False, max_concurrency=1
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        if _staged is None:
            raise PrepbotError("the scripted backend answers only in tests: stage its replies with select() first")
        return _staged


class Patcher(Protocol):
    """What ``select`` needs to change for one test and undo afterwards: pytest's ``monkeypatch``."""

    def setenv(self, name: str, value: str) -> None: ...

    def setattr(self, target: Any, name: str, value: Any) -> None: ...


def select(patch: Patcher, script: BaseChatModel | Backend, *, n_ctx: int = N_CTX) -> Backend:
    """Make the scripted backend the one every ``get_llm()`` returns, until ``patch`` is undone.

    ``script`` is the chat model to answer with (named ``NAME``/``MODEL``, with ``n_ctx``), or a backend whose
    name, model, chat model and context size to take. Returns the staged backend.
    """
    if isinstance(script, Backend):
        backend = ScriptedBackend(script.name, script.model, script.chat_model, script.n_ctx, script.endpoint)
    else:
        backend = ScriptedBackend(NAME, MODEL, script, n_ctx)
    patch.setenv("PREPBOT_BACKEND", "scripted")
    patch.setattr(sys.modules[__name__], "_staged", backend)
    reset_settings_cache()
    return backend
