"""Languages and scripts: the four languages prepbot reads and writes, the CJK character ranges, which
language a text is in, and whether a text names a term."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Literal, get_args

Language = Literal["en", "zh-Hant", "zh-Hans", "ja"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
LANGUAGE_NAMES: dict[Language, str] = {
    "en": "English",
    "zh-Hant": "Traditional Chinese",
    "zh-Hans": "Simplified Chinese",
    "ja": "Japanese",
}

# Kana and CJK ideographs (with compatibility ideographs): the characters a Chinese or Japanese text is made of.
CJK_CHARS = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{CJK_CHARS}]")
LanguageChoice = Literal["auto", Language]  # a language, or the posting's own

HANGUL_CHARS = "\uac00-\ud7af"  # not a language prepbot reads, but a run of it is one token, not letters

# Common characters whose Traditional and Simplified forms differ (Traditional first in each pair).
_HANT_HANS = [
    "資资",
    "數数",
    "經经",
    "與与",
    "發发",
    "個个",
    "們们",
    "來来",
    "時时",
    "會会",
    "對对",
    "學学",
    "說说",
    "為为",
    "國国",
    "這这",
    "過过",
    "還还",
    "進进",
    "開开",
    "關关",
    "實实",
    "現现",
    "點点",
    "題题",
    "問问",
    "體体",
    "機机",
    "電电",
    "處处",
    "應应",
    "變变",
    "從从",
    "動动",
    "當当",
    "頭头",
    "長长",
    "義义",
    "見见",
    "認认",
    "語语",
    "讀读",
    "寫写",
    "術术",
    "業业",
    "務务",
    "專专",
    "區区",
    "產产",
    "質质",
    "統统",
    "計计",
    "設设",
    "網网",
    "絡络",
    "庫库",
    "據据",
    "構构",
    "測测",
    "試试",
    "維维",
    "護护",
    "權权",
    "參参",
    "協协",
    "調调",
    "溝沟",
    "團团",
    "隊队",
    "負负",
    "責责",
    "職职",
    "驗验",
    "優优",
    "勢势",
    "強强",
    "極极",
    "環环",
    "際际",
    "創创",
    "華华",
    "車车",
    "書书",
    "習习",
    "價价",
    "買买",
    "賣卖",
    "標标",
    "層层",
    "級级",
    "線线",
    "練练",
    "運运",
    "營营",
    "報报",
    "導导",
    "規规",
    "劃划",
    "達达",
    "將将",
    "後后",
    "聯联",
    "隨随",
    "斷断",
    "織织",
    "條条",
    "檔档",
    "聽听",
    "觀观",
    "視视",
    "歡欢",
    "親亲",
    "愛爱",
    "記记",
    "億亿",
    "萬万",
    "東东",
    "門门",
    "間间",
    "讓让",
    "談谈",
    "話话",
    "識识",
    "論论",
    "證证",
    "請请",
    "課课",
    "評评",
    "議议",
    "購购",
    "費费",
    "員员",
    "圖图",
    "場场",
    "備备",
    "傳传",
    "儲储",
    "內内",
    "氣气",
    "無无",
    "熱热",
    "獎奖",
    "畫画",
    "確确",
    "碼码",
    "礎础",
    "種种",
    "穩稳",
    "積积",
    "簡简",
    "節节",
    "紀纪",
    "約约",
    "組组",
    "結结",
    "給给",
    "綜综",
    "編编",
    "總总",
    "績绩",
    "續续",
    "腦脑",
    "興兴",
    "舉举",
    "藝艺",
    "號号",
    "補补",
    "複复",
    "覺觉",
    "訊讯",
    "訓训",
    "許许",
    "詞词",
    "該该",
    "詳详",
    "講讲",
    "謝谢",
    "豐丰",
    "財财",
    "貢贡",
    "貴贵",
    "軍军",
    "軟软",
    "輕轻",
    "載载",
    "輔辅",
    "輸输",
    "轉转",
    "辦办",
    "遠远",
    "適适",
    "選选",
    "邊边",
    "醫医",
    "銷销",
    "錄录",
    "錯错",
    "鍵键",
    "鏈链",
    "閱阅",
    "險险",
    "雖虽",
    "雙双",
    "離离",
    "難难",
    "雲云",
    "響响",
    "頁页",
    "項项",
    "順顺",
    "須须",
    "預预",
    "領领",
    "頻频",
    "額额",
    "顧顾",
    "顯显",
    "風风",
    "飛飞",
    "館馆",
    "驅驱",
    "麼么",
    "齊齐",
    "龍龙",
    "師师",
    "決决",
]
_TRADITIONAL = frozenset(pair[0] for pair in _HANT_HANS)
_SIMPLIFIED = frozenset(pair[1] for pair in _HANT_HANS)
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")  # not ・ or ー, which Chinese text borrows
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# Japanese prose is a third or more kana, Chinese has none; a Chinese posting quoting a Japanese line (an
# injected instruction, a product name) stays well below this share of its whole text.
_JAPANESE_KANA_SHARE = 0.15


def detect_language(text: str) -> Language:
    """en when Latin words outnumber CJK characters (English bodies under Chinese titles); ja when kana is
    a noticeable share of the CJK text; otherwise Traditional or Simplified Chinese by the characters that
    differ, ties going to Traditional (prepbot's seed postings and Big5 files come from Taiwan)."""
    kana = len(_KANA.findall(text))
    han = len(_HAN.findall(text))
    if kana + han < len(_LATIN_WORD.findall(text)) or kana + han == 0:
        return "en"
    if kana >= _JAPANESE_KANA_SHARE * (kana + han):
        return "ja"
    simplified = sum(ch in _SIMPLIFIED for ch in text)
    traditional = sum(ch in _TRADITIONAL for ch in text)
    return "zh-Hans" if simplified > traditional else "zh-Hant"


# Other names a text may use for a term (lower case): "Go" for golang is still golang.
TERM_ALIASES = {
    "golang": ("go",),
    "kubernetes": ("k8s",),
    "postgresql": ("postgres",),
    "javascript": ("js",),
    "typescript": ("ts",),
    "k8s": ("kubernetes",),
    "postgres": ("postgresql",),
}


def names_term(text: str, term: str) -> bool:
    """The text uses the term (or an alias) as a word, in the plural or the singular: "IT" is not named by
    "scalability", "Transformers" is by "a Transformer model", "golang" by "Go"."""
    for name in (term, *TERM_ALIASES.get(term.lower(), ())):
        plural = len(name) > 3 and name.endswith("s") and name[-2].islower() and name[-2] != "s"
        stem = re.escape(name[:-1] if plural else name)
        if re.search(rf"(?<![A-Za-z0-9]){stem}(?:s|es)?(?![A-Za-z0-9])", text, re.IGNORECASE):
            return True
    return False


_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Text reduced to what survives reformatting: NFKC, case-folded, punctuation and symbols dropped."""
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


# What a JSON string, an HTML page or an answer may carry but a terminal must never get: C0 controls (ESC starts
# a terminal escape sequence), DEL and C1 controls, and the bidirectional overrides that reorder what is shown.
_UNSAFE_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# The control tokens of chat templates, as text: ChatML and most others write theirs as <|...|> (Qwen's
# <|im_start|>, Llama 3's <|start_header_id|>, <|endoftext|>), Gemma as <start_of_turn>/<end_of_turn>.
_TEMPLATE_TOKEN = re.compile(r"<(\|[^<>|\s]{1,40}\|)>|<((?:start|end)_of_turn)>")


def defuse_template_tokens(text: str) -> str:
    """``text`` with every chat-template token written so that no tokenizer reads it as one (``<|im_end|>``
    becomes ``< |im_end| >``): what a candidate or a posting wrote stays visible to the model, as text."""
    if "<" not in text:
        return text
    return _TEMPLATE_TOKEN.sub(lambda m: f"< {m.group(1) or m.group(2)} >", text)


def in_script(text: str, language: str) -> str:
    """Chinese text in the script its language asks for: Simplified characters in a Traditional set become
    Traditional, with Taiwan's words (OpenCC's s2twp: 软件 -> 軟體), and the reverse for a Simplified set."""
    if language not in ("zh-Hant", "zh-Hans") or not _HAN.search(text):
        return text
    return _converter("s2twp" if language == "zh-Hant" else "t2s").convert(text)


@lru_cache(maxsize=2)
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def safe_text(text: str) -> str:
    """``text`` without the control characters a terminal would act on (tab, newline, CR and form feed stay)."""
    return _UNSAFE_CHARS.sub("", text)
