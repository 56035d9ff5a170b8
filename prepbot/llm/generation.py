"""What one call returns: the validated output, the raw text, and what it cost (tokens, time, money)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field, SerializeAsAny

from prepbot.prompts import ChatMessage

TokenCallback = Callable[[str], None]


class TokenLogprob(BaseModel):
    """One generated token and the likeliest tokens at its place, with natural-log probabilities (OpenAI's
    ``logprobs.content`` entries). The local model reports its own distribution before the output schema's
    grammar masks any token, so ``top`` may hold tokens the schema would not have allowed there."""

    token: str
    logprob: float | None = None  # the generated token's, when it is among ``top``
    top: dict[str, float] = Field(default_factory=dict)


class Generation(BaseModel):
    output: SerializeAsAny[BaseModel] | str  # the prompt's output model, or the text for "text" prompts
    text: str
    prompt: str  # name@version
    backend: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    cost_usd: float | None
    cached: bool
    logprobs: list[TokenLogprob] | None = None  # when the call asked for them (``top_logprobs``)
    messages: list[ChatMessage] = Field(default_factory=list, exclude=True, repr=False)  # what was sent
