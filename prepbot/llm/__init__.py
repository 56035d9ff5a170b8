"""One way to call every language model: ``get_llm(settings).generate("question", variables)``.

Backends are langchain chat models: ``ChatOpenAI`` for OpenAI and for any OpenAI-compatible server
(backends/openai.py), ``LlamaChatModel`` for llama-cpp-python in process (backends/local/), and a scripted
one for tests (backends/scripted.py). A ``Backend`` (backend.py) wraps one and says how to ask it for
structured output, how to read its streamed text, how to count its tokens and what it can do
(``Capabilities``); registry.py maps ``settings.backend`` to its class. ``LLM`` (client.py) does the rest the
same way for all of them: prompt files, context budget, cache, log (log.py), validation and one repair, and
errors (call.py).
"""

from prepbot.llm.backend import Backend, Capabilities, PrewarmHandle
from prepbot.llm.backends.local.backend import LOCAL_N_BATCH, LocalBackend, load_llama, local_backend
from prepbot.llm.backends.local.chat_model import LlamaChatModel
from prepbot.llm.backends.local.prewarm import Prewarm
from prepbot.llm.backends.local.threads import busy_cores, choose_threads
from prepbot.llm.backends.openai import CompatibleBackend, OpenAIBackend, strict_response_format
from prepbot.llm.client import DEFAULT_MAX_TOKENS, LLM, get_llm, load_in_background
from prepbot.llm.generation import Generation, TokenCallback, TokenLogprob
from prepbot.llm.registry import capabilities_for, make_backend, register_backend

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "LLM",
    "LOCAL_N_BATCH",
    "Backend",
    "Capabilities",
    "CompatibleBackend",
    "Generation",
    "LlamaChatModel",
    "LocalBackend",
    "OpenAIBackend",
    "Prewarm",
    "PrewarmHandle",
    "TokenCallback",
    "TokenLogprob",
    "busy_cores",
    "capabilities_for",
    "choose_threads",
    "get_llm",
    "load_in_background",
    "load_llama",
    "local_backend",
    "make_backend",
    "register_backend",
    "strict_response_format",
]
