"""OpenAI's API and OpenAI-compatible servers, through langchain's ``ChatOpenAI``."""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_function
from pydantic import BaseModel, SecretStr

from prepbot.config import Settings, is_openai_endpoint
from prepbot.errors import PrepbotError
from prepbot.llm.backend import Backend, Capabilities

# OpenAI list prices in USD per million tokens (input, output) when this table was written; a dated
# snapshot ("gpt-4o-mini-2024-07-18") is priced as its family. Models not listed get no cost.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}


def cost_usd(model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    families = [name for name in PRICES_PER_MTOK if model == name or model.startswith(name + "-")]
    if not families or prompt_tokens is None or completion_tokens is None:
        return None
    family = max(families, key=len)  # "gpt-4o-mini-2024-07-18" is gpt-4o-mini, not gpt-4o
    price_in, price_out = PRICES_PER_MTOK[family]
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000


def strict_response_format(output_model: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's strict json_schema response format. Strict mode refuses string length bounds, so they are left
    out of what is sent; validating the reply still enforces them (with a repair)."""
    function = convert_to_openai_function(output_model, strict=True)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": function["name"],
            "description": function.get("description", ""),
            "schema": _without_keys(function["parameters"], {"minLength", "maxLength"}),
            "strict": True,
        },
    }


def logprobs_options(top_logprobs: int | None) -> dict[str, Any]:
    """The chat completions API's request for the likeliest tokens at each generated place."""
    return {"logprobs": True, "top_logprobs": top_logprobs} if top_logprobs else {}


def _without_keys(schema: Any, keys: set[str]) -> Any:
    if isinstance(schema, dict):
        return {k: _without_keys(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [_without_keys(v, keys) for v in schema]
    return schema


def chat_openai(settings: Settings, api_key: str | None, *, tiktoken_model_name: str | None = None) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(api_key or "unused"),  # the client insists on one; local servers ignore it
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,  # the client backs off exponentially, honouring Retry-After
        stream_usage=True,
        tiktoken_model_name=tiktoken_model_name,
    )


class OpenAIBackend(Backend):
    """OpenAI's API: JSON comes from structured output (a strict json_schema ``response_format``) in the
    streamed message content."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        stream=True, structured_output="json_schema", logprobs=True, prewarm=False, max_concurrency=4
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        key = settings.resolved_api_key()
        if not key:
            if is_openai_endpoint(settings.base_url):
                raise PrepbotError("the openai backend needs an API key: set OPENAI_API_KEY or api_key in config.toml")
            raise PrepbotError(
                f"no API key for {settings.base_url}: OPENAI_API_KEY goes only to api.openai.com; "
                "set PREPBOT_API_KEY (or api_key in config.toml) for this server"
            )
        return cls(settings.backend, settings.model, chat_openai(settings, key), settings.n_ctx, settings.base_url)

    def bind(
        self,
        output_model: type[BaseModel] | None,
        *,
        max_tokens: int,
        temperature: float,
        top_logprobs: int | None = None,
    ) -> Runnable:
        structured = {"response_format": strict_response_format(output_model)} if output_model else {}
        return self.chat_model.bind(
            max_tokens=max_tokens, temperature=temperature, **structured, **logprobs_options(top_logprobs)
        )

    def cost_usd(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        return cost_usd(self.model, prompt_tokens, completion_tokens)


class CompatibleBackend(OpenAIBackend):
    """Any OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp's server).

    Structured output goes through a forced function call: it is the most widely implemented way, and
    llama.cpp's server constrains the arguments to the schema (its json_schema response_format answers
    HTTP 500). ``max_tokens`` travels in the body because such servers ignore ``max_completion_tokens``.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        stream=True, structured_output="tool_call", logprobs=True, prewarm=False, max_concurrency=4
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        if not settings.base_url:
            raise PrepbotError("the openai-compatible backend needs base_url (PREPBOT_BASE_URL or config.toml)")
        # cl100k (gpt-3.5-turbo's) is the encoding available offline, for langchain's own counting.
        chat_model = chat_openai(settings, settings.resolved_api_key(), tiktoken_model_name="gpt-3.5-turbo")
        return cls(settings.backend, settings.model, chat_model, settings.n_ctx, settings.base_url)

    def bind(
        self,
        output_model: type[BaseModel] | None,
        *,
        max_tokens: int,
        temperature: float,
        top_logprobs: int | None = None,
    ) -> Runnable:
        limits = {
            "temperature": temperature,
            "extra_body": {"max_tokens": max_tokens},
            **logprobs_options(top_logprobs),
        }
        if output_model is None:
            return self.chat_model.bind(**limits)
        return self.chat_model.bind_tools([output_model], tool_choice=output_model.__name__, **limits)

    def text_of(self, chunk: AIMessageChunk) -> str:
        return chunk.text + "".join(call.get("args") or "" for call in chunk.tool_call_chunks)

    def cost_usd(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        return None  # a self-hosted model has no list price
