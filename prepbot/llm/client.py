"""The front every caller uses: ``get_llm(settings).generate("question", variables)``.

``LLM`` does the same for every backend: prompt files, the context budget, the cache key, then one ``Call``
(call.py) for the attempts, log rows, validation and errors.
"""

from __future__ import annotations

import threading
from typing import Any

from prepbot.config import Settings, get_settings
from prepbot.llm import log as logs
from prepbot.llm.backend import Backend, Capabilities, PrewarmHandle
from prepbot.llm.call import Call
from prepbot.llm.generation import Generation, TokenCallback
from prepbot.llm.registry import backend_class, make_backend
from prepbot.llm.tokens import fit_prompt
from prepbot.prompts import ChatMessage, load_prompt

DEFAULT_MAX_TOKENS = 512


class LLM:
    def __init__(self, settings: Settings, backend: Backend):
        self.settings, self.backend = settings, backend

    @property
    def capabilities(self) -> Capabilities:
        return self.backend.capabilities

    def prewarm(self, prompt_ref: str, variables: dict[str, Any], mark: str) -> PrewarmHandle | None:
        """Start evaluating the prompt up to the text ``mark`` (a placeholder in ``variables``) while the rest
        is not known yet, e.g. the grade prompt while the candidate types the answer. None where the backend
        cannot (``capabilities.prewarm``)."""
        if not self.capabilities.prewarm:
            return None
        return self.backend.prewarm(load_prompt(prompt_ref, self.settings).render(variables), mark)

    def generate(
        self,
        prompt_ref: str,
        variables: dict[str, Any],
        *,
        stream: TokenCallback | None = None,
        no_cache: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
        after: Generation | None = None,
        seed: int | None = None,
        top_logprobs: int | None = None,
    ) -> Generation:
        """Run a prompt file on the backend and return its validated output.

        ``after`` continues an earlier generation's conversation: its messages and its reply come first, then
        this prompt's messages (such a prompt has no system part). The local model has that whole prefix in
        its cache already, so only the new message is evaluated.

        ``top_logprobs`` asks for the k likeliest tokens at each generated place (``Generation.logprobs``;
        None where a backend does not report them).

        ``stream`` receives text as it is generated (raw JSON for structured prompts; a repair attempt streams
        again from its start; a cache hit arrives as one piece). Temperature-0 calls, and sampled calls with a
        ``seed`` (the same seed samples the same reply), are served from the log unless ``no_cache``. Every
        failure is a PrepbotError with a one-line message, except Ctrl-C, which stops generation and
        propagates as KeyboardInterrupt; both are logged.
        """
        prompt = load_prompt(prompt_ref, self.settings)
        max_tokens = max_tokens or prompt.spec.max_tokens or DEFAULT_MAX_TOKENS
        temperature = prompt.spec.temperature if temperature is None else temperature
        prefix = [*after.messages, ChatMessage(role="assistant", content=after.text)] if after else []
        used = self.backend.count_messages(prefix) if prefix else 0
        fitted = fit_prompt(
            prompt, variables, n_ctx=self.backend.n_ctx - used, max_tokens=max_tokens, count=self.backend.count_messages
        )
        messages = prefix + fitted.messages
        prompt_tokens = self.backend.count_messages(messages) if prefix else fitted.prompt_tokens
        key = {
            "backend": self.backend.name,
            "endpoint": self.backend.endpoint,
            "model": self.backend.model,
            "prompt": prompt.ref,
            "messages": [m.model_dump() for m in messages],
            "schema": prompt.output_schema(),
            "max_tokens": max_tokens,
            "temperature": temperature,
            **({"seed": seed} if seed is not None else {}),
            **({"top_logprobs": top_logprobs} if top_logprobs else {}),
        }
        call = Call(
            self.settings,
            self.backend,
            prompt,
            stream,
            max_tokens,
            temperature,
            inputs_hash=logs.digest(variables),
            cache_key=logs.digest(key),
            seed=seed,
            top_logprobs=top_logprobs,
        )
        generation = None
        if (temperature == 0 or seed is not None) and self.settings.cache and not no_cache:
            generation = call.from_cache()
        generation = generation or call.run(messages, prompt_tokens)
        generation.messages = messages
        return generation


def get_llm(settings: Settings | None = None) -> LLM:
    """The LLM for these settings; the local model is loaded on first use and then shared by the process."""
    settings = settings or get_settings()
    return LLM(settings, make_backend(settings))


def load_in_background(settings: Settings) -> threading.Thread | None:
    """Start loading the backend's model in a thread while the caller does other work; the caller's own
    ``get_llm`` then waits for it and reports any error itself. None when there is nothing to load. Join the
    thread on every other way out: a process must not exit while llama.cpp is inside its loader."""
    return backend_class(settings.backend).preload(settings)
