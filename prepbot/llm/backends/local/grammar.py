"""Schema-constrained sampling on the local model, about 40% faster than llama-cpp-python's own.

llama-cpp-python puts llama.cpp's grammar sampler in its chain ahead of the token choice, so at every generated
token the grammar checks all of the vocabulary (152k tokens for Qwen2.5), a large share of the time of each
JSON token. ``GrammarLlama`` does what llama.cpp's own tools do instead: the grammar first checks only the
``CANDIDATES`` likeliest tokens, and the whole vocabulary only when none of them fits (about 1 token in 100).
The greedy choice is the same token either way (the likeliest token the grammar allows is among the likeliest
candidates whenever one of them is allowed), so temperature-0 output is unchanged; sampled output draws from
the allowed tokens among the likeliest, which top-k sampling (40) narrows to anyway.

Logits processors (``logits_processor=``) still see the model's own logits: they run before the grammar.
"""

from __future__ import annotations

import ctypes
from typing import Any, cast

import llama_cpp
import numpy as np
from llama_cpp import Llama
from llama_cpp._internals import LlamaSampler

CANDIDATES = 128  # tokens the grammar checks first


class CandidatesGrammar:
    """A llama.cpp sampler (for a sampler chain) that applies a grammar to the likeliest candidates first."""

    def __init__(self, vocab: Any, grammar: str, root: str):
        self.grammar = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self._buffer = (llama_cpp.llama_token_data * CANDIDATES)()
        self._candidates = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._buffer, llama_cpp.llama_token_data_p), size=CANDIDATES, selected=-1, sorted=False
        )
        self.steps = 0
        self.full_checks = 0  # steps where no candidate fitted and the whole vocabulary was checked

        def apply(_sampler: Any, cur_p: Any) -> None:
            self.apply(cur_p)

        def accept(_sampler: Any, token: int) -> None:
            llama_cpp.llama_sampler_accept(self.grammar, token)

        def reset(_sampler: Any) -> None:
            llama_cpp.llama_sampler_reset(self.grammar)

        iface = llama_cpp.llama_sampler_i()
        iface.apply = llama_cpp.llama_sampler_i_apply(apply)
        iface.accept = llama_cpp.llama_sampler_i_accept(accept)
        iface.reset = llama_cpp.llama_sampler_i_reset(reset)
        iface.name = llama_cpp.llama_sampler_i_name(0)
        iface.clone = llama_cpp.llama_sampler_i_clone(0)
        iface.free = llama_cpp.llama_sampler_i_free(0)  # the chain never frees it: see GrammarLlama
        self._callbacks = (apply, accept, reset, iface)  # ctypes callbacks must outlive the chain
        self.sampler = llama_cpp.llama_sampler()
        self.sampler.iface = ctypes.pointer(iface)
        self.sampler.ctx = None

    def apply(self, cur_p: Any) -> None:
        self.steps += 1
        tokens = np.ctypeslib.as_array(cur_p.contents.data, shape=(cur_p.contents.size,))
        logits = tokens["logit"]
        k = min(CANDIDATES, len(logits))
        likeliest = np.argpartition(logits, -k)[-k:]
        candidates = np.ctypeslib.as_array(self._buffer)
        candidates["id"][:k] = tokens["id"][likeliest]
        candidates["logit"][:k] = logits[likeliest]
        candidates["p"][:k] = 0.0
        self._candidates.size, self._candidates.selected, self._candidates.sorted = k, -1, False
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self._candidates))
        allowed = candidates["logit"][:k]
        if np.isfinite(allowed).any():
            logits[:] = -np.inf
            logits[likeliest] = allowed
        else:
            self.full_checks += 1
            llama_cpp.llama_sampler_apply(self.grammar, cur_p)

    def free(self) -> None:
        if self.grammar:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None


class GrammarLlama(Llama):
    """``Llama`` whose grammar-constrained sampling checks the likeliest candidates first (module docstring)."""

    last_grammar: CandidatesGrammar | None = None  # for tests and benchmarks: the latest call's sampler

    # llama-cpp-python passes every option by keyword, which is all this override takes.
    def _init_sampler(  # type: ignore[override]
        self, *, logits_processor: Any = None, grammar: Any = None, **options: Any
    ) -> LlamaSampler:
        if grammar is None:
            return super()._init_sampler(logits_processor=logits_processor, grammar=None, **options)
        chain = LlamaSampler()
        if logits_processor is not None:  # first, on the model's own logits, as llama-cpp-python orders it

            def process(cur_p: Any) -> None:
                logits = np.ctypeslib.as_array(cur_p.contents.data, shape=(cur_p.contents.size,))["logit"]
                for processor in logits_processor:
                    logits[:] = processor(self._input_ids, logits)

            chain.add_custom(process)
        constrained = CandidatesGrammar(self._model.vocab, grammar._grammar, grammar._root)
        rest = super()._init_sampler(logits_processor=None, grammar=None, **options)  # penalties, then the choice
        # Taken out of the chain before it is freed (LlamaSampler does that for custom samplers): each part is
        # freed by its own owner. The chain reads only the index; the second item keeps the owner alive.
        taken_out = cast("list[tuple[int, Any]]", chain.custom_samplers)
        for part, keep in ((ctypes.pointer(constrained.sampler), constrained), (rest.sampler, rest)):
            llama_cpp.llama_sampler_chain_add(chain.sampler, part)
            taken_out.append((llama_cpp.llama_sampler_chain_n(chain.sampler) - 1, keep))
        chain._exit_stack.callback(constrained.free)
        self.last_grammar = constrained
        return chain
