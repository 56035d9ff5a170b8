"""Evaluating a prompt's known beginning in the background, while the rest is not known yet (e.g. the grade
prompt while the candidate types the answer): llama.cpp keeps the longest common prefix of what it evaluated,
so the call that follows only evaluates what differs."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from prepbot.llm.backends.local.prefixes import common_prefix

PREWARM_CHUNK = 64  # tokens per llama_decode call while prewarming: cancel() waits for at most one
PREWARM_JOIN_S = 30.0  # a chunk takes about a second on 2 cores; this bounds a wedged thread


class PrimedModel(Protocol):
    """What a prewarm needs of the chat model (``LlamaChatModel``)."""

    llama: Any
    lock: Any

    def prime(self, fixed: list[int]) -> None: ...


class Prewarm:
    """A prompt prefix being evaluated in the background; ``cancel()`` stops it after the current chunk."""

    def __init__(self, model: PrimedModel, tokens: list[int], fixed: list[int] | None = None):
        self.model, self.tokens, self.fixed = model, tokens, fixed or []
        self.cancelled = threading.Event()
        self.evaluated = 0  # tokens evaluated by this prewarm (the rest was already cached)
        self.thread = threading.Thread(target=self._run, name="prepbot-prewarm", daemon=True)
        self.thread.start()

    def cancel(self, wait: bool = False) -> None:
        """Stop after the current chunk; ``wait``: until then (before the process exits, since freeing the
        model while the thread is inside llama.cpp crashes the interpreter at shutdown)."""
        self.cancelled.set()
        if wait:
            self.thread.join(timeout=PREWARM_JOIN_S)

    def _run(self) -> None:
        try:
            with self.model.lock:
                self.model.prime(self.fixed)
                llama = self.model.llama
                common = common_prefix([int(t) for t in llama._input_ids], self.tokens)
                llama.n_tokens = common
                position = common
                while position < len(self.tokens) and not self.cancelled.is_set():
                    chunk = self.tokens[position : position + PREWARM_CHUNK]
                    llama.eval(chunk)
                    position += len(chunk)
                    self.evaluated += len(chunk)
        except Exception:  # an optimisation: the call itself evaluates whatever is missing
            return
