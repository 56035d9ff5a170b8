"""Opening the vector store: chroma embedded in this process, or a chroma server (``PREPBOT_CHROMA_URL``)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.files import private_home

LOCK_WAIT_S = 10.0  # how long opening an embedded store waits for another process's lock on it


def connect(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or 8000,
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
            return client
        private_home(settings.home)
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        _check_not_locked(settings.chroma_dir)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except PrepbotError:
        raise
    except Exception as exc:
        where = settings.chroma_url or settings.chroma_dir
        raise PrepbotError(f"vector store {where} cannot be opened: {reason(exc)}") from None


def items_schema(function: Any, info_key: str) -> Any:
    """The items collection: cosine vectors, no full-text index on documents (BM25 is the sparse index's),
    no index on the JSON value of an item's other fields."""
    from chromadb import FtsIndexConfig, Schema, StringInvertedIndexConfig, VectorIndexConfig

    schema = Schema()
    schema.delete_index(config=FtsIndexConfig(), key="#document")
    schema.delete_index(config=StringInvertedIndexConfig(), key=info_key)
    schema.create_index(config=VectorIndexConfig(space="cosine", embedding_function=function))
    return schema


_checked_stores: set[Path] = set()
_checked_lock = threading.Lock()


def _check_not_locked(chroma_dir: Path) -> None:
    """Fail fast when another process holds the embedded store's sqlite database: chroma opens it with a
    write lock and, when another process has one, waits for it without a time limit (a store held by an
    open `sqlite3` shell or another program hung every command for minutes). The same lock is tried here
    first, for at most LOCK_WAIT_S, and released at once. Once per store per process: a second sqlite
    library closing its handle while chroma's holds a lock on the same file would release chroma's lock."""
    database = chroma_dir / "chroma.sqlite3"
    with _checked_lock:
        if chroma_dir in _checked_stores or not database.exists():
            return
        try:
            connection = sqlite3.connect(database, timeout=LOCK_WAIT_S, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
            finally:
                connection.close()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise PrepbotError(
                    f"vector store {chroma_dir} is locked by another process (sqlite: {exc} after "
                    f"{LOCK_WAIT_S:g} s); close the program using it or let it finish, then retry"
                ) from None
            raise PrepbotError(f"vector store {chroma_dir} cannot be opened: {reason(exc)}") from None
        except sqlite3.Error as exc:
            raise PrepbotError(f"vector store {chroma_dir} cannot be opened: {reason(exc)}") from None
        _checked_stores.add(chroma_dir)


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


PAGE = 5000  # records read from the store at a time: chroma fails a read of ~60k records at once


def pages(collection: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """``collection.get(**query)`` PAGE records at a time (one read of a whole large collection fails in
    chroma: "too many SQL variables")."""
    offset = 0
    while True:
        got = collection.get(**query, limit=PAGE, offset=offset)
        yield got
        if len(got["ids"]) < PAGE:
            return
        offset += PAGE


def get_all(collection: Any, **query: Any) -> dict[str, list]:
    """``collection.get(**query)``, read page by page."""
    found: dict[str, list] = {"ids": [], "metadatas": [], "documents": []}
    for got in pages(collection, **query):
        for key in found:
            found[key].extend(got.get(key) or [])
    return found
