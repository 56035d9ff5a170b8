"""stores"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.evals import labels

if TYPE_CHECKING:
    from prepbot.llm import LLM
    from prepbot.retrieval.index import PostingSummary, RequirementIndex
from prepbot.evals.config import BackendSpec, JudgeConfig


class EvalStore:
    """The eval postings ingested into a throwaway home, once per run: what retrieval searches and what
    citations are checked against. Cases name postings by file (and ``title_contains``), items by
    ``(section, n)``; this turns those into the IDs of this run."""

    def __init__(self, settings: Settings, root: Path, paths: list[str]):
        from prepbot.ingest import ingest
        from prepbot.retrieval.index import RequirementIndex

        self.index: RequirementIndex = RequirementIndex(settings)
        report = ingest(posting_paths(root, paths), self.index)
        if report.errors:
            problem = report.errors[0]
            raise PrepbotError(f"eval postings: {problem.message}")
        self.root = root
        self._postings = self.index.list_postings()

    def posting(self, file: str, title_contains: str | None = None) -> PostingSummary:
        """The posting parsed from ``file`` (a dataset path), the one titled like ``title_contains`` if given."""
        from prepbot.retrieval.index import source_file

        path = str((self.root / file).resolve())
        candidates = [p for p in self._postings if source_file(p.source) == path]
        if title_contains is not None:
            candidates = [p for p in candidates if title_contains in p.title]
        if not candidates:
            which = f" titled like {title_contains!r}" if title_contains else ""
            raise PrepbotError(f"no posting{which} was parsed from {file} (is it in the config's `postings`?)")
        return candidates[0]

    @staticmethod
    def item_id(posting_id: str, section: str, n: int) -> str:
        return f"{posting_id}/{section}-{n}"


def posting_paths(root: Path, paths: list[str]) -> list[str]:
    """The config's ``postings`` on disk. A folder of hand labels (``labels-*.json`` beside the files, as
    ``../shared/postings``) gives the files its labels name, never the labels themselves: ingest reads JSON."""
    found: list[str] = []
    for path in paths:
        full = root / path
        if full.is_dir() and any(full.glob(labels.LABEL_FILES)):
            found.extend(str(file) for file in labels.labelled_files(full))
        else:
            found.append(str(full))
    return found


class FileRead(BaseModel):
    """What prepbot's ingest made of one posting file: its distinct postings in file order (as
    ``prepbot postings list`` and ``show`` give them after ``prepbot ingest FILE`` into an empty home), and the
    ingest's errors for it."""

    file: str
    postings: list[Any] = Field(default_factory=list)  # prepbot.postings.Posting, with its stored items
    errors: list[str] = Field(default_factory=list)

    def titles(self) -> list[str | None]:
        return [posting.title for posting in self.postings]

    def labelled(self, label: labels.LabelledPosting) -> Any:
        """The posting of this file that ``label`` describes (as check.py matches them), or None."""
        match = labels.match_posting(label, self.titles())
        return None if match is None else self.postings[match]


class LabelledStore:
    """Posting files of labels folders ingested by prepbot's own ingest into a throwaway home, each file on
    first use and on its own (check.py gives each file a fresh home, so a posting that repeats one of another
    file is still its own file's). A file that does not ingest yields no postings; its error is kept."""

    def __init__(self, settings: Settings):
        from prepbot.retrieval.index import RequirementIndex

        self.index: RequirementIndex = RequirementIndex(settings)
        self._read: dict[Path, FileRead] = {}
        self._lock = threading.Lock()

    def read(self, path: Path) -> FileRead:
        from prepbot.ingest import ingest

        path = Path(os.path.normpath(path))
        with self._lock:
            if path not in self._read:
                if not path.is_file():
                    raise PrepbotError(f"{path}: no such posting file (named in the labels)")
                report = ingest([str(path)], self.index, worker=False)
                # a duplicate within the file is left out, as the store holds it once; one of an earlier file's
                # posting is that posting, which this file's own home would hold
                ids = [o.duplicate_of if o.outcome == "duplicate" else o.posting_id for o in report.every_posting()]
                stored = [self.index.get_posting(pid) for pid in dict.fromkeys(i for i in ids if i)]
                self._read[path] = FileRead(
                    file=str(path),
                    postings=[posting for posting in stored if posting is not None],
                    errors=[problem.message for problem in report.errors],
                )
            return self._read[path]


class _Resources:
    """What the runs of one eval share: the root, a temp dir and the store built in it on first use, and the
    judge's LLM."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        postings: list[str],
        workdir: Path,
        judge: JudgeConfig | None = None,
        backends: Sequence[BackendSpec] = (),
    ):
        self.settings, self.root, self.postings, self.workdir = settings, root, postings, workdir
        self.judge = judge or JudgeConfig()
        self.judge_backend = self.judge.spec(backends)
        self._store: EvalStore | None = None
        self._labelled_store: LabelledStore | None = None
        self._judge_llm: LLM | None = None
        self._lock = threading.Lock()

    def judge_llm(self, spec: BackendSpec) -> LLM:
        from prepbot.llm import get_llm

        with self._lock:
            if self._judge_llm is None:
                self._judge_llm = get_llm(self.settings.model_copy(update=spec.overrides()))
            return self._judge_llm

    def store(self) -> EvalStore:
        with self._lock:
            if self._store is None:
                home = self.workdir / "home"
                settings = self.settings.model_copy(update={"home": home, "chroma_url": None})
                self._store = EvalStore(settings, self.root, self.postings)
            return self._store

    def labelled_store(self) -> LabelledStore:
        with self._lock:
            if self._labelled_store is None:
                home = self.workdir / "labelled-home"
                settings = self.settings.model_copy(update={"home": home, "chroma_url": None})
                self._labelled_store = LabelledStore(settings)
            return self._labelled_store
