"""One ``LLM.generate`` call: its attempts on the backend, the one repair, the log rows and the errors.

A reply is streamed, validated against the prompt's output model, and on failure repaired once (the repair
prompt tells the model what was wrong, in the same conversation). Every attempt is one row of the call log,
which is also the cache. What a backend raises becomes a one-line, actionable ``PrepbotError``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Generator, Mapping
from contextlib import closing
from typing import Any, NamedTuple, cast

import openai
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from prepbot.config import Settings
from prepbot.errors import InvalidOutput, PrepbotError
from prepbot.llm import log as logs
from prepbot.llm.backend import Backend
from prepbot.llm.generation import Generation, TokenCallback, TokenLogprob
from prepbot.prompts import ChatMessage, Prompt, load_prompt


class Reply(NamedTuple):
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    truncated: bool = False  # stopped by max_tokens
    logprobs: list[TokenLogprob] | None = None


class Call:
    """One generate() call: its attempts, their log rows and the translation of failures."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        prompt: Prompt,
        stream: TokenCallback | None,
        max_tokens: int,
        temperature: float,
        *,
        inputs_hash: str,
        cache_key: str,
        seed: int | None = None,
        top_logprobs: int | None = None,
    ):
        self.settings, self.backend, self.prompt, self.seed = settings, backend, prompt, seed
        self.top_logprobs = top_logprobs
        self.stream, self.max_tokens, self.temperature = stream, max_tokens, temperature
        self.inputs_hash, self.cache_key = inputs_hash, cache_key

    def from_cache(self) -> Generation | None:
        started = time.monotonic()
        record = logs.cached_call(self.cache_key, self.settings)
        if record is None or record.output is None:
            return None
        try:
            output = self.parse(record.output)
        except ValueError:
            return None  # the output model changed shape since: generate afresh
        if self.stream:
            self.stream(record.output)
        logprobs = None
        if record.logprobs:
            logprobs = [TokenLogprob.model_validate(entry) for entry in json.loads(record.logprobs)]
        reply = Reply(
            record.output, record.prompt_tokens, record.completion_tokens, time.monotonic() - started, logprobs=logprobs
        )
        return self.finish(reply, output, cached=True)

    def run(self, messages: list[ChatMessage], prompt_tokens: int) -> Generation:
        conversation: list[BaseMessage] = [_to_langchain(m) for m in messages]
        reply = self.attempt(conversation, prompt_tokens)
        try:
            return self.finish(reply, self.parse(reply.text))
        except ValueError as invalid:
            if reply.truncated:
                raise self.rejection(reply, invalid) from None
            problem = _one_line(invalid)
            self.log(reply, error=f"invalid output, repairing: {problem}")
        repair = load_prompt("repair", self.settings).render({"error": problem})
        conversation += [AIMessage(content=reply.text), *(_to_langchain(m) for m in repair)]
        repair_tokens = self.backend.count_messages(
            [*messages, ChatMessage(role="assistant", content=reply.text), *repair]
        )
        if repair_tokens + self.max_tokens > self.backend.n_ctx:
            raise InvalidOutput(f"{self.prompt.ref}: invalid output ({problem}), and no room left to repair it")
        reply = self.attempt(conversation, repair_tokens)
        try:
            return self.finish(reply, self.parse(reply.text))
        except ValueError as invalid:
            raise self.rejection(reply, invalid) from None

    def attempt(self, conversation: list[BaseMessage], prompt_tokens: int) -> Reply:
        """Stream one reply, passing its text to the stream callback as it comes."""
        runnable = self.backend.bind(
            self.prompt.output_model,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_logprobs=self.top_logprobs,
        )
        if self.seed is not None:
            runnable = runnable.bind(seed=self.seed)
        pieces: list[str] = []
        logprobs: list[TokenLogprob] = []
        usage: Mapping[str, Any] | None = None
        finish_reason = None
        started = time.monotonic()
        deadline = started + self.settings.timeout_s
        try:
            # stream() is a generator: closing it (on an error or Ctrl-C) stops the request.
            stream = cast("Generator[AIMessageChunk, None, None]", runnable.stream(conversation))
            with closing(stream) as chunks:
                for chunk in chunks:
                    piece = self.backend.text_of(chunk)
                    if piece:
                        pieces.append(piece)
                        if self.stream:
                            self.stream(piece)
                    for entry in (chunk.response_metadata.get("logprobs") or {}).get("content") or []:
                        logprobs.append(_token_logprob(entry))
                    usage = chunk.usage_metadata or usage
                    finish_reason = chunk.response_metadata.get("finish_reason") or finish_reason
                    if time.monotonic() > deadline:
                        raise PrepbotError(f"{self._where()} timed out after {self.settings.timeout_s:g} s")
        except KeyboardInterrupt:
            self.log(Reply("".join(pieces), None, None, time.monotonic() - started), error="interrupted (Ctrl-C)")
            raise
        except Exception as exc:
            error = exc if isinstance(exc, PrepbotError) else self.translate(exc)
            self.log(Reply("".join(pieces), None, None, time.monotonic() - started), error=str(error))
            raise error from exc
        if usage:
            tokens = (usage.get("input_tokens"), usage.get("output_tokens"))
        else:
            # Servers that report no usage (llama.cpp's, for function calls) stream one token per chunk.
            tokens = (prompt_tokens, len(pieces))
        # Function-call streams end with finish_reason "tool_calls" even when max_tokens cut them.
        truncated = finish_reason == "length" or (tokens[1] or 0) >= self.max_tokens
        return Reply(
            "".join(pieces),
            *tokens,
            time.monotonic() - started,
            truncated,
            logprobs if self.top_logprobs and logprobs else None,
        )

    def parse(self, text: str) -> BaseModel | str:
        """The output model validated from the reply; raises ValueError (pydantic's included) if it is not."""
        if self.prompt.output_model is None:
            return text
        # Servers without constrained decoding like to fence JSON in markdown.
        unfenced = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text)
        try:
            return self.prompt.output_model.model_validate_json(unfenced)
        except ValidationError as invalid:
            # Small models sometimes put a raw newline or tab inside a JSON string; that is still their answer.
            try:
                lenient = json.loads(unfenced, strict=False)
            except ValueError:
                raise invalid from None
            return self.prompt.output_model.model_validate(lenient)

    def rejection(self, reply: Reply, invalid: ValueError) -> InvalidOutput:
        """Log a reply that is past repair; returns the error to raise."""
        if reply.truncated:
            error, hint = f"the reply was cut off at max_tokens={self.max_tokens}", "raise max_tokens or ask for less"
        else:
            error, hint = f"invalid output after one repair: {_one_line(invalid)}", "the raw reply is in `prepbot logs`"
        self.log(reply, error=error)
        return InvalidOutput(f"{self.prompt.ref}: {error} ({hint})")

    def finish(self, reply: Reply, output: BaseModel | str, *, cached: bool = False) -> Generation:
        cost = 0.0 if cached else self.backend.cost_usd(reply.prompt_tokens, reply.completion_tokens)
        self.log(reply, cost=cost, cached=cached)
        return Generation(
            output=output,
            text=reply.text,
            prompt=self.prompt.ref,
            backend=self.backend.name,
            model=self.backend.model,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_s=reply.latency_s,
            cost_usd=cost,
            cached=cached,
            logprobs=reply.logprobs,
        )

    def log(self, reply: Reply, *, error: str | None = None, cost: float | None = None, cached: bool = False) -> None:
        logs.log_call(
            logs.CallRecord(
                created_at=logs.now(),
                backend=self.backend.name,
                model=self.backend.model,
                prompt=self.prompt.ref,
                inputs_hash=self.inputs_hash,
                cache_key=self.cache_key,
                output=reply.text or None,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                latency_s=reply.latency_s,
                cost_usd=cost,
                cached=cached,
                error=error,
                logprobs=json.dumps([t.model_dump() for t in reply.logprobs], ensure_ascii=False)
                if reply.logprobs
                else None,
            ),
            self.settings,
        )

    def _where(self) -> str:
        return f"{self.prompt.ref} on {self.backend.name} ({self.backend.model})"

    def translate(self, exc: Exception) -> PrepbotError:
        """A one-line, actionable message for what a backend raised."""
        where, server = self._where(), self.settings.base_url or "the OpenAI API"
        if isinstance(exc, openai.APITimeoutError):
            return PrepbotError(f"{where} timed out after {self.settings.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return PrepbotError(f"{where}: cannot reach {server} ({exc.__cause__ or exc})")
        if isinstance(exc, openai.RateLimitError):
            return PrepbotError(f"{where}: rate limited, still after {self.settings.max_retries} retries")
        if isinstance(exc, openai.AuthenticationError):
            return PrepbotError(f"{where}: the API key was refused (OPENAI_API_KEY or api_key)")
        if isinstance(exc, openai.NotFoundError):
            return PrepbotError(f"{where}: {server} does not know model {self.backend.model!r}")
        if isinstance(exc, openai.LengthFinishReasonError):
            return InvalidOutput(f"{where}: the reply was cut off at max_tokens={self.max_tokens}")
        if isinstance(exc, openai.APIStatusError):
            if "context" in str(exc).lower() and "length" in str(exc).lower():
                return PrepbotError(f"{where}: the prompt exceeds the model's context; lower n_ctx to match it")
            return PrepbotError(f"{where}: HTTP {exc.status_code}: {_one_line(exc)}")
        if isinstance(exc, ValueError) and "exceed context window" in str(exc):
            return PrepbotError(f"{where}: the prompt exceeds the model's context ({_one_line(exc)})")
        return PrepbotError(f"{where} failed: {type(exc).__name__}: {_one_line(exc)}")


def _token_logprob(entry: dict[str, Any]) -> TokenLogprob:
    """A logprobs entry as the chat completions API streams it."""
    top: dict[str, float] = {}
    for alternative in entry.get("top_logprobs") or []:
        top[alternative["token"]] = max(alternative["logprob"], top.get(alternative["token"], -1e9))
    return TokenLogprob(token=entry.get("token", ""), logprob=entry.get("logprob"), top=top)


def _to_langchain(message: ChatMessage) -> BaseMessage:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return kinds[message.role](content=message.content)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:3])
    return " ".join(str(exc).split())[:300]
