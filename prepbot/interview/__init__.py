"""A mock interview's logic, without a terminal: plan, ask, grade, follow up, adapt, remember.

``prepbot chat`` (``chat.py``) drives an ``Interview``; tests drive it directly with the scripted fake model.

- The plan is made as for a question set (requirements first, one question per item before any gets a
  second), from a saved set (``--questions SET_ID``), or from the items due for practice (``--focus weak``).
- Questions are written when they are reached, so the first one comes quickly and later ones use the
  difficulty the candidate has earned: two recent scores averaging 4.5 or more move the next question a
  level up, averaging 2 or less a level down.
- After a main question scored 3 or lower, the grader's follow-up on the weakest part of the answer is asked
  (once); otherwise the interview moves on.
- Every part of a turn is saved as it happens (``sessions.py``), so ``resume`` continues where it stopped.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from prepbot.interview import sessions
from prepbot.config import Settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.grading import Grade, GradeListener, grade_answer, prewarm
from prepbot.postings import Posting
from prepbot.interview.progress import weak_items
from prepbot.questions import (
    DEEPER,
    PlannedQuestion,
    QuestionWriter,
    SetRequest,
    find_posting,
    item_kinds,
    load_set,
    plan_questions,
    prompt_text,
)
from prepbot.text import LANGUAGES
from prepbot.interview.sessions import Mode, PlannedStep, Session, Turn

if TYPE_CHECKING:
    from prepbot.retrieval.index import RequirementIndex
    from prepbot.llm import LLM

DEFAULT_QUESTIONS = 5
FOLLOW_UP_MAX_SCORE = 3
EASIER = {"hard": "medium", "medium": "easy", "easy": "easy"}
# What each mode asks: the kind of question (None: each item's natural kind) and the difficulty.
MODES: dict[str, tuple[str | None, str]] = {
    "screen": (None, "easy"),
    "technical": ("technical", "mixed"),
    "behavioral": ("behavioral", "mixed"),
    "mixed": (None, "mixed"),
}

QuestionProgress = Callable[[str, int], None]


class Interview:
    def __init__(self, settings: Settings, session: Session, posting: Posting, index: RequirementIndex,
                 llm: LLM | None = None, no_cache: bool = False):  # fmt: skip
        self.settings, self.session, self.posting, self.index = settings, session, posting, index
        self._llm, self.no_cache = llm, no_cache
        self._writer: QuestionWriter | None = None
        self.hints_shown: dict[int, int] = {}
        self._prewarm: Any = None

    # --- starting ------------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls, settings: Settings, *, role: str | None = None, posting_id: str | None = None, mode: Mode = "mixed",
        lang: str = "auto", set_id: str | None = None, focus: str | None = None, n: int | None = None,
        llm: LLM | None = None, no_cache: bool = False,
    ) -> Interview:  # fmt: skip
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
            question_set = load_set(set_id, settings)
            if role or (posting_id and posting_id != question_set.posting_id):
                raise UsageError(f"question set {set_id} belongs to posting {question_set.posting_id}; drop --role/--posting")
            posting = find_posting(index, posting_id=question_set.posting_id)
            plan = [
                PlannedStep(requirement_id=q.citations[0].id, kind=q.kind, difficulty=q.difficulty, text=q.text,
                            rubric=q.rubric)
                for q in question_set.questions if q.citations
            ][: n or None]  # fmt: skip
        else:
            posting = find_posting(index, role=role, posting_id=posting_id)
            plan = (cls._weak_plan(settings, posting, index, mode, n) if focus
                    else cls._plan(posting, index, mode, n or DEFAULT_QUESTIONS))  # fmt: skip
        language = posting.language if lang == "auto" else lang
        session = sessions.create_session(
            settings, posting_id=posting.id, role=posting.title, mode=mode, language=language, plan=plan,
            set_id=set_id, backend=settings.backend, model=settings.model,
        )  # fmt: skip
        return cls(settings, session, posting, index, llm, no_cache)

    @staticmethod
    def _plan(posting: Posting, index: RequirementIndex, mode: str, n: int) -> list[PlannedStep]:
        kind, difficulty = MODES[mode]
        request = SetRequest(n=min(n, 50), kind=kind or "mixed", difficulty=difficulty)  # type: ignore[arg-type]
        kinds = None
        if kind is None:
            kinds = item_kinds([item for item in posting.requirements], index.embedder)
            if mode == "screen":  # a screening call asks no system design
                kinds = {rid: ("technical" if k == "system-design" else k) for rid, k in kinds.items()}
        plan, _ = plan_questions(posting, request, kinds)  # type: ignore[arg-type]
        return [PlannedStep(requirement_id=p.item.id, kind=p.kind, difficulty=p.difficulty) for p in plan]

    @staticmethod
    def _weak_plan(settings: Settings, posting: Posting, index: RequirementIndex, mode: str,
                   n: int | None) -> list[PlannedStep]:  # fmt: skip
        due = weak_items(settings, posting.id)
        items = {item.id: item for item in posting.requirements}
        due = [progress for progress in due if progress.requirement_id in items][: n or DEFAULT_QUESTIONS]
        if not due:
            raise PrepbotError(f"no weak items are due for practice in {posting.id}; run a normal interview first"
                               " (`prepbot progress` shows the scores)")  # fmt: skip
        kind, _ = MODES[mode]
        kinds = item_kinds([items[p.requirement_id] for p in due], index.embedder) if kind is None else {}
        return [
            PlannedStep(requirement_id=p.requirement_id, kind=kind or kinds[p.requirement_id],
                        difficulty="easy" if p.latest <= 2 else "medium")
            for p in due
        ]  # fmt: skip

    @classmethod
    def resume(cls, settings: Settings, session_id: str, *, llm: LLM | None = None, no_cache: bool = False) -> Interview:
        from prepbot.retrieval.index import RequirementIndex

        session = sessions.load_session(session_id, settings)
        index = RequirementIndex(settings)
        posting = index.get_posting(session.posting_id)
        if posting is None:
            raise PrepbotError(f"session {session_id} is about posting {session.posting_id}, which is no longer indexed")
        if session.ended_at is not None and not cls(settings, session, posting, index).remaining():
            raise PrepbotError(f"session {session_id} is finished; `prepbot sessions show {session_id}` shows it")
        return cls(settings, session, posting, index, llm, no_cache)

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

    def next_difficulty(self, planned: str) -> str:
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
            turn = Turn(n=n, kind="follow_up", follows=follows.n, requirement_id=follows.requirement_id,
                        question=follows.grade.follow_up, rubric=list(follows.grade.gaps), difficulty=follows.difficulty,
                        asked_at=now)  # fmt: skip
            return sessions.add_turn(self.settings, self.session, turn)
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
            planned = PlannedQuestion(item=item, prompt_text=prompt_text(item.text) or item.text, round=1,
                                      kind=step.kind, difficulty=difficulty)  # type: ignore[arg-type]
            writer = self.writer(progress)
            question = writer.write(len(self.session.main_turns) + 1, planned)
            if question is None:
                raise PrepbotError(f"the model wrote no valid question for {item.id} ({writer.last_error})")
            text, rubric = question.text, question.rubric
        turn = Turn(n=n, kind="question", requirement_id=item.id, question=text, rubric=rubric,
                    difficulty=difficulty, asked_at=now)  # fmt: skip
        return sessions.add_turn(self.settings, self.session, turn)

    def writer(self, progress: QuestionProgress | None) -> QuestionWriter:
        report = progress or (lambda event, amount: None)
        if self._writer is None:
            self._writer = QuestionWriter(self.llm, self.index.embedder, self.posting, self.session.language,  # type: ignore[arg-type]
                                          report, self.no_cache)  # fmt: skip
        self._writer.report = report
        self._writer.language = self.session.language  # type: ignore[assignment]
        return self._writer

    def prewarm(self, turn: Turn) -> None:
        """While the candidate types, let the local model read the grade prompt up to the answer: the score
        then needs only the answer read (seconds) instead of the whole prompt."""
        self.cancel_prewarm()
        try:
            self._prewarm = prewarm(self.settings, self.llm, self.index, question=turn.question, rubric=turn.rubric,
                                    requirement_id=turn.requirement_id, posting_id=self.posting.id)  # fmt: skip
        except PrepbotError:
            self._prewarm = None  # only an optimisation

    def cancel_prewarm(self, wait: bool = False) -> None:
        """Stop the prewarm (``wait``: until its thread is out of the model, as before the process exits)."""
        handle, self._prewarm = self._prewarm, None
        if handle is not None:
            handle.cancel(wait=wait)

    def answer(self, turn: Turn, text: str) -> None:
        """Save the answer the moment it is sent."""
        sessions.record_answer(self.settings, self.session, turn, text)

    def grade(self, turn: Turn, *, listener: GradeListener | None = None,
              on_token: Callable[[str], None] | None = None) -> Grade:  # fmt: skip
        """Grade the turn's saved answer and save the grade. Ctrl-C cancels and leaves the answer saved."""
        if turn.answer is None:
            raise PrepbotError(f"turn {turn.n} has no answer to grade")
        grade = grade_answer(
            self.settings, question=turn.question, answer=turn.answer, posting_id=self.posting.id,
            requirement_id=turn.requirement_id, rubric=turn.rubric, language=self.session.language,
            index=self.index, llm=self.llm, no_cache=self.no_cache, listener=listener, on_token=on_token,
        )  # fmt: skip
        timings = {"first_token_s": grade.first_token_s or 0.0, "score_s": round(grade.score_latency_s, 3),
                   "grade_s": round(grade.latency_s, 3)}  # fmt: skip
        sessions.record_grade(self.settings, self.session, turn, grade, timings)
        return grade

    def skip(self, turn: Turn) -> None:
        self.cancel_prewarm()
        sessions.record_skip(self.settings, self.session, turn)

    def hint(self, turn: Turn) -> str:
        """One more hint each time: the item the question tests, then the rubric's points one by one."""
        shown = self.hints_shown.get(turn.n, 0)
        self.hints_shown[turn.n] = shown + 1
        item = self.index.get_requirements([turn.requirement_id]).get(turn.requirement_id) if turn.requirement_id else None
        hints = ([f"It tests: \"{item.text}\"" ] if item else []) + [f"A strong answer covers: {p}" for p in turn.rubric]
        if not hints:
            return "No hint for this one."
        return hints[min(shown, len(hints) - 1)]

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise UsageError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
        sessions.set_language(self.settings, self.session, language)

    def scoreboard(self) -> dict[str, Any]:
        graded = self.session.graded
        return {
            "asked": len(self.session.main_turns), "planned": len(self.session.plan), "graded": len(graded),
            "mean_score": self.session.mean_score,
            "scores": [(turn.n, turn.kind, turn.grade.score) for turn in graded if turn.grade],
        }  # fmt: skip

    def end(self) -> None:
        self.cancel_prewarm()
        sessions.end_session(self.settings, self.session)
