"""One way to call every language model: ``get_llm(settings).generate("question", variables)``.

Backends are langchain chat models: ``ChatOpenAI`` for OpenAI and for any OpenAI-compatible server, and
``LlamaChatModel`` (below) for llama-cpp-python in process. A ``Backend`` wraps one and says how to ask it
for structured output, how to read its streamed text and how to count its tokens; ``LLM`` does the rest
the same way for all of them: prompt files, context budget, cache, log, validation and one repair, errors.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from contextlib import closing
from typing import Any, Callable, Iterator, NamedTuple

# llama.cpp's OpenMP workers spin while waiting by default, stealing the cores another busy process needs
# (STACK.md: 2 threads collapsed from 24.5 to 1.3 tok/s). Read when the library loads, so set it first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_function
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError

from prepbot.llm import log as logs
from prepbot.config import Settings, get_settings
from prepbot.errors import InvalidOutput, PrepbotError
from prepbot.llm.backends.local.models import resolve_model
from prepbot.llm.backends.local.prefixes import PrefixStore, common_prefix
from prepbot.prompts import ChatMessage, Prompt, load_prompt
from prepbot.llm.tokens import count_message_tokens, fit_prompt

DEFAULT_MAX_TOKENS = 512
# Prompt tokens evaluated per llama_decode call. Ctrl-C is only seen between calls, so a smaller batch
# answers it sooner: 128 tokens are 2-4 s of prompt on the 1.5B model here at worst (SIGINT mid-prompt was
# answered in 0.8 s), where 512 would be 7-15 s; prompt speed measured the same with 128 as with 512.
LOCAL_N_BATCH = 128

TokenCallback = Callable[[str], None]


class TokenLogprob(BaseModel):
    """One generated token and the likeliest tokens at its place, with natural-log probabilities (OpenAI's
    ``logprobs.content`` entries). The local model reports its own distribution before the output schema's
    grammar masks any token, so ``top`` may hold tokens the schema would not have allowed there."""

    token: str
    logprob: float | None = None  # the generated token's, when it is among ``top``
    top: dict[str, float] = Field(default_factory=dict)


class Generation(BaseModel):
    output: SerializeAsAny[BaseModel] | str  # the prompt's output model, or the text for "text" prompts
    text: str
    prompt: str  # name@version
    backend: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    cost_usd: float | None
    cached: bool
    logprobs: list[TokenLogprob] | None = None  # when the call asked for them (``top_logprobs``)
    messages: list[ChatMessage] = Field(default_factory=list, exclude=True, repr=False)  # what was sent


# --- backends ---------------------------------------------------------------------------------------------


class Backend:
    """A chat model plus what differs between endpoints.

    This base is OpenAI's: JSON comes from structured output (a strict json_schema ``response_format``) in the
    streamed message content. The fake chat model in the tests uses it as is.
    """

    def __init__(self, name: str, model: str, chat_model: BaseChatModel, n_ctx: int, endpoint: str | None = None):
        self.name, self.model, self.chat_model, self.n_ctx = name, model, chat_model, n_ctx
        self.endpoint = endpoint  # the server's base_url: two servers may serve different models under one name

    def bind(self, output_model: type[BaseModel] | None, *, max_tokens: int, temperature: float,
             top_logprobs: int | None = None) -> Runnable:  # fmt: skip
        structured = {"response_format": strict_response_format(output_model)} if output_model else {}
        return self.chat_model.bind(max_tokens=max_tokens, temperature=temperature, **structured,
                                    **_logprobs_options(top_logprobs))  # fmt: skip

    def text_of(self, chunk: AIMessageChunk) -> str:
        return chunk.text

    def count_messages(self, messages: list[ChatMessage]) -> int:
        return count_message_tokens(messages)

    def cost_usd(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        return logs.cost_usd(self.model, prompt_tokens, completion_tokens)

    def prewarm(self, messages: list[ChatMessage], mark: str) -> Prewarm | None:
        """Start evaluating ``messages`` up to ``mark`` ahead of a call; only an in-process model can."""
        return None


def strict_response_format(output_model: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's strict json_schema response format. Strict mode refuses string length bounds, so they are left
    out of what is sent; validating the reply still enforces them (with a repair)."""
    function = convert_to_openai_function(output_model, strict=True)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": function["name"],
            "description": function.get("description", ""),
            "schema": _without_keys(function["parameters"], {"minLength", "maxLength"}),
            "strict": True,
        },
    }


def _logprobs_options(top_logprobs: int | None) -> dict[str, Any]:
    """The chat completions API's request for the likeliest tokens at each generated place."""
    return {"logprobs": True, "top_logprobs": top_logprobs} if top_logprobs else {}


def _without_keys(schema: Any, keys: set[str]) -> Any:
    if isinstance(schema, dict):
        return {k: _without_keys(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [_without_keys(v, keys) for v in schema]
    return schema


class CompatibleBackend(Backend):
    """Any OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp's server).

    Structured output goes through a forced function call: it is the most widely implemented way, and
    llama.cpp's server constrains the arguments to the schema (its json_schema response_format answers
    HTTP 500). ``max_tokens`` travels in the body because such servers ignore ``max_completion_tokens``.
    """

    def bind(self, output_model: type[BaseModel] | None, *, max_tokens: int, temperature: float,
             top_logprobs: int | None = None) -> Runnable:  # fmt: skip
        limits = {"temperature": temperature, "extra_body": {"max_tokens": max_tokens},
                  **_logprobs_options(top_logprobs)}  # fmt: skip
        if output_model is None:
            return self.chat_model.bind(**limits)
        return self.chat_model.bind_tools([output_model], tool_choice=output_model.__name__, **limits)

    def text_of(self, chunk: AIMessageChunk) -> str:
        return chunk.text + "".join(call.get("args") or "" for call in chunk.tool_call_chunks)

    def cost_usd(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        return None  # a self-hosted model has no list price


class LocalBackend(Backend):
    """llama-cpp-python in process; JSON output is constrained by the schema's grammar while it is sampled."""

    chat_model: LlamaChatModel

    def bind(self, output_model: type[BaseModel] | None, *, max_tokens: int, temperature: float,
             top_logprobs: int | None = None) -> Runnable:  # fmt: skip
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


class LlamaChatModel(BaseChatModel):
    """llama-cpp-python's ``Llama`` as a langchain chat model, streaming tokens as they are sampled.

    The prompt is formatted with the chat template stored in the GGUF file, by a formatter we keep so that
    token counts (for the context budget and the log) are exact, not estimates.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llama: Any
    formatter: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
    lock: Any = Field(default_factory=threading.Lock)  # a Llama is not thread-safe
    prefixes: Any = None  # prepbot.llm.backends.local.prefixes.PrefixStore: system-prompt states on disk, for a new process

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
        tokens = self.llama.tokenize(formatted.prompt[:cut].encode("utf-8"), add_bos=not formatted.added_special,
                                     special=True)  # fmt: skip
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
        except Exception:  # noqa: BLE001  (an optimisation: the call itself evaluates whatever is missing)
            self.llama.n_tokens = 0

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        chat = [ChatMessage(role=_ROLES[m.type], content=m.text) for m in messages]
        top_logprobs = kwargs.pop("top_logprobs", None)
        recorder = _TopTokens(self.llama, top_logprobs) if top_logprobs else None
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
        usage = {"input_tokens": prompt_tokens, "output_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage),
                                  generation_info={"finish_reason": finish_reason})


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class _TopTokens:
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
        top = [{"token": self.llama.detokenize([i]).decode("utf-8", errors="replace"), "logprob": lp}
               for i, lp in self.latest]  # fmt: skip
        return {"token": text, "logprob": next((t["logprob"] for t in top if t["token"] == text), None),
                "top_logprobs": top}  # fmt: skip


PREWARM_CHUNK = 64  # tokens per llama_decode call while prewarming: cancel() waits for at most one


PREWARM_JOIN_S = 30.0  # a chunk takes about a second on 2 cores; this bounds a wedged thread


class Prewarm:
    """A prompt prefix being evaluated in the background; ``cancel()`` stops it after the current chunk."""

    def __init__(self, model: LlamaChatModel, tokens: list[int], fixed: list[int] | None = None):
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
        except Exception:  # noqa: BLE001  (an optimisation: the call itself evaluates whatever is missing)
            return


# One Llama per process: a second copy would double the memory and halve the speed of both.
_local_lock = threading.Lock()
_local: tuple[tuple[Any, ...], LocalBackend] | None = None


def choose_threads(settings: Settings) -> int:
    """``settings.threads``, or the cores nobody else is using: on 2 cores, 2 threads next to one busy
    process run 20 times slower than 1 (STACK.md), so a busy machine gets fewer threads. Busy is measured
    from /proc/stat over a short window: the load average of an idle VM often reads 1.0 (threads waiting
    on I/O count), which would halve an idle 2-core machine."""
    if settings.threads:
        return settings.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = busy_cores(cores)
    return max(1, min(cores, round(cores - busy)))


def busy_cores(cores: int, window_s: float = 0.25) -> float:
    """How many cores other processes keep busy: /proc/stat sampled over ``window_s``, else the load average."""

    def sample() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(value) for value in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    first = sample()
    if first is not None:
        time.sleep(window_s)
        second = sample()
        if second is not None and second[0] > first[0]:
            total, idle = second[0] - first[0], second[1] - first[1]
            return cores * (1 - idle / total)
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


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
        backend = LocalBackend("local", settings.model, LlamaChatModel(llama=llama, formatter=formatter,
                                                                        prefixes=prefixes), settings.n_ctx)  # fmt: skip
        _local = (key, backend)
        return backend


def load_llama(path: Any, *, n_ctx: int, threads: int) -> tuple[Any, Any]:
    """A Llama for ``path`` and the formatter for the chat template in its metadata."""
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from prepbot.llm.backends.local.grammar import GrammarLlama
    except ImportError as exc:
        raise PrepbotError("the local backend needs llama-cpp-python: pip install 'prepbot[local]'") from exc
    try:
        llama = GrammarLlama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                      n_batch=LOCAL_N_BATCH, verbose=False)
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


def openai_backend(settings: Settings) -> Backend:
    from langchain_openai import ChatOpenAI

    compatible = settings.backend == "openai-compatible"
    key = settings.resolved_api_key()
    if compatible and not settings.base_url:
        raise PrepbotError("the openai-compatible backend needs base_url (PREPBOT_BASE_URL or config.toml)")
    if not compatible and not key:
        raise PrepbotError("the openai backend needs an API key: set OPENAI_API_KEY or api_key in config.toml")
    chat_model = ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=key or "unused",  # the client insists on one; local servers ignore it
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,  # the client backs off exponentially, honouring Retry-After
        stream_usage=True,
        tiktoken_model_name="gpt-3.5-turbo" if compatible else None,  # cl100k, the encoding we have offline
    )
    backend_class = CompatibleBackend if compatible else Backend
    return backend_class(settings.backend, settings.model, chat_model, settings.n_ctx, endpoint=settings.base_url)


def make_backend(settings: Settings, threads: int | None = None) -> Backend:
    if settings.backend == "local":
        return local_backend(settings, threads)
    return openai_backend(settings)


# --- the front ----------------------------------------------------------------------------------------------


class LLM:
    def __init__(self, settings: Settings, backend: Backend):
        self.settings, self.backend = settings, backend

    def prewarm(self, prompt_ref: str, variables: dict[str, Any], mark: str) -> Prewarm | None:
        """Start evaluating the prompt up to the text ``mark`` (a placeholder in ``variables``) while the rest
        is not known yet, e.g. the grade prompt while the candidate types the answer. Local backend only."""
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
        ``seed`` (the same seed samples the same reply), are served from the log unless ``no_cache``. Every failure is a PrepbotError with a one-line message, except Ctrl-C, which
        stops generation and propagates as KeyboardInterrupt; both are logged.
        """
        prompt = load_prompt(prompt_ref, self.settings)
        max_tokens = max_tokens or prompt.spec.max_tokens or DEFAULT_MAX_TOKENS
        temperature = prompt.spec.temperature if temperature is None else temperature
        prefix = [*after.messages, ChatMessage(role="assistant", content=after.text)] if after else []
        used = self.backend.count_messages(prefix) if prefix else 0
        fitted = fit_prompt(prompt, variables, n_ctx=self.backend.n_ctx - used, max_tokens=max_tokens,
                            count=self.backend.count_messages)
        messages = prefix + fitted.messages
        prompt_tokens = self.backend.count_messages(messages) if prefix else fitted.prompt_tokens
        call = _Call(
            self, prompt, stream, max_tokens, temperature,
            inputs_hash=logs.digest(variables),
            cache_key=logs.digest({
                "backend": self.backend.name, "endpoint": self.backend.endpoint, "model": self.backend.model,
                "prompt": prompt.ref,
                "messages": [m.model_dump() for m in messages], "schema": prompt.output_schema(),
                "max_tokens": max_tokens, "temperature": temperature, **({"seed": seed} if seed is not None else {}),
                **({"top_logprobs": top_logprobs} if top_logprobs else {}),
            }),
            seed=seed, top_logprobs=top_logprobs,
        )
        generation = None
        if (temperature == 0 or seed is not None) and self.settings.cache and not no_cache:
            generation = call.from_cache()
        generation = generation or call.run(messages, prompt_tokens)
        generation.messages = messages
        return generation


class _Reply(NamedTuple):
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    truncated: bool = False  # stopped by max_tokens
    logprobs: list[TokenLogprob] | None = None


class _Call:
    """One generate() call: its attempts, their log rows and the translation of failures."""

    def __init__(self, llm: LLM, prompt: Prompt, stream: TokenCallback | None, max_tokens: int,
                 temperature: float, *, inputs_hash: str, cache_key: str, seed: int | None = None,
                 top_logprobs: int | None = None):  # fmt: skip
        self.settings, self.backend, self.prompt, self.seed = llm.settings, llm.backend, prompt, seed
        self.top_logprobs = top_logprobs
        self.stream, self.max_tokens, self.temperature = stream, max_tokens, temperature
        self.inputs_hash, self.cache_key = inputs_hash, cache_key

    def from_cache(self) -> Generation | None:
        started = time.monotonic()
        record = logs.cached_call(self.cache_key, self.settings)
        if record is None or record.output is None:
            return None
        try:
            output = self.parse(record.output)
        except ValueError:
            return None  # the output model changed shape since: generate afresh
        if self.stream:
            self.stream(record.output)
        logprobs = None
        if record.logprobs:
            logprobs = [TokenLogprob.model_validate(entry) for entry in json.loads(record.logprobs)]
        reply = _Reply(record.output, record.prompt_tokens, record.completion_tokens, time.monotonic() - started,
                       logprobs=logprobs)  # fmt: skip
        return self.finish(reply, output, cached=True)

    def run(self, messages: list[ChatMessage], prompt_tokens: int) -> Generation:
        conversation: list[BaseMessage] = [_to_langchain(m) for m in messages]
        reply = self.attempt(conversation, prompt_tokens)
        try:
            return self.finish(reply, self.parse(reply.text))
        except ValueError as invalid:
            if reply.truncated:
                raise self.rejection(reply, invalid) from None
            problem = _one_line(invalid)
            self.log(reply, error=f"invalid output, repairing: {problem}")
        repair = load_prompt("repair", self.settings).render({"error": problem})
        conversation += [AIMessage(content=reply.text), *(_to_langchain(m) for m in repair)]
        repair_tokens = self.backend.count_messages(
            [*messages, ChatMessage(role="assistant", content=reply.text), *repair]
        )
        if repair_tokens + self.max_tokens > self.backend.n_ctx:
            raise InvalidOutput(f"{self.prompt.ref}: invalid output ({problem}), and no room left to repair it")
        reply = self.attempt(conversation, repair_tokens)
        try:
            return self.finish(reply, self.parse(reply.text))
        except ValueError as invalid:
            raise self.rejection(reply, invalid) from None

    def attempt(self, conversation: list[BaseMessage], prompt_tokens: int) -> _Reply:
        """Stream one reply, passing its text to the stream callback as it comes."""
        runnable = self.backend.bind(self.prompt.output_model, max_tokens=self.max_tokens,
                                     temperature=self.temperature, top_logprobs=self.top_logprobs)
        if self.seed is not None:
            runnable = runnable.bind(seed=self.seed)
        pieces: list[str] = []
        logprobs: list[TokenLogprob] = []
        usage: dict[str, Any] | None = None
        finish_reason = None
        started = time.monotonic()
        deadline = started + self.settings.timeout_s
        try:
            with closing(runnable.stream(conversation)) as chunks:
                for chunk in chunks:
                    piece = self.backend.text_of(chunk)
                    if piece:
                        pieces.append(piece)
                        if self.stream:
                            self.stream(piece)
                    for entry in (chunk.response_metadata.get("logprobs") or {}).get("content") or []:
                        logprobs.append(_token_logprob(entry))
                    usage = chunk.usage_metadata or usage
                    finish_reason = chunk.response_metadata.get("finish_reason") or finish_reason
                    if time.monotonic() > deadline:
                        raise PrepbotError(f"{self._where()} timed out after {self.settings.timeout_s:g} s")
        except KeyboardInterrupt:
            self.log(_Reply("".join(pieces), None, None, time.monotonic() - started), error="interrupted (Ctrl-C)")
            raise
        except Exception as exc:
            error = exc if isinstance(exc, PrepbotError) else self.translate(exc)
            self.log(_Reply("".join(pieces), None, None, time.monotonic() - started), error=str(error))
            raise error from exc
        if usage:
            tokens = (usage.get("input_tokens"), usage.get("output_tokens"))
        else:
            # Servers that report no usage (llama.cpp's, for function calls) stream one token per chunk.
            tokens = (prompt_tokens, len(pieces))
        # Function-call streams end with finish_reason "tool_calls" even when max_tokens cut them.
        truncated = finish_reason == "length" or (tokens[1] or 0) >= self.max_tokens
        return _Reply("".join(pieces), *tokens, time.monotonic() - started, truncated,
                      logprobs if self.top_logprobs and logprobs else None)  # fmt: skip

    def parse(self, text: str) -> BaseModel | str:
        """The output model validated from the reply; raises ValueError (pydantic's included) if it is not."""
        if self.prompt.output_model is None:
            return text
        # Servers without constrained decoding like to fence JSON in markdown.
        unfenced = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text)
        try:
            return self.prompt.output_model.model_validate_json(unfenced)
        except ValidationError as invalid:
            # Small models sometimes put a raw newline or tab inside a JSON string; that is still their answer.
            try:
                lenient = json.loads(unfenced, strict=False)
            except ValueError:
                raise invalid from None
            return self.prompt.output_model.model_validate(lenient)

    def rejection(self, reply: _Reply, invalid: ValueError) -> InvalidOutput:
        """Log a reply that is past repair; returns the error to raise."""
        if reply.truncated:
            error, hint = f"the reply was cut off at max_tokens={self.max_tokens}", "raise max_tokens or ask for less"
        else:
            error, hint = f"invalid output after one repair: {_one_line(invalid)}", "the raw reply is in `prepbot logs`"
        self.log(reply, error=error)
        return InvalidOutput(f"{self.prompt.ref}: {error} ({hint})")

    def finish(self, reply: _Reply, output: BaseModel | str, *, cached: bool = False) -> Generation:
        cost = 0.0 if cached else self.backend.cost_usd(reply.prompt_tokens, reply.completion_tokens)
        self.log(reply, cost=cost, cached=cached)
        return Generation(
            output=output, text=reply.text, prompt=self.prompt.ref, backend=self.backend.name,
            model=self.backend.model, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
            latency_s=reply.latency_s, cost_usd=cost, cached=cached, logprobs=reply.logprobs,
        )

    def log(self, reply: _Reply, *, error: str | None = None, cost: float | None = None, cached: bool = False) -> None:
        logs.log_call(
            logs.CallRecord(
                created_at=logs.now(), backend=self.backend.name, model=self.backend.model, prompt=self.prompt.ref,
                inputs_hash=self.inputs_hash, cache_key=self.cache_key, output=reply.text or None,
                prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                latency_s=reply.latency_s, cost_usd=cost, cached=cached, error=error,
                logprobs=json.dumps([t.model_dump() for t in reply.logprobs], ensure_ascii=False)
                if reply.logprobs else None,
            ),
            self.settings,
        )

    def _where(self) -> str:
        return f"{self.prompt.ref} on {self.backend.name} ({self.backend.model})"

    def translate(self, exc: Exception) -> PrepbotError:
        """A one-line, actionable message for what a backend raised."""
        where, server = self._where(), self.settings.base_url or "the OpenAI API"
        if isinstance(exc, openai.APITimeoutError):
            return PrepbotError(f"{where} timed out after {self.settings.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return PrepbotError(f"{where}: cannot reach {server} ({exc.__cause__ or exc})")
        if isinstance(exc, openai.RateLimitError):
            return PrepbotError(f"{where}: rate limited, still after {self.settings.max_retries} retries")
        if isinstance(exc, openai.AuthenticationError):
            return PrepbotError(f"{where}: the API key was refused (OPENAI_API_KEY or api_key)")
        if isinstance(exc, openai.NotFoundError):
            return PrepbotError(f"{where}: {server} does not know model {self.backend.model!r}")
        if isinstance(exc, openai.LengthFinishReasonError):
            return InvalidOutput(f"{where}: the reply was cut off at max_tokens={self.max_tokens}")
        if isinstance(exc, openai.APIStatusError):
            if "context" in str(exc).lower() and "length" in str(exc).lower():
                return PrepbotError(f"{where}: the prompt exceeds the model's context; lower n_ctx to match it")
            return PrepbotError(f"{where}: HTTP {exc.status_code}: {_one_line(exc)}")
        if isinstance(exc, ValueError) and "exceed context window" in str(exc):
            return PrepbotError(f"{where}: the prompt exceeds the model's context ({_one_line(exc)})")
        return PrepbotError(f"{where} failed: {type(exc).__name__}: {_one_line(exc)}")


def _token_logprob(entry: dict[str, Any]) -> TokenLogprob:
    """A logprobs entry as the chat completions API streams it."""
    top: dict[str, float] = {}
    for alternative in entry.get("top_logprobs") or []:
        top[alternative["token"]] = max(alternative["logprob"], top.get(alternative["token"], -1e9))
    return TokenLogprob(token=entry.get("token", ""), logprob=entry.get("logprob"), top=top)


def _to_langchain(message: ChatMessage) -> BaseMessage:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return kinds[message.role](content=message.content)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:3])
    return " ".join(str(exc).split())[:300]


def get_llm(settings: Settings | None = None) -> LLM:
    """The LLM for these settings; the local model is loaded on first use and then shared by the process."""
    settings = settings or get_settings()
    return LLM(settings, make_backend(settings))


def load_in_background(settings: Settings) -> threading.Thread | None:
    """Start loading the local model in a thread while the caller embeds and plans (3-4 s of a question set's
    start-up); the caller's own ``get_llm`` then waits for it, and reports any error itself. The threads are
    chosen first, while the cores are still idle: chosen during the embedding, they would be too few. Join the
    thread on every other way out: a process must not exit while llama.cpp is inside its loader."""
    if settings.backend != "local":
        return None
    threads = choose_threads(settings)

    def load() -> None:
        try:
            make_backend(settings, threads)
        except Exception:  # noqa: BLE001  (get_llm in the caller raises it again, as a one-line error)
            return

    thread = threading.Thread(target=load, name="prepbot-load-model", daemon=True)
    thread.start()
    return thread
