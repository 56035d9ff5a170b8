"""Words that name things in postings, in English, Chinese (both scripts) and Japanese: section kinds, job
roles, optional-item markers, title fields. The common cases only: what no list anticipates is classified by
meaning (``sections.py``: the embedder against labelled prototype headings)."""

from __future__ import annotations

import re

from prepbot.postings.models import Section

# Checked in this order, so the more specific wins: "Preferred qualifications" is a plus, not a requirement;
# "About you" describes the candidate, not the company; "how to apply" is the process, not "about".
# English keywords match at a word start ("benefit" -> "Benefits").
SECTION_KEYWORDS: tuple[tuple[Section, tuple[str, ...]], ...] = (
    ("nice_to_have", (
        "nice to have", "nice-to-have", "plus", "bonus", "preferred", "desirable", "desired", "good to have",
        "extra credit", "would be great", "would be nice", "is an advantage", "advantageous", "ideal candidate",
        "加分", "尚可", "優先", "优先", "歓迎", "尤佳", "更佳", "佳分", "あれば尚可", "あると望ましい", "望ましい",
    )),
    ("process", (
        "how to apply", "to apply", "apply now", "application process", "interview process", "hiring process",
        "selection process", "recruitment process", "next steps", "contact", "apply",
        "應徵方式", "应聘方式", "應徵方法", "投遞", "投递", "聯絡方式", "联系方式", "聯繫方式", "面試流程", "面试流程",
        "招聘流程", "應聘", "应聘", "選考", "応募方法", "応募について", "応募", "お問い合わせ", "問合せ", "連絡先",
        "采用フロー", "採用フロー", "簡歷", "简历", "履歴書", "連絡",
    )),
    ("benefit", (
        "benefit", "perk", "what we offer", "we offer", "compensation", "salary", "why join", "why work",
        "in return", "pay", "package", "rewards", "time off", "vacation",
        "福利", "待遇", "薪資", "薪资", "薪酬", "薪水", "給与", "年収", "休日", "休暇", "手当", "賞与", "昇給",
        "報酬", "月給", "保険", "福祉", "工時", "特休", "魅力",
    )),
    ("requirement", (
        "requirement", "qualification", "must have", "must-have", "who you are", "about you",
        "what we're looking for", "what we are looking for", "we're looking for", "we are looking for",
        "looking for", "what you need", "what you'll need", "what you will need", "what you bring",
        "what you'll bring", "you'll bring", "you bring", "you have", "you are", "skills", "experience",
        "competenc", "profile", "ideal", "who we need", "candidate", "required",
        "要求", "資格", "资格", "必須", "必要", "求める", "必備", "必备", "條件", "条件", "能力需求", "技能", "人物像",
        "スキル", "経験", "対象となる方", "応募資格", "任職", "任职", "需求",
    )),
    ("about", (
        "about", "what to expect", "who we are", "overview", "introduction", "our company", "our team",
        "the team", "our mission", "our story", "company", "about the role", "about the job", "about this role",
        "about the position", "about this job", "about the team", "who we are", "values", "culture", "background",
        "關於", "关于", "会社概要", "会社紹介", "公司介紹", "公司介绍", "公司簡介", "公司简介", "企業概要", "企業情報",
        "募集背景", "團隊介紹", "团队介绍", "團隊簡介", "团队简介", "職缺說明", "职缺说明", "ポジション概要", "当社",
        "事業内容", "私たち", "我們", "我们", "介紹", "介绍", "簡介", "简介", "背景", "概要",
    )),
    ("responsibility", (
        "responsibilit", "what you will be doing", "what you'll be doing", "what you will do", "what you'll do",
        "what you do", "you will", "you'll", "duties", "the role", "your role", "your mission", "day to day",
        "in this role", "the job", "job description", "job summary", "tasks", "what will you",
        "工作內容", "工作内容", "職責", "职责", "業務内容", "仕事内容", "職務內容", "职务内容", "職務内容",
        "工作說明", "工作说明", "担当業務", "工作項目", "工作项目", "岗位描述", "崗位描述", "職務概要", "仕事概要",
        "業務", "仕事", "職務", "工作",
    )),
    ("other", (
        "location", "where", "office", "hours", "schedule", "remote", "contract", "duration", "period",
        "地點", "地点", "時間", "时间", "勤務地", "勤務時間", "期間", "備考", "注意", "其他", "其它", "備註", "备注",
        "工作地點", "工作地点", "上班地點", "上班地点", "工作時間", "工作时间", "環境", "环境", "進め方", "ツール",
    )),
)  # fmt: skip

# Words that may stand beside a keyword in a bare heading line ("Key Responsibilities", "Required skills").
HEADING_FILLER = frozenset(
    [
        "job",
        "key",
        "the",
        "our",
        "your",
        "you",
        "we",
        "and",
        "minimum",
        "basic",
        "required",
        "preferred",
        "desired",
        "additional",
        "technical",
        "core",
        "main",
        "position",
        "role",
        "what",
        "who",
        "are",
        "is",
        "a",
        "an",
        "to",
        "of",
        "for",
        "in",
        "with",
        "will",
        "be",
        "do",
        "our",
        "this",
    ]
)

# Nouns that make a heading a job title ("Senior Data Engineer", "後端工程師", "プロダクトマネージャー").
ROLE_WORDS = (
    "engineer", "developer", "programmer", "manager", "designer", "analyst", "scientist", "architect",
    "lead", "head of", "director", "writer", "editor", "representative", "consultant", "specialist",
    "intern", "internship", "officer", "coordinator", "associate", "assistant", "researcher", "fellow",
    "administrator", "operator", "technician", "strategist", "marketer", "recruiter", "accountant",
    "advocate", "evangelist", "owner", "sre", "devops", "executive", "partner", "agent", "counsel",
    "tester",
    "工程師", "工程师", "開發", "开发", "經理", "经理", "主管", "總監", "总监", "設計師", "设计师", "專員", "专员",
    "分析師", "分析师", "研究員", "研究员", "實習", "实习", "運營", "运营", "營運", "顧問", "顾问", "架構師", "架构师",
    "助理", "編輯", "编辑", "業務員", "业务员", "銷售", "销售", "專家", "专家", "負責人", "负责人", "算法", "演算法",
    "エンジニア", "マネージャー", "マネジャー", "デザイナー", "プログラマー", "プログラマ", "コンサルタント",
    "ディレクター", "アナリスト", "リサーチャー", "サイエンティスト", "アーキテクト", "営業",
    "スペシャリスト", "リーダー", "インターン", "オペレーター", "職員", "技術者",
)  # fmt: skip
_ROLE = re.compile(
    "|".join(rf"\b{re.escape(w)}\w*" if w.isascii() else re.escape(w) for w in ROLE_WORDS), re.IGNORECASE
)

# A label whose value is the job's title ("募集職種：バックエンドエンジニア", "岗位名称：...", "Position: ...").
TITLE_FIELDS = re.compile(
    r"^(?:募集職種|職種|募集職種・分野|職位|職稱|职位|职称|岗位名称|崗位名稱|岗位|崗位|职位名称|職位名稱|"
    r"job title|position|role|title|opening)\b",
    re.IGNORECASE,
)

# An item marked optional wherever it stands: "(preferred)", "is a plus", "bonus", 优先, 尤佳, 加分, 歓迎.
OPTIONAL_MARKERS = re.compile(
    r"\b(?:preferred|is a (?:big |huge )?plus|a plus\b|are a plus|nice to have|nice-to-have|bonus|"
    r"would be an advantage|is an advantage|would be a plus|desirable|good to have|extra credit)\b"
    r"|优先|優先|尤佳|为佳|為佳|者佳|更佳|加分|歓迎|尚可|望ましい",
    re.IGNORECASE,
)

# Words of a posting heading that advertise rather than name the job: stripped from a title.
HIRING_WORDS = re.compile(
    r"徵才|徵人|誠徵|诚聘|急徵|急招|招聘|招募|诚招|誠招|熱烈招募|内推|內推|社招|校招|募集|急募|"
    r"\b(?:we(?:'| a)re hiring|now hiring|hiring|job opening|open position|join us)\b[:!]?",
    re.IGNORECASE,
)
COMPANY_MARKERS = re.compile(
    r"股份有限公司|有限公司|公司|株式会社|集團|集团|團隊|团队|\b(?:inc|ltd|llc|gmbh|corp|co)\b\.?|\bteam\b",
    re.IGNORECASE,
)


def has_role_word(text: str) -> bool:
    return bool(_ROLE.search(text))


def role_hits(text: str) -> int:
    return len(_ROLE.findall(text))


# Statement cues, for prose and lists that no heading names: a sentence saying what the hire will do, or
# what the hire must have. Each kind's pattern counts once per sentence.
RESPONSIBILITY_CUES = re.compile(
    r"\byou(?:'ll| will| would|'d)\b|\bwill be (?:working|responsible|leading|building)\b|\bresponsible for\b|"
    r"\b(?:this|the) (?:job|role|position) (?:will|involves|includes)\b|"
    r"\b(?:he|she|he/she|they|the (?:successful )?(?:candidate|hire|\w+ (?:assistant|engineer|manager|fellow|"
    r"designer|analyst|lead)))\b[^.;]{0,80}?\bwill (?!also be considered|be considered|be paid|be offered)\w+|"
    r"负责|負責|担当|お願いします|していただきます|お任せ|主导|主導|参与|參與",
    re.IGNORECASE,
)
REQUIREMENT_CUES = re.compile(
    r"\byou (?:have|bring|should|must|need)\b|\bexperience\b|\bdegree\b|\bknowledge of\b|"
    r"\bfamiliar(?:ity)? with\b|\bability to\b|\bskills?\b|\bproficien|\bshould (?:have|hold|be)\b|"
    r"\bmust (?:have|be)\b|\bwe expect you\b|\brequired\b|\bessential\b|\bcrucial\b|\bqualifi|"
    r"\b(?:phd|bachelor|master|mba)|本科|碩士|硕士|博士|學士|学士|大学卒|\d\+? years|年以上|"
    r"熟悉|熟練|熟练|具備|具备|經驗|经验|學歷|学历|学歴|経験|できる方|スキル|資格|以上の",
    re.IGNORECASE,
)


def statement_kind(sentences: list[str]) -> Section | None:
    """responsibility or requirement where more of the sentences carry that kind's cues; else None."""
    duties = sum(bool(RESPONSIBILITY_CUES.search(s)) for s in sentences)
    needs = sum(bool(REQUIREMENT_CUES.search(s)) for s in sentences)
    if duties > needs:
        return "responsibility"
    if needs > duties:
        return "requirement"
    return None
