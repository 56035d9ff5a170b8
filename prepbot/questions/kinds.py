"""The kind of question an item calls for, and what a question on it probes, by embedding similarity to anchors.

Each kind has a few anchor phrases; an item's natural kind is the kind of the anchor it is most similar to (in
any language the multilingual embedder reads). Each anchor is also what a question on such an item probes,
named in the set's language (``probe_label``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from prepbot.postings import Requirement
from prepbot.questions.models import Kind
from prepbot.questions.terms import term_phrases

if TYPE_CHECKING:
    from prepbot.retrieval.embedders import Embedder

# The anchors of each kind, each with its name in the languages other than English.
KIND_ANCHORS: dict[Kind, dict[str, dict[str, str]]] = {
    "behavioral": {
        "communication and teamwork skills": {
            "zh-Hant": "溝通與團隊合作", "zh-Hans": "沟通与团队合作", "ja": "コミュニケーションとチームワーク"},
        "working with people across teams and stakeholders": {
            "zh-Hant": "跨團隊與利害關係人協作", "zh-Hans": "跨团队与利益相关方协作", "ja": "部門横断・関係者との協働"},
        "attitude, learning and motivation": {
            "zh-Hant": "態度、學習與動機", "zh-Hans": "态度、学习与动机", "ja": "姿勢・学習意欲・モチベーション"},
        "leading and mentoring people": {
            "zh-Hant": "領導與指導他人", "zh-Hans": "领导与指导他人", "ja": "リーダーシップと育成"},
    },
    "system-design": {
        "design the architecture of a scalable system": {
            "zh-Hant": "可擴展系統的架構設計", "zh-Hans": "可扩展系统的架构设计", "ja": "スケーラブルなシステムの設計"},
        "build data pipeline and infrastructure architecture": {
            "zh-Hant": "資料管線與基礎架構", "zh-Hans": "数据管道与基础架构", "ja": "データパイプラインと基盤の設計"},
        "scalability and reliability of distributed systems": {
            "zh-Hant": "分散式系統的擴展性與可靠性", "zh-Hans": "分布式系统的扩展性与可靠性", "ja": "分散システムの拡張性と信頼性"},
    },
    "technical": {
        "experience with programming languages, frameworks and tools": {
            "zh-Hant": "程式語言、框架與工具的實務", "zh-Hans": "编程语言、框架与工具的实践",
            "ja": "プログラミング言語・フレームワーク・ツールの実務"},
        "knowledge of databases and algorithms": {
            "zh-Hant": "資料庫與演算法知識", "zh-Hans": "数据库与算法知识", "ja": "データベースとアルゴリズムの知識"},
        "hands-on skills with a specific technology": {
            "zh-Hant": "特定技術的實作能力", "zh-Hans": "特定技术的实操能力", "ja": "特定技術の実践スキル"},
    },
}  # fmt: skip


ANCHOR_KEYS = [f"{kind}/{anchor}" for kind, anchors in KIND_ANCHORS.items() for anchor in anchors]
_anchor_vectors: dict[str, np.ndarray] = {}  # per embedder spec: embedded once, not once per question


def _anchor_scores(items: list[Requirement], embedder: Embedder) -> np.ndarray:
    """Each item's similarity to every anchor of ANCHOR_KEYS (items x anchors)."""
    anchors = _anchor_vectors.get(embedder.spec)
    if anchors is None:
        anchors = _anchor_vectors[embedder.spec] = embedder.embed([key.split("/", 1)[1] for key in ANCHOR_KEYS])
    return embedder.embed([item.text for item in items]) @ anchors.T


def item_kinds(items: list[Requirement], embedder: Embedder) -> dict[str, Kind]:
    """Each item's natural kind of question, by embedding similarity to the kind anchors (any language)."""
    if not items:
        return {}
    best = _anchor_scores(items, embedder).argmax(axis=1)
    return {item.id: cast(Kind, ANCHOR_KEYS[int(b)].split("/", 1)[0]) for item, b in zip(items, best)}


def probe_label(item: Requirement, kind: Kind, terms: list[str], language: str, embedder: Embedder) -> str:
    """What a question on the item probes, a few words in the set's language: the item's named tools (up to
    three), or for an item naming none (a soft skill, a degree) the closest anchor of the question's kind."""
    if terms:
        return ", ".join(term_phrases(item.text, terms)[:3])
    scores = _anchor_scores([item], embedder)[0]
    own = [i for i, key in enumerate(ANCHOR_KEYS) if key.startswith(f"{kind}/")]
    anchor = ANCHOR_KEYS[max(own, key=lambda i: scores[i])].split("/", 1)[1]
    return KIND_ANCHORS[kind][anchor].get(language, anchor)
