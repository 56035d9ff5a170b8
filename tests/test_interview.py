"""Mock interviews on the scripted fake LLM and the real store: the loop, persistence, resume, progress."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from prepbot.config import get_settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.interview import Interview, Turn, TurnGrade
from prepbot.interview.progress import item_progress, weak_items
from prepbot.interview.report import session_json
from prepbot.interview.store import load_session
from prepbot.retrieval.index import RequirementIndex
from tests.helpers import run_cli
from tests.test_grading import ANSWER, checks_replies, grade_reply, grade_reply_v2
from tests.test_questions import CHINESE, DATA, DATA_DRAFTS, INJECTED


@pytest.fixture
def index():
    idx = RequirementIndex(get_settings())
    idx.add_postings([DATA, CHINESE, INJECTED])
    return idx


def start(n: int = 2, **options) -> Interview:
    return Interview.start(get_settings(), posting_id=DATA.id, mode="technical", n=n, **options)


def test_ask_grade_follow_up_then_move_on(index, fake_llm, fake_chat):
    interview = start(n=2)
    fake_chat.enqueue(DATA_DRAFTS[0])
    first = interview.next_turn()
    assert first.kind == "question" and first.requirement_id == f"{DATA.id}/requirement-1"
    assert first.question.startswith("How would you keep Kafka") and len(first.rubric) == 3
    assert interview.next_turn() is first  # still open: asked again, not a new question
    interview.answer(first, ANSWER)
    fake_chat.enqueue(*grade_reply(2))
    assert interview.grade(first).score == 2
    # A score of 3 or less earns the grader's follow-up, on the same item, without another model call.
    follow_up = interview.next_turn()
    assert (follow_up.kind, follow_up.follows, follow_up.requirement_id) == ("follow_up", 1, first.requirement_id)
    assert follow_up.question == "How would you handle backpressure in Flink?"
    assert len(fake_chat.calls) == 1 + len(grade_reply(2))  # the question, then the grade's calls
    interview.answer(follow_up, ANSWER)
    fake_chat.enqueue(*grade_reply(4))
    interview.grade(follow_up)
    fake_chat.enqueue(DATA_DRAFTS[1])
    second = interview.next_turn()
    assert second.kind == "question" and second.requirement_id == f"{DATA.id}/requirement-2"
    interview.answer(second, ANSWER)
    fake_chat.enqueue(*grade_reply(5))
    interview.grade(second)
    assert interview.next_turn() is None and interview.finished()  # 5: no follow-up, and the plan is done
    board = interview.scoreboard()
    assert board["mean_score"] == pytest.approx(11 / 3, abs=0.01) and board["asked"] == 2


def test_a_question_the_model_cannot_write_is_an_error_to_retry_and_a_grade_without_feedback_moves_on(
    index, fake_llm, fake_chat
):
    interview = start(n=1)
    fake_chat.enqueue("no", "no", "no", "no")  # junk, past repair, on the first try and the sampled retry
    with pytest.raises(PrepbotError, match="no valid question for .*requirement-1"):
        interview.next_turn()
    assert interview.session.turns == []  # nothing half-asked is saved
    fake_chat.enqueue(DATA_DRAFTS[0])
    turn = interview.next_turn()  # Enter in the chat: tried again
    interview.answer(turn, ANSWER)
    fake_chat.enqueue("2", *checks_replies(), "junk", "junk")
    grade = interview.grade(turn)
    assert grade.score == 2 and grade.feedback_error and interview.pending_follow_up() is None
    assert load_session(interview.session.id, get_settings()).turns[0].grade.feedback_error
    assert interview.next_turn() is None


def test_every_part_of_a_turn_is_saved_as_it_happens_and_resume_continues(index, fake_llm, fake_chat):
    interview = start(n=2)
    fake_chat.enqueue(DATA_DRAFTS[0])
    turn = interview.next_turn()
    stored = load_session(interview.session.id, get_settings())
    assert stored.turns[0].question == turn.question and stored.turns[0].answer is None
    interview.answer(turn, ANSWER)
    assert load_session(interview.session.id, get_settings()).turns[0].answer == ANSWER
    # The process dies while grading: the answer is saved, the grade is not.
    fake_chat.enqueue(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        interview.grade(turn)
    resumed = Interview.resume(get_settings(), interview.session.id)
    open_turn = resumed.next_turn()
    assert open_turn.n == 1 and open_turn.answer == ANSWER and open_turn.grade is None
    fake_chat.enqueue(*grade_reply(5))
    resumed.grade(open_turn)
    fake_chat.enqueue(DATA_DRAFTS[1])
    assert resumed.next_turn().n == 2
    shown = session_json(load_session(interview.session.id, get_settings()))
    assert shown["turns"][0]["score"] == 5 and shown["turns"][0]["citations"][0]["id"] == f"{DATA.id}/requirement-1"


def test_ctrl_c_during_the_feedback_keeps_the_score_already_known(index, fake_llm, fake_chat):
    interview = start(n=1)
    fake_chat.enqueue(DATA_DRAFTS[0])
    turn = interview.next_turn()
    interview.answer(turn, ANSWER)
    fake_chat.enqueue("2", *checks_replies(), KeyboardInterrupt())  # the score, the checks, then Ctrl-C
    grade = interview.grade(turn)
    assert grade.score == 2 and "cancelled" in (grade.feedback_error or "")
    stored = load_session(interview.session.id, get_settings()).turns[0]
    assert stored.grade is not None and stored.grade.score == 2  # saved: the turn is graded, not lost


def test_a_session_open_in_another_process_is_not_resumed_twice(index, fake_llm, fake_chat, tmp_path):
    import subprocess
    import sys
    import textwrap

    interview = start(n=1)
    session_id = interview.session.id
    del interview  # this process lets the session go
    holder = textwrap.dedent(
        f"""
        import sys, time
        from prepbot.config import get_settings
        from prepbot.interview.store import session_lock
        lock = session_lock(get_settings(), {session_id!r})
        print("held", flush=True)
        sys.stdin.readline()
        """
    )
    other = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(PrepbotError, match=f"session {session_id} is open in another prepbot process"):
            Interview.resume(get_settings(), session_id)
        result = run_cli(["chat", "--resume", session_id])
        assert result.exit_code == 1 and "open in another prepbot process" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        other.communicate("\n", timeout=30)
    assert Interview.resume(get_settings(), session_id).session.id == session_id  # free again


def test_two_writers_of_one_turn_get_one_line_not_an_integrity_error(index, fake_llm, fake_chat):
    first = start(n=2)
    second = Interview.resume(get_settings(), first.session.id)  # one process: the lock is re-entrant
    fake_chat.enqueue(DATA_DRAFTS[0], DATA_DRAFTS[0])
    first.next_turn()
    with pytest.raises(PrepbotError, match="turn 1 of session .* was saved by another prepbot process"):
        second.next_turn()


def test_skip_hint_and_language(index, fake_llm, fake_chat):
    interview = start(n=1)
    fake_chat.enqueue(DATA_DRAFTS[0])
    turn = interview.next_turn()
    assert interview.hint(turn).startswith('It tests: "Experience with streaming')
    assert interview.hint(turn) == "A strong answer covers: point one"
    interview.set_language("ja")
    with pytest.raises(UsageError):
        interview.set_language("klingon")
    assert load_session(interview.session.id, get_settings()).language == "ja"
    interview.skip(turn)
    assert interview.next_turn() is None and interview.scoreboard()["graded"] == 0


def test_difficulty_follows_how_the_candidate_is_doing(index, fake_llm):
    interview = start(n=3)
    graded = TurnGrade.model_validate(
        json.loads(grade_reply_v2(5)[1]) | {"score": 5} | {"requirement_id": None, "citations": []}
    )
    for n in (1, 2):
        interview.session.turns.append(
            Turn(
                n=n,
                kind="question",
                requirement_id=None,
                question="q",
                asked_at=datetime.now(timezone.utc),
                grade=graded,
            )
        )
    assert interview.next_difficulty("medium") == "hard"
    for turn in interview.session.turns:
        turn.grade = graded.model_copy(update={"score": 1})
    assert interview.next_difficulty("medium") == "easy"


def test_questions_from_a_saved_set_are_asked_as_written(index, fake_llm, fake_chat):
    from prepbot.questions import SetRequest, generate_set

    fake_chat.enqueue(*DATA_DRAFTS[:2])
    question_set = generate_set(
        get_settings(), SetRequest(n=2, kind="technical", difficulty="medium"), posting_id=DATA.id
    )
    calls = len(fake_chat.calls)
    interview = Interview.start(get_settings(), set_id=question_set.set_id)
    turn = interview.next_turn()
    assert turn.question == question_set.questions[0].text and len(fake_chat.calls) == calls
    with pytest.raises(UsageError, match="belongs to posting"):
        Interview.start(get_settings(), set_id=question_set.set_id, posting_id=CHINESE.id)


def test_progress_and_focus_weak_schedule_low_scores_sooner(index, fake_llm, fake_chat):
    with pytest.raises(PrepbotError, match="no weak items"):
        Interview.start(get_settings(), posting_id=DATA.id, focus="weak")
    interview = start(n=2)
    for draft, score in ((DATA_DRAFTS[0], 5), (DATA_DRAFTS[1], 2)):
        fake_chat.enqueue(draft)
        turn = interview.next_turn()
        interview.answer(turn, ANSWER)
        fake_chat.enqueue(*grade_reply(score))
        interview.grade(turn)
    items = item_progress(get_settings(), DATA.id)
    assert [(i.requirement_id.split("/")[1], i.latest, i.best) for i in items] == [
        ("requirement-2", 2, 2),
        ("requirement-1", 5, 5),
    ]
    assert items[0].due_at - items[0].last_at == timedelta(days=1)
    assert weak_items(get_settings(), DATA.id) == []  # scored 2: due again tomorrow
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1, minutes=1)
    assert [i.requirement_id for i in weak_items(get_settings(), DATA.id, now=tomorrow)] == [f"{DATA.id}/requirement-2"]


def test_chat_command_with_piped_answers_and_the_session_commands(index, fake_llm, fake_chat, tmp_path):
    fake_chat.enqueue(DATA_DRAFTS[0], *grade_reply(4))
    script = "/help\n/hint\n/score\n/frobnicate\n" + ANSWER + "\n\n"
    result = run_cli(["chat", "--posting", DATA.id, "--mode", "technical", "-n", "1"], input=script)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "How would you keep Kafka" in out and "Score: 4/5" in out and "Unknown command /frobnicate" in out
    assert f"{DATA.id}/requirement-1" in out and "Interview over" in out
    listed = json.loads(run_cli(["sessions", "list", "--json"]).stdout)
    assert listed[0]["turns"] == 1 and listed[0]["mean_score"] == 4 and listed[0]["posting_id"] == DATA.id
    shown = json.loads(run_cli(["sessions", "show", listed[0]["id"], "--json"]).stdout)
    turn = shown["turns"][0]
    assert (
        turn["answer"] == ANSWER and turn["score"] == 4 and turn["citations"][0]["quote"] == DATA.requirements[2].text
    )
    assert {"question", "answer", "score", "rubric", "citations", "follow_up"} <= set(turn)
    report = tmp_path / "report.md"
    assert run_cli(["sessions", "export", listed[0]["id"], "--format", "md", "--out", str(report)]).exit_code == 0
    assert "**Score: 4/5**" in report.read_text() and "Mock interview: Senior Data Engineer" in report.read_text()
    progress = json.loads(run_cli(["progress", "--posting", DATA.id, "--json"]).stdout)
    assert progress["items"][0]["latest"] == 4 and progress["items"][0]["quote"] == DATA.requirements[2].text


def test_chat_ends_cleanly_on_eof_and_resumes(index, fake_llm, fake_chat):
    fake_chat.enqueue(DATA_DRAFTS[0])
    result = run_cli(["chat", "--posting", DATA.id, "--mode", "technical", "-n", "1"], input="")
    assert result.exit_code == 0 and "prepbot chat --resume" in result.stdout
    session_id = json.loads(run_cli(["sessions", "list", "--json"]).stdout)[0]["id"]
    fake_chat.enqueue(*grade_reply(5))
    resumed = run_cli(["chat", "--resume", "last"], input=ANSWER + "\n\n")
    assert resumed.exit_code == 0, resumed.output
    assert (
        "How would you keep Kafka" in resumed.stdout and "Score: 5/5" in resumed.stdout and session_id in resumed.stdout
    )
    bad = run_cli(["chat", "--resume", "s-nope"])
    assert bad.exit_code == 1 and "no session 's-nope'" in bad.stderr
