"""The local backend: a GGUF model run in process by llama-cpp-python, one per process.

JSON output is constrained by the schema's grammar while it is sampled (grammar.py); token counts come from
the model's own tokenizer; a prompt's known beginning can be evaluated ahead of the call (prewarm.py) and a
system prompt's state is kept on disk for the next process (prefixes.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.runnables import Runnable
from pydantic import BaseModel

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.llm.backend import Backend, Capabilities
from prepbot.llm.backends.local.chat_model import LlamaChatModel
from prepbot.llm.backends.local.models import resolve_model
from prepbot.llm.backends.local.prefixes import PrefixStore
from prepbot.llm.backends.local.prewarm import Prewarm
from prepbot.llm.backends.local.threads import choose_threads, use_passive_openmp
from prepbot.prompts import ChatMessage

# Prompt tokens evaluated per llama_decode call. Ctrl-C is only seen between calls, so a smaller batch
# answers it sooner; prompt evaluation is as fast with 128 as with 512.
LOCAL_N_BATCH = 128

# One Llama per process: a second copy would double the memory and halve the speed of both.
_local_lock = threading.Lock()
_local: tuple[tuple[Any, ...], LocalBackend] | None = None


class LocalBackend(Backend):
    """llama-cpp-python in process; JSON output is constrained by the schema's grammar while it is sampled."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        stream=True, structured_output="grammar", logprobs=True, prewarm=True, max_concurrency=1
    )
    chat_model: LlamaChatModel

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        return local_backend(settings)

    @classmethod
    def preload(cls, settings: Settings) -> threading.Thread:
        """Load the model in a thread while the caller does other work (embedding, planning); the caller's own
        ``get_llm`` then waits for it and reports any error itself. The threads are chosen first, while the
        cores are still idle: chosen during the caller's work, they would be too few. Join the thread on every
        other way out: a process must not exit while llama.cpp is inside its loader."""
        threads = choose_threads(settings)

        def load() -> None:
            try:
                local_backend(settings, threads)
            except Exception:  # get_llm in the caller raises it again, as a one-line error
                return

        thread = threading.Thread(target=load, name="prepbot-load-model", daemon=True)
        thread.start()
        return thread

    def bind(
        self,
        output_model: type[BaseModel] | None,
        *,
        max_tokens: int,
        temperature: float,
        top_logprobs: int | None = None,
    ) -> Runnable:
        structured = (
            {"response_format": {"type": "json_object", "schema": output_model.model_json_schema()}}
            if output_model
            else {}
        )
        recorded = {"top_logprobs": top_logprobs} if top_logprobs else {}  # read by LlamaChatModel._stream
        return self.chat_model.bind(max_tokens=max_tokens, temperature=temperature, **structured, **recorded)

    def count_messages(self, messages: list[ChatMessage]) -> int:
        return self.chat_model.count_prompt_tokens(messages)

    def cost_usd(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        return 0.0

    def prewarm(self, messages: list[ChatMessage], mark: str) -> Prewarm | None:
        return self.chat_model.prewarm(messages, mark)


def local_backend(settings: Settings, threads: int | None = None) -> LocalBackend:
    """The process's local model for these settings, loaded on first use with ``threads`` (default: chosen
    now from the idle cores)."""
    global _local
    path = resolve_model(settings.model, settings)
    key = (str(path), settings.n_ctx, settings.threads)
    with _local_lock:
        if _local is not None and _local[0] == key:
            return _local[1]
        _local = None  # drop the old model before loading another
        llama, formatter = load_llama(path, n_ctx=settings.n_ctx, threads=threads or choose_threads(settings))
        prefixes = PrefixStore(settings.home / "prefixes", path, settings.n_ctx) if settings.prefix_cache else None
        chat_model = LlamaChatModel(llama=llama, formatter=formatter, prefixes=prefixes)
        backend = LocalBackend(settings.backend, settings.model, chat_model, settings.n_ctx)
        _local = (key, backend)
        return backend


def load_llama(path: Path, *, n_ctx: int, threads: int) -> tuple[Any, Any]:
    """A Llama for ``path`` and the formatter for the chat template in its metadata."""
    use_passive_openmp()
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from prepbot.llm.backends.local.grammar import GrammarLlama
    except ImportError as exc:
        raise PrepbotError("the local backend needs llama-cpp-python: pip install 'prepbot[local]'") from exc
    try:
        llama = GrammarLlama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=LOCAL_N_BATCH,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise PrepbotError(f"cannot load model {path}: {exc} (a damaged or unsupported GGUF file?)") from exc
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise PrepbotError(f"model {path} has no chat template: prepbot needs an instruct (chat) model")
    eos, bos = llama.token_eos(), llama.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )
    # The handler built from our formatter, so what is counted is what is evaluated.
    llama.chat_handler = formatter.to_chat_handler()
    return llama, formatter
