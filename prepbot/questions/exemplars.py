"""The exemplar bank: strong interview questions of our own writing that the writer adapts to an item.

The bank is data, versioned like the prompts: ``prompts/exemplars.vN/<language>.jsonl``, one exemplar a line
(its competency, kind, level, role families, the skill it tests, the question, three concrete rubric points
and a follow-up). A folder of one's own (``prompts_dir``) may add ``exemplars.vN/*.jsonl`` to it. For each
planned item the writer takes the closest exemplars in the set's language (embedding similarity of the item to
the exemplar's skill and question), preferring the posting's role family and, for an item that is not a skill
(a degree, years, a spoken language, an industry), the competency such items are asked about; the model keeps
the exemplar's shape and puts the item's own tools and domain in it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prepbot.errors import PrepbotError
from prepbot.text import Language

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.retrieval.embedders import Embedder

BANK_VERSION = 1
FAMILY_BONUS = 0.05  # cosine added to an exemplar of the posting's role family

RoleFamily = Literal["engineering", "data", "product", "design", "sales", "operations", "research", "support"]
ROLE_FAMILIES: tuple[RoleFamily, ...] = (
    "engineering",
    "data",
    "product",
    "design",
    "sales",
    "operations",
    "research",
    "support",
)


class Exemplar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    lang: Language
    competency: str
    kind: Literal["technical", "system-design", "behavioral", "situational", "background"]
    level: Literal["easy", "medium", "hard"]
    role_families: tuple[RoleFamily, ...] = Field(min_length=1)
    skill: str
    question: str
    rubric: tuple[str, str, str]
    follow_up: str

    @property
    def embedded(self) -> str:
        return f"{self.skill}. {self.question}"


def bank_dirs(settings: Settings | None = None) -> list[Path]:
    """The bank's folders: the shipped one (beside the prompt files), then ``prompts_dir``'s own, if any."""
    from prepbot.prompts import prompt_dirs

    folder = f"exemplars.v{BANK_VERSION}"
    return [d / folder for d in prompt_dirs(settings) if (d / folder).is_dir()]


def load_bank(settings: Settings | None = None) -> tuple[Exemplar, ...]:
    files = tuple(sorted(path for folder in bank_dirs(settings) for path in folder.glob("*.jsonl")))
    return _read(files)


@lru_cache(maxsize=4)
def _read(files: tuple[Path, ...]) -> tuple[Exemplar, ...]:
    bank: list[Exemplar] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                bank.append(Exemplar.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as exc:
                reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not JSON"
                raise PrepbotError(f"{path}: line {number} is not an exemplar ({reason})") from None
    return tuple(bank)


class ExemplarIndex:
    """The bank embedded once per embedder; ``closest`` ranks it for one item."""

    _vectors: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def __init__(self, bank: tuple[Exemplar, ...], embedder: Embedder):
        self.bank, self.embedder = bank, embedder
        key = (embedder.spec, tuple(e.id for e in bank))
        if key not in self._vectors and bank:
            self._vectors[key] = np.asarray(embedder.embed([e.embedded for e in bank]), dtype=np.float32)
        self.vectors = self._vectors.get(key, np.zeros((0, 1), dtype=np.float32))

    def cosine(self, item_vector: np.ndarray, exemplar: Exemplar) -> float:
        """The item's cosine to one exemplar of the bank (unit-length vectors)."""
        return float(self.vectors[self.bank.index(exemplar)] @ item_vector)

    def closest(
        self,
        item_vector: np.ndarray,
        *,
        language: Language,
        family: RoleFamily | None,
        competency: str | None = None,
        k: int = 1,
        exclude: set[str] | None = None,
    ) -> list[Exemplar]:
        """The ``k`` exemplars in ``language`` nearest the item, the family's and the competency's first."""
        mine = [i for i, e in enumerate(self.bank) if e.lang == language and e.id not in (exclude or set())]
        # An item a rule says is not a skill (a degree, years) is asked what such items are asked: only that
        # competency's exemplars compete, however the item's words embed.
        if competency and (same := [i for i in mine if self.bank[i].competency == competency]):
            mine = same
        if not mine:
            return []
        scores = self.vectors[mine] @ item_vector
        for n, i in enumerate(mine):
            scores[n] += FAMILY_BONUS * (family in self.bank[i].role_families)
        order = np.argsort(-scores)[:k]
        return [self.bank[mine[int(n)]] for n in order]
