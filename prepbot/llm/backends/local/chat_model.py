"""llama-cpp-python's ``Llama`` as a langchain chat model, with exact token counts and prompt prefixes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from prepbot.llm.backends.local.prewarm import Prewarm
from prepbot.prompts import ChatMessage

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}  # langchain message type -> chat role


class LlamaChatModel(BaseChatModel):
    """llama-cpp-python's ``Llama`` as a langchain chat model, streaming tokens as they are sampled.

    The prompt is formatted with the chat template stored in the GGUF file, by a formatter we keep so that
    token counts (for the context budget and the log) are exact, not estimates.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llama: Any
    formatter: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
    lock: Any = Field(default_factory=threading.Lock)  # a Llama is not thread-safe
    prefixes: Any = None  # a PrefixStore (prefixes.py): system-prompt states on disk, for a new process

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-python"

    def count_prompt_tokens(self, messages: list[ChatMessage]) -> int:
        formatted = self.formatter(messages=[m.model_dump() for m in messages])
        encoded = formatted.prompt.encode("utf-8")
        # The same tokenize call llama-cpp-python's chat handler makes, so the count matches what it evaluates.
        return len(self.llama.tokenize(encoded, add_bos=not formatted.added_special, special=True))

    def prewarm(self, messages: list[ChatMessage], mark: str) -> Prewarm | None:
        """Evaluate the formatted prompt up to ``mark`` in a background thread, so that the next call whose
        prompt starts the same way only evaluates the rest (llama.cpp keeps the longest common prefix)."""
        tokens = self._tokens_before(messages, mark)
        if not tokens:
            return None
        return Prewarm(self, tokens, self.fixed_prefix(messages))

    def _tokens_before(self, messages: list[ChatMessage], mark: str) -> list[int]:
        """The formatted prompt's tokens before ``mark`` ([] when it is not there), less the last one: it may
        merge with what follows the mark."""
        formatted = self.formatter(messages=[m.model_dump() for m in messages])
        cut = formatted.prompt.find(mark)
        if cut <= 0:
            return []
        tokens = self.llama.tokenize(
            formatted.prompt[:cut].encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        return list(tokens[:-1])

    def fixed_prefix(self, messages: list[ChatMessage]) -> list[int]:
        """The tokens of a conversation's system message with its chat-template framing: what every call of
        one prompt version starts with."""
        if len(messages) < 2 or messages[0].role != "system":
            return []
        mark = "\x00prepbot-prefix-end\x00"
        return self._tokens_before([messages[0], ChatMessage(role=messages[1].role, content=mark)], mark)

    def prime(self, fixed: list[int]) -> None:
        """Load the state after ``fixed`` from disk where a call in an earlier process saved it (or save it
        now); the caller holds the lock. Any failure leaves the model to read the prefix as usual."""
        if self.prefixes is None or not fixed:
            return
        try:
            self.prefixes.prime(self.llama, fixed)
        except Exception:  # an optimisation: the call itself evaluates whatever is missing
            self.llama.n_tokens = 0

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        chat = [ChatMessage.model_validate({"role": _ROLES[m.type], "content": m.text}) for m in messages]
        top_logprobs = kwargs.pop("top_logprobs", None)
        recorder = TopTokens(self.llama, top_logprobs) if top_logprobs else None
        if recorder:
            kwargs["logits_processor"] = [*(kwargs.get("logits_processor") or []), recorder]
        with self.lock:
            self.prime(self.fixed_prefix(chat))
            prompt_tokens = self.count_prompt_tokens(chat)
            completion_tokens, finish_reason = 0, None
            for chunk in self.llama.create_chat_completion(
                messages=[m.model_dump() for m in chat], stop=stop, stream=True, **kwargs
            ):
                choice = chunk["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = choice["delta"].get("content")
                if not text:
                    continue
                # In stream mode llama-cpp-python sends one chunk per sampled token.
                completion_tokens += 1
                info = {"logprobs": {"content": [recorder.entry(text)]}} if recorder else None
                generation = ChatGenerationChunk(message=AIMessageChunk(content=text), generation_info=info)
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=generation)
                yield generation
        total = prompt_tokens + completion_tokens
        usage = {"input_tokens": prompt_tokens, "output_tokens": completion_tokens, "total_tokens": total}
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=cast(UsageMetadata, usage)),
            generation_info={"finish_reason": finish_reason},
        )


class TopTokens:
    """A llama-cpp-python logits processor that notes the k likeliest tokens each time one is sampled (before
    the grammar masks any), for ``top_logprobs``; it leaves the logits as they are. ``entry(text)`` is the
    chat completions API's logprobs entry for the token just streamed."""

    def __init__(self, llama: Any, k: int):
        self.llama, self.k = llama, k
        self.latest: list[tuple[int, float]] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np

        logits = np.asarray(scores, dtype=np.float64)
        peak = logits.max()
        log_total = peak + np.log(np.exp(logits - peak).sum())
        top = np.argpartition(logits, -self.k)[-self.k :]
        self.latest = sorted(((int(i), float(logits[i] - log_total)) for i in top), key=lambda t: -t[1])
        return scores

    def entry(self, text: str) -> dict[str, Any]:
        top = [
            {"token": self.llama.detokenize([i]).decode("utf-8", errors="replace"), "logprob": lp}
            for i, lp in self.latest
        ]
        return {
            "token": text,
            "logprob": next((t["logprob"] for t in top if t["token"] == text), None),
            "top_logprobs": top,
        }
