"""What every backend provides: a chat model, how to bind a call's options to it, and what it can do.

A backend is a langchain chat model plus what differs between endpoints: how to ask it for structured output,
how to read its streamed text, how to count its tokens and what a call costs. ``Capabilities`` says what a
caller may rely on (streaming, how JSON is made, logprobs, prewarming, how many calls at once), so that code
outside this package adapts to a backend without asking which one it is.
"""

from __future__ import annotations

import threading
from typing import ClassVar, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict

from prepbot.config import Settings
from prepbot.llm.tokens import count_message_tokens
from prepbot.prompts import ChatMessage


class Capabilities(BaseModel):
    """What a backend can do, for callers that adapt to it instead of asking which backend it is."""

    model_config = ConfigDict(frozen=True)

    stream: bool  # replies arrive token by token
    structured_output: Literal["grammar", "json_schema", "tool_call", "none"]  # how it is made to write JSON
    logprobs: bool  # it reports the likeliest tokens at each place (``top_logprobs``)
    prewarm: bool  # it can evaluate a prompt prefix ahead of the call (``LLM.prewarm``)
    max_concurrency: int  # calls at once that make sense: 1 for an in-process model


class PrewarmHandle(Protocol):
    """A prompt prefix being evaluated in the background (see ``Backend.prewarm``)."""

    thread: threading.Thread

    def cancel(self, wait: bool = False) -> None: ...


class Backend:
    """A chat model plus what differs between endpoints. Subclasses say how to build one from the settings
    (``from_settings``), how a call's options are bound (``bind``) and what they can do (``capabilities``)."""

    capabilities: ClassVar[Capabilities]

    def __init__(self, name: str, model: str, chat_model: BaseChatModel, n_ctx: int, endpoint: str | None = None):
        self.name, self.model, self.chat_model, self.n_ctx = name, model, chat_model, n_ctx
        self.endpoint = endpoint  # the server's base_url: two servers may serve different models under one name

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        """The backend for these settings (``settings.backend`` names this class in the registry)."""
        raise NotImplementedError

    @classmethod
    def preload(cls, settings: Settings) -> threading.Thread | None:
        """Start loading what ``from_settings`` would load, in a thread; None when there is nothing to load."""
        return None

    def bind(
        self,
        output_model: type[BaseModel] | None,
        *,
        max_tokens: int,
        temperature: float,
        top_logprobs: int | None = None,
    ) -> Runnable:
        """The chat model with one call's options: the output schema (None: plain text), limits, logprobs."""
        raise NotImplementedError

    def text_of(self, chunk: AIMessageChunk) -> str:
        return chunk.text

    def count_messages(self, messages: list[ChatMessage]) -> int:
        return count_message_tokens(messages)

    def cost_usd(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        return None  # no known price

    def prewarm(self, messages: list[ChatMessage], mark: str) -> PrewarmHandle | None:
        """Start evaluating ``messages`` up to ``mark`` ahead of a call, where ``capabilities.prewarm`` says so."""
        return None
