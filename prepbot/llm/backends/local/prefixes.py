"""The local model's state after a prompt's fixed prefix, kept on disk so a new process need not read it again.

Every call of one prompt version starts with the same system message (300-400 tokens). Within a process
llama.cpp keeps the longest common prefix of consecutive prompts, so only the first call pays for it; but
each `prepbot questions`, `prepbot grade` or chat is a new process, and on a small machine reading such a
prefix takes seconds. Its state (the KV cache of those tokens) is saved after the first time and loaded in a
small fraction of that afterwards.

A state belongs to one model file, context size and llama.cpp build: all of them are in its key, with the
tokens. A state that fails to load is deleted and the prefix is read as usual; this is an optimisation only.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from pathlib import Path
from typing import Any

PREFIX_MIN_TOKENS = 64  # shorter prefixes are read faster than a state file is written
KEEP_STATES = 24  # the newest files kept (a few per prompt version and model); older ones are deleted


class PrefixStore:
    """States of one loaded model, in ``folder``, keyed by the prefix tokens and what the model is."""

    def __init__(self, folder: Path, model_path: Path, n_ctx: int):
        import llama_cpp

        self.folder = folder
        stat = model_path.stat()
        self.identity = f"{model_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{n_ctx}|{llama_cpp.__version__}"

    def path(self, tokens: list[int]) -> Path:
        digest = hashlib.sha256(self.identity.encode())
        digest.update(b"|" + b",".join(str(t).encode() for t in tokens))
        return self.folder / f"{digest.hexdigest()[:32]}.state"

    def prime(self, llama: Any, tokens: list[int]) -> str:
        """Bring ``llama`` to the state after ``tokens``: already there, loaded from disk, or evaluated now and
        saved. Returns which ("kept", "loaded", "saved", "short"); the caller then evaluates the rest."""
        if len(tokens) < PREFIX_MIN_TOKENS:
            return "short"
        common = common_prefix([int(t) for t in llama._input_ids], tokens)
        if common >= len(tokens):
            return "kept"
        path = self.path(tokens)
        if path.exists() and self._load(llama, path, tokens):
            return "loaded"
        llama.n_tokens = common
        llama.eval(tokens[common:])
        self._save(llama, path)
        return "saved"

    def _load(self, llama: Any, path: Path, tokens: list[int]) -> bool:
        import llama_cpp

        try:
            data = path.read_bytes()
            buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            if llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, len(data)) != len(data):
                raise ValueError("size mismatch")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            llama.n_tokens = 0
            llama._ctx.kv_cache_clear()
            return False
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        os.utime(path)  # the newest are kept
        return True

    def _save(self, llama: Any, path: Path) -> None:
        import llama_cpp

        try:
            size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
            buffer = (ctypes.c_uint8 * size)()
            written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buffer, size)
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(bytes(buffer[:written]))
            partial.replace(path)
            states = sorted(self.folder.glob("*.state"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in states[KEEP_STATES:]:
                old.unlink(missing_ok=True)
        except OSError:
            return  # a read-only or full disk: the next process reads the prefix again


def common_prefix(have: list[int], want: list[int]) -> int:
    """How many tokens two sequences share from their start."""
    common = 0
    for a, b in zip(have, want):
        if a != b:
            break
        common += 1
    return common
