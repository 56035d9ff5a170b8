"""The bare engine every benchmark compares prepbot with: llama-cpp-python on the same model file, threads,
n_ctx and n_batch as prepbot's local backend (prompts split into other batches round differently, and greedy
decoding can then take another path, which would compare unlike work)."""

from __future__ import annotations

from typing import Any


def bare_llama(model: str, settings: Any, threads: int) -> Any:
    """A ``llama_cpp.Llama`` configured as prepbot's local backend would be for ``model``."""
    from llama_cpp import Llama

    from prepbot.llm import LOCAL_N_BATCH
    from prepbot.llm.backends.local.models import resolve_model

    return Llama(
        model_path=str(resolve_model(model, settings)),
        n_ctx=settings.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=LOCAL_N_BATCH,
        verbose=False,
    )
