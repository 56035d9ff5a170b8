"""A mock interview's logic, without a terminal: plan, ask, grade, follow up, adapt, remember.

``prepbot chat`` (``prepbot/cli/chat.py``) drives an ``Interview``; tests drive it directly with the scripted
fake model.

- The plan is made as for a question set, from a saved set, or from the items due for practice (``plan.py``).
- Questions are written when they are reached, so the first one comes quickly and later ones use the
  difficulty the candidate has earned: two recent scores averaging 4.5 or more move the next question a
  level up, averaging 2 or less a level down.
- After a main question scored 3 or lower, the grader's follow-up on the weakest part of the answer is asked
  (once); otherwise the interview moves on.
- Every part of a turn is saved as it happens (``store.py``), so ``resume`` continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from prepbot.config import Settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.files import Lock
from prepbot.grading import Grade, GradeListener, grade_answer, prewarm
from prepbot.interview import store
from prepbot.interview.plan import DEFAULT_QUESTIONS, MODES, posting_plan, set_plan, weak_plan
from prepbot.interview.sessions import Mode, Session, Turn
from prepbot.postings import Posting
from prepbot.questions import (
    DEEPER,
    Difficulty,
    PlannedQuestion,
    QuestionWriter,
    find_posting,
    load_set,
    prompt_text,
)
from prepbot.text import LANGUAGES, Language

if TYPE_CHECKING:
    from prepbot.llm import LLM
    from prepbot.retrieval.index import RequirementIndex

FOLLOW_UP_MAX_SCORE = 3
EASIER: dict[Difficulty, Difficulty] = {"hard": "medium", "medium": "easy", "easy": "easy"}

QuestionProgress = Callable[[str, int], None]


def language_named(name: str) -> Language:
    """The language a flag or a ``/lang`` command names."""
    for language in LANGUAGES:
        if language == name:
            return language
    raise UsageError(f"unknown language {name!r}; choose one of {', '.join(LANGUAGES)}")


class Interview:
    def __init__(
        self,
        settings: Settings,
        session: Session,
        posting: Posting,
        index: RequirementIndex,
        llm: LLM | None = None,
        no_cache: bool = False,
    ):
        self.settings, self.session, self.posting, self.index = settings, session, posting, index
        self._llm, self.no_cache = llm, no_cache
        self._writer: QuestionWriter | None = None
        self.hints_shown: dict[int, int] = {}
        self._prewarm: Any = None
        self.session_lock: Lock | None = None  # taken by start() and resume(), released when the process ends

    # --- starting ------------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        role: str | None = None,
        posting_id: str | None = None,
        mode: Mode = "mixed",
        lang: str = "auto",
        set_id: str | None = None,
        focus: str | None = None,
        n: int | None = None,
        cv_id: str | None = None,
        llm: LLM | None = None,
        no_cache: bool = False,
    ) -> Interview:
        from prepbot.retrieval.index import RequirementIndex

        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if lang != "auto" and lang not in LANGUAGES:
            raise UsageError(f"unknown language {lang!r}; choose auto or one of {', '.join(LANGUAGES)}")
        if focus not in (None, "weak"):
            raise UsageError(f"unknown focus {focus!r}; the only focus is 'weak'")
        if n is not None and n < 1:
            raise UsageError("the number of questions must be at least 1")
        index = RequirementIndex(settings)
        if set_id:
            if cv_id:
                raise UsageError("--questions asks a saved set as written; make it with `questions --cv` instead")
            posting, plan = set_plan(settings, index, set_id, role, posting_id, n)
            cv_id = next((load_set(set_id, settings).cv_id for step in plan if step.cv_claim), None)
        else:
            posting = find_posting(index, role=role, posting_id=posting_id)
            if focus:
                plan = weak_plan(settings, posting, index, mode, n)
            else:
                from prepbot.cv.fit import current_fit_map

                fit_map = current_fit_map(settings, index, llm, posting, cv_id, no_cache) if cv_id else None
                cv_id = fit_map.cv_id if fit_map else None
                plan = posting_plan(posting, index, mode, n or DEFAULT_QUESTIONS, fit_map)
        session = store.create_session(
            settings,
            posting_id=posting.id,
            role=posting.title,
            mode=mode,
            language=posting.language if lang == "auto" else language_named(lang),
            plan=plan,
            set_id=set_id,
            cv_id=cv_id,
            backend=settings.backend,
            model=settings.model,
        )
        interview = cls(settings, session, posting, index, llm, no_cache)
        interview.session_lock = store.session_lock(settings, session.id)
        return interview

    @classmethod
    def resume(
        cls, settings: Settings, session_id: str, *, llm: LLM | None = None, no_cache: bool = False
    ) -> Interview:
        from prepbot.retrieval.index import RequirementIndex

        session = store.load_session(session_id, settings)
        lock = store.session_lock(settings, session.id)  # held while this object lives (the chat's process)
        index = RequirementIndex(settings)
        posting = index.get_posting(session.posting_id)
        if posting is None:
            raise PrepbotError(
                f"session {session_id} is about posting {session.posting_id}, which is no longer indexed"
            )
        if session.ended_at is not None and not cls(settings, session, posting, index).remaining():
            raise PrepbotError(f"session {session_id} is finished; `prepbot sessions show {session_id}` shows it")
        interview = cls(settings, session, posting, index, llm, no_cache)
        interview.session_lock = lock
        return interview

    # --- state ---------------------------------------------------------------------------------------------

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from prepbot.llm import get_llm

            self._llm = get_llm(self.settings)
        return self._llm

    def open_turn(self) -> Turn | None:
        """The turn in flight: asked and neither graded nor skipped."""
        turns = self.session.turns
        return turns[-1] if turns and turns[-1].open else None

    def remaining(self) -> int:
        """Main questions of the plan not yet asked."""
        return len(self.session.plan) - len(self.session.main_turns)

    def pending_follow_up(self) -> Turn | None:
        """The graded main turn whose follow-up is due next, if the last turn earned one."""
        turns = self.session.turns
        if not turns:
            return None
        last = turns[-1]
        if last.kind != "question" or last.grade is None or last.grade.score > FOLLOW_UP_MAX_SCORE:
            return None
        if not last.grade.follow_up or not last.answer:
            return None
        return last

    def finished(self) -> bool:
        return self.open_turn() is None and self.pending_follow_up() is None and self.remaining() == 0

    def next_difficulty(self, planned: Difficulty) -> Difficulty:
        scores = [turn.grade.score for turn in self.session.turns if turn.grade][-2:]
        if len(scores) < 2:
            return planned
        mean = sum(scores) / len(scores)
        if mean >= 4.5:
            return DEEPER[planned]
        if mean <= 2:
            return EASIER[planned]
        return planned

    # --- turns ---------------------------------------------------------------------------------------------

    def next_turn(self, progress: QuestionProgress | None = None) -> Turn | None:
        """The turn to put to the candidate: the open one, a follow-up, or the next planned question (written
        now by the model, unless it came from a saved set). None when the interview is over."""
        open_turn = self.open_turn()
        if open_turn:
            return open_turn
        n = len(self.session.turns) + 1
        now = datetime.now(timezone.utc)
        follows = self.pending_follow_up()
        if follows and follows.grade:
            turn = Turn(
                n=n,
                kind="follow_up",
                follows=follows.n,
                requirement_id=follows.requirement_id,
                question=follows.grade.follow_up,
                rubric=list(follows.grade.gaps),
                difficulty=follows.difficulty,
                asked_at=now,
            )
            return store.add_turn(self.settings, self.session, turn)
        if self.remaining() <= 0:
            return None
        step = self.session.plan[len(self.session.main_turns)]
        item = self.index.get_requirements([step.requirement_id]).get(step.requirement_id)
        if item is None:
            raise PrepbotError(f"item {step.requirement_id} is no longer indexed; re-run `prepbot ingest`")
        difficulty = self.next_difficulty(step.difficulty)
        if step.text and difficulty == step.difficulty:
            text, rubric = step.text, step.rubric
        else:
            planned = PlannedQuestion(
                item=item,
                prompt_text=prompt_text(item.text) or item.text,
                round=1,
                kind=step.kind,
                difficulty=difficulty,
                cv_claim=step.cv_claim,
                cv_gap=step.cv_gap,
            )
            writer = self.writer(progress)
            question = writer.write(len(self.session.main_turns) + 1, planned)
            if question is None:
                raise PrepbotError(f"the model wrote no valid question for {item.id} ({writer.last_error})")
            text, rubric = question.text, question.rubric
        turn = Turn(
            n=n,
            kind="question",
            requirement_id=item.id,
            question=text,
            rubric=rubric,
            difficulty=difficulty,
            cv_claim=step.cv_claim,
            cv_gap=step.cv_gap,
            asked_at=now,
        )
        return store.add_turn(self.settings, self.session, turn)

    def writer(self, progress: QuestionProgress | None) -> QuestionWriter:
        report = progress or (lambda event, amount: None)
        if self._writer is None:
            self._writer = QuestionWriter(
                self.llm, self.index.embedder, self.posting, self.session.language, report, self.no_cache
            )
        self._writer.report = report
        self._writer.language = self.session.language
        return self._writer

    def prewarm(self, turn: Turn) -> None:
        """While the candidate types, let the local model read the grade prompt up to the answer: the score
        then needs only the answer read (seconds) instead of the whole prompt."""
        self.cancel_prewarm()
        try:
            self._prewarm = prewarm(
                self.settings,
                self.llm,
                self.index,
                question=turn.question,
                rubric=turn.rubric,
                requirement_id=turn.requirement_id,
                posting_id=self.posting.id,
            )
        except PrepbotError:
            self._prewarm = None  # only an optimisation

    def cancel_prewarm(self, wait: bool = False) -> None:
        """Stop the prewarm (``wait``: until its thread is out of the model, as before the process exits)."""
        handle, self._prewarm = self._prewarm, None
        if handle is not None:
            handle.cancel(wait=wait)

    def answer(self, turn: Turn, text: str) -> None:
        """Save the answer the moment it is sent."""
        store.record_answer(self.settings, self.session, turn, text)

    def grade(
        self, turn: Turn, *, listener: GradeListener | None = None, on_token: Callable[[str], None] | None = None
    ) -> Grade:
        """Grade the turn's saved answer and save the grade. Ctrl-C cancels and leaves the answer saved."""
        if turn.answer is None:
            raise PrepbotError(f"turn {turn.n} has no answer to grade")
        grade = grade_answer(
            self.settings,
            question=turn.question,
            answer=turn.answer,
            posting_id=self.posting.id,
            requirement_id=turn.requirement_id,
            rubric=turn.rubric,
            language=self.session.language,
            index=self.index,
            llm=self.llm,
            no_cache=self.no_cache,
            listener=listener,
            on_token=on_token,
            cv_line=self._cv_line(turn),
        )
        timings = {
            "first_token_s": grade.first_token_s or 0.0,
            "score_s": round(grade.score_latency_s, 3),
            "grade_s": round(grade.latency_s, 3),
        }
        store.record_grade(self.settings, self.session, turn, grade, timings)
        return grade

    def _cv_line(self, turn: Turn) -> str | None:
        """The CV line the turn's question (or the question a follow-up digs into) asks about."""
        if turn.cv_claim is None and turn.follows is not None:
            asked = next((t for t in self.session.turns if t.n == turn.follows), None)
            return asked.cv_claim.quote if asked and asked.cv_claim else None
        return turn.cv_claim.quote if turn.cv_claim else None

    def skip(self, turn: Turn) -> None:
        self.cancel_prewarm()
        store.record_skip(self.settings, self.session, turn)

    def hint(self, turn: Turn) -> str:
        """One more hint each time: the item the question tests, then the rubric's points one by one."""
        shown = self.hints_shown.get(turn.n, 0)
        self.hints_shown[turn.n] = shown + 1
        item = (
            self.index.get_requirements([turn.requirement_id]).get(turn.requirement_id) if turn.requirement_id else None
        )
        hints = ([f'It tests: "{item.text}"'] if item else []) + [f"A strong answer covers: {p}" for p in turn.rubric]
        if not hints:
            return "No hint for this one."
        return hints[min(shown, len(hints) - 1)]

    def set_language(self, language: str) -> None:
        store.set_language(self.settings, self.session, language_named(language))

    def scoreboard(self) -> dict[str, Any]:
        graded = self.session.graded
        return {
            "asked": len(self.session.main_turns),
            "planned": len(self.session.plan),
            "graded": len(graded),
            "mean_score": self.session.mean_score,
            "scores": [(turn.n, turn.kind, turn.grade.score) for turn in graded if turn.grade],
        }

    def end(self) -> None:
        self.cancel_prewarm()
        store.end_session(self.settings, self.session)


def open_interview(
    settings: Settings,
    *,
    resume: str | None = None,
    role: str | None = None,
    posting_id: str | None = None,
    mode: Mode = "mixed",
    lang: str = "auto",
    set_id: str | None = None,
    focus: str | None = None,
    n: int | None = None,
    cv_id: str | None = None,
    no_cache: bool = False,
) -> Interview:
    """``prepbot chat``: a new interview, or the session ``resume`` names ('last': the latest open one)."""
    if not resume:
        return Interview.start(
            settings,
            role=role,
            posting_id=posting_id,
            mode=mode,
            lang=lang,
            set_id=set_id,
            focus=focus,
            n=n,
            cv_id=cv_id,
            no_cache=no_cache,
        )
    if role or posting_id or set_id or focus or cv_id:
        raise UsageError(
            "--resume continues a session as it was planned; drop --role/--posting/--questions/--focus/--cv"
        )
    session_id = store.latest_open_session(settings) if resume == "last" else resume
    if session_id is None:
        raise PrepbotError("no open session to resume; `prepbot sessions list` shows them")
    return Interview.resume(settings, session_id, no_cache=no_cache)


def grade_one(
    settings: Settings,
    *,
    question: str,
    answer: str,
    role: str | None = None,
    posting_id: str | None = None,
    requirement_id: str | None = None,
    no_cache: bool = False,
    listener: GradeListener | None = None,
) -> Grade:
    """``prepbot grade``: the interview's grader on one answer, without a session, against the posting a role
    or an ID names."""
    from prepbot.retrieval.index import RequirementIndex

    index = RequirementIndex(settings)
    target = find_posting(index, role=role, posting_id=posting_id)
    return grade_answer(
        settings,
        question=question,
        answer=answer,
        posting_id=target.id,
        requirement_id=requirement_id,
        index=index,
        no_cache=no_cache,
        listener=listener,
    )
