"""``prepbot serve-model``: the embedded model as an OpenAI-compatible server, for other tools and processes.

It is llama-cpp-python's own server app run by uvicorn, loading the same assembled, verified GGUF file with
the same thread choice as the in-process backend. Clients point ``base_url`` at ``http://HOST:PORT/v1`` and
ask for the model by its prepbot name (``default``, ``fast``, or the file's stem for a path).
"""

from __future__ import annotations

import socket
from pathlib import Path

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.llm.backends.local.backend import LOCAL_N_BATCH
from prepbot.llm.backends.local.models import KNOWN_MODELS, resolve_model
from prepbot.llm.backends.local.threads import choose_threads, use_passive_openmp


def model_alias(model: str) -> str:
    return model if model in KNOWN_MODELS else Path(model).stem


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serve ``settings.model`` until interrupted."""
    use_passive_openmp()
    try:
        import uvicorn
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings
    except ImportError as exc:
        raise PrepbotError("serve-model needs llama-cpp-python[server]: pip install 'prepbot[local]'") from exc
    path = resolve_model(settings.model, settings)
    _check_port_free(host, port)
    threads = choose_threads(settings)
    app = create_app(
        # requests queue for the one model; the server's default ends a streamed reply early as soon as another
        # request waits, which cut off every user but the newest of a team sharing the server (bench/load.py)
        server_settings=ServerSettings(host=host, port=port, interrupt_requests=False),
        model_settings=[
            ModelSettings(
                model=str(path),
                model_alias=model_alias(settings.model),
                n_ctx=settings.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=LOCAL_N_BATCH,
                # llama-cpp-python answers logprobs (which the grader asks for) only with every token's logits
                # kept: ~2.4 GB at n_ctx 4096 for a 152k vocabulary, and the output layer run on the prompt too
                logits_all=True,
                verbose=False,
            )
        ],
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    """Uvicorn reports a busy port only after loading the model, as a log line; say it first, in one line."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PrepbotError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from exc
