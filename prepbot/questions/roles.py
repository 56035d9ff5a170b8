"""Who the questions are for, and which items are not skills, by rule.

``role_family`` reads a posting's title (EN/ZH/JA words, first match wins, most specific first): a product
manager is asked product questions, not asked to design a microchip. ``item_competency`` names what an item
that is not a skill is about (a degree, years alone, a spoken language, an industry that "is a plus") so the
writer adapts an exemplar of the question an interviewer asks about such a thing (background, transfer); a
location, a work permit or a schedule gets no question at all (``not_asked``).
"""

from __future__ import annotations

import re

from prepbot.postings import Requirement
from prepbot.questions.exemplars import RoleFamily

# Most specific first: "data engineer" is data, "sales engineer" sales, "product designer" design. Each family:
# words of a title in Latin script (matched as whole words), then CJK ones (matched anywhere).
_FAMILY_WORDS: list[tuple[RoleFamily, str, str]] = [
    ("sales", r"sales|account (?:executive|manager)|business development|bdr|sdr|pre-?sales|marketing|growth",
     "業務|銷售|销售|商務開發|商务拓展|行銷|营销|営業|セールス|マーケ"),
    ("support", r"support|customer success|help ?desk|service desk|technical account manager",
     "客服|客戶成功|客户成功|技術支援|技术支持|サポート|カスタマーサクセス"),
    ("design", r"designer|ux|ui|user experience|visual design|interaction design",
     "設計師|设计师|視覺設計|视觉设计|デザイナー|デザイン"),
    ("product", r"product (?:manager|owner|lead|director)|pm|program manager|project manager",
     "產品經理|产品经理|專案經理|项目经理|プロダクトマネージャー|プロダクトオーナー|プロジェクトマネージャー|PdM|PjM"),
    ("research", r"research(?:er)?|scientist|fellow(?:ship)?|curator|postdoc\w*",
     "研究員|研究员|研究者|リサーチャー"),
    ("data", r"data|analyst|analytics|machine learning|ml|mlops|ai|bi|statistic\w*|nlp|llm|algorithms?",
     "數據|資料|数据|分析師|分析师|機器學習|机器学习|演算法|算法|データ|アナリスト|機械学習"),
    ("operations", r"operations?|ops|logistics|supply chain|procurement|hr|recruit\w*|finance|accounting|admin\w*",
     "營運|运营|行政|人資|人力资源|採購|采购|供应链|會計|会計|経理|人事|総務"),
    ("engineering", r"engineer\w*|developer|programmer|architect|sre|devops|back-?end|front-?end|full[- ]?stack"
     r"|software|cloud|consultant|writer",
     "工程師|工程师|開發|开发|程式|系統|系统|エンジニア|プログラマ|システム|インフラ|クラウド|コンサルタント"),
]  # fmt: skip
_FAMILIES = [(family, re.compile(rf"\b(?:{latin})\b|{cjk}", re.I)) for family, latin, cjk in _FAMILY_WORDS]


def role_family(title: str) -> RoleFamily | None:
    """The posting's role family from its title; None when its words say nothing (the bank then ranks all)."""
    for family, pattern in _FAMILIES:
        if pattern.search(title):
            return family
    return None


_DEGREE = re.compile(
    r"\b(bachelor'?s?|master'?s?|ph\.?d|mba|degree(?! of)|b\.?sc?|m\.?sc?|diploma|graduate of)\b"
    r"|學士|碩士|博士|學歷|學位|大學以上|大專|学历|本科|硕士|学位|大学以上|大専|学士|修士|学歴|卒業|大卒",
    re.I,
)
_YEARS = re.compile(
    r"\b\d+\s*\+?\s*(?:-\s*\d+\s*)?(?:years?|yrs)\b|\d+\s*年(?:以上)?(?:的)?(?:工作|相關|相关|実務|の)?(?:經驗|经验|経験)?"
    r"|(?:一|二|三|四|五|六|七|八|九|十|兩|两)年以上",
    re.I,
)
_SPOKEN = re.compile(
    r"\b(english|japanese|mandarin|chinese|cantonese|korean|toeic|toefl|ielts|jlpt|bilingual)\b"
    r"|英文|英語|英语|日文|日語|日语|日本語|中文|普通話|普通话|外語|外语|語学|ビジネスレベル|ネイティブ|N1|N2",
    re.I,
)
_LANGUAGE_SKILL = re.compile(
    r"\b(fluen\w*|proficien\w*|business[- ]level|written and spoken|speak\w*|read\w*|writ\w*)\b|流利|能力|精通|聽說讀寫|听说读写|レベル|話せる|堪能|読み書き|会話",
    re.I,
)
_INDUSTRY = re.compile(
    r"\b(industry|sector|domain|background in|experience in (?:the )?\w+ (?:industry|market|field))\b"
    r"|產業|行業|行业|領域|领域|業界|業種",
    re.I,
)
_NOT_ASKED = re.compile(
    r"\b(relocat\w*|on-?site|remote|hybrid|work permit|visa|right to work|driver'?s licen[cs]e|travel up to|"
    r"shifts?|weekends?|night|office in|based in|located in|commut\w*)\b"
    r"|工作地點|工作地点|上班地點|出差|輪班|轮班|勤務地|出張|夜勤|シフト|転勤|在宅|リモート",
    re.I,
)
# Items this short or shorter, once the rule's words are gone, name nothing else to ask about.
_REST_WORDS = 4


def item_competency(item: Requirement, terms: list[str]) -> str | None:
    """The exemplar competency for an item that is not a skill ('education_background', 'years_experience',
    'language_skill', 'industry_experience'), 'not_asked' for logistics, None for an ordinary skill item.
    ``terms`` are the item's named tools: an item naming one is a skill, whatever else it says."""
    text = item.text
    if _NOT_ASKED.search(text) and not terms and _rest(text, _NOT_ASKED) <= _REST_WORDS + 4:
        return "not_asked"
    if _SPOKEN.search(text) and _LANGUAGE_SKILL.search(text) and not terms:
        return "language_skill"
    if _DEGREE.search(text) and not terms and _rest(text, _DEGREE) <= 3 * _REST_WORDS:
        return "education_background"
    if item.section == "nice_to_have" and _INDUSTRY.search(text) and not terms:
        return "industry_experience"
    if _YEARS.search(text) and not terms and _rest(text, _YEARS) <= _REST_WORDS:
        return "years_experience"
    return None


def _rest(text: str, pattern: re.Pattern[str]) -> int:
    """Words (a CJK character counting as half of one) left once ``pattern``'s matches are removed."""
    rest = pattern.sub(" ", text)
    latin = re.findall(r"[A-Za-z0-9]+", rest)
    cjk = re.findall(r"[\u3040-\u30ff\u3400-\u9fff]", rest)
    return len(latin) + len(cjk) // 2
