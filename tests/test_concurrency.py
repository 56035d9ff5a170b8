"""Several prepbot processes on one home at once: two ingests and a chat, then two resumes of one session.
Nothing is lost (every posting of both ingests is indexed with all its items, every turn of the chat is
saved) and whatever is refused is refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prepbot.config import get_settings
from prepbot.errors import PrepbotError
from prepbot.interview import Interview
from prepbot.interview.store import load_session
from prepbot.retrieval.index import RequirementIndex
from tests.helpers import run_cli
from tests.test_grading import ANSWER, grade_reply
from tests.test_questions import DATA_DRAFTS


def postings_file(path: Path, prefix: str, n: int) -> Path:
    """``n`` distinct postings in one JSONL file (titles and skills numbered, so none is a duplicate)."""
    with path.open("w", encoding="utf-8") as out:
        for k in range(n):
            description = (
                "Responsibilities:\n"
                f"- Build the {prefix} pipeline number {k} in Python\n"
                f"- Run the {prefix} service {k} on Kubernetes\n"
                "Requirements:\n"
                f"- {k % 7 + 2} years with {prefix} systems and SQL\n"
                f"- Experience with {prefix} tool {k * 13 % 101}\n"
            )
            out.write(json.dumps({"title": f"{prefix} Engineer {k}", "description": description}) + "\n")
    return path


def spawn_ingest(path: Path) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("PREPBOT_BACKEND", None)
    return subprocess.Popen(
        [sys.executable, "-m", "prepbot", "ingest", "--json", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_two_ingests_and_a_chat_at_once_lose_nothing(tmp_path, fake_llm, fake_chat):
    from tests.test_questions import DATA

    index = RequirementIndex(get_settings())
    index.add_postings([DATA])
    first = spawn_ingest(postings_file(tmp_path / "a.jsonl", "Billing", 150))
    second = spawn_ingest(postings_file(tmp_path / "b.jsonl", "Search", 150))

    # Meanwhile a mock interview on the posting indexed before: asked, answered, graded, saved.
    interview = Interview.start(get_settings(), posting_id=DATA.id, mode="technical", n=1)
    fake_chat.enqueue(DATA_DRAFTS[0])
    turn = interview.next_turn()
    interview.answer(turn, ANSWER)
    fake_chat.enqueue(*grade_reply(4))
    assert interview.grade(turn).score == 4
    listed = run_cli(["postings", "list", "--json"])  # a reader while both write
    assert listed.exit_code == 0

    for child in (first, second):
        stdout, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr.decode()[-2000:]
        assert b"Traceback" not in stderr
        report = json.loads(stdout)
        assert [p["outcome"] for p in report["postings"]] == ["added"] * 150 and not report["errors"]

    summaries = RequirementIndex(get_settings()).list_postings()
    titles = {s.title for s in summaries}
    assert {f"Billing Engineer {k}" for k in range(150)} <= titles
    assert {f"Search Engineer {k}" for k in range(150)} <= titles
    assert len(summaries) == 301
    fresh = RequirementIndex(get_settings())
    assert fresh.items.count() == sum(sum(s.counts.values()) for s in summaries)  # no item lost, none orphaned
    assert fresh.sweep_orphans() == 0
    saved = load_session(interview.session.id, get_settings())
    assert saved.turns[0].answer == ANSWER and saved.turns[0].grade.score == 4


def test_a_second_resume_of_a_session_in_use_is_refused_in_one_line(tmp_path, fake_llm, fake_chat):
    from tests.test_questions import DATA

    RequirementIndex(get_settings()).add_postings([DATA])
    interview = Interview.start(get_settings(), posting_id=DATA.id, mode="technical", n=2)
    session_id = interview.session.id
    del interview
    holder = subprocess.Popen(  # another prepbot process resumes the session and stays in it
        [
            sys.executable,
            "-c",
            "import sys\nfrom prepbot.config import get_settings\nfrom prepbot.interview import Interview\n"
            f"i = Interview.resume(get_settings(), {session_id!r})\nprint('in', flush=True)\nsys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "in", holder.stderr.read()
        with pytest.raises(PrepbotError, match="is open in another prepbot process"):
            Interview.resume(get_settings(), session_id)
        result = run_cli(["chat", "--resume", session_id])
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(errors) == 1 and "open in another prepbot process" in errors[0]
    finally:
        holder.communicate("\n", timeout=60)
    resumed = Interview.resume(get_settings(), session_id)  # the other one quit: the session is free
    fake_chat.enqueue(DATA_DRAFTS[0])
    assert resumed.next_turn().n == 1
