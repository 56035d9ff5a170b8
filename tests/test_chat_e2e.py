"""``prepbot chat`` in a real pseudo-terminal (pexpect), on the real embedded default model and the real store:
answer one question, see a score and a cited requirement, /quit, and find the turn in ``sessions show``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

pexpect = pytest.importorskip("pexpect")
ROOT = Path(__file__).resolve().parents[1]
ANSWER = [
    "I would land raw events in GCS, then run the transforms in BigQuery SQL orchestrated by Airflow,",
    "with one DAG per source, idempotent daily partitions and data quality checks before publishing tables.",
]


@pytest.mark.e2e
def test_e2e_chat_in_a_pty_answers_one_question_and_saves_the_turn(tmp_path):
    assert run_cli(["ingest", str(ROOT / "seeds")]).exit_code == 0
    # pexpect is no terminal emulator: it never answers cursor-position requests, which prompt_toolkit would
    # wait for (eating typed-ahead keys); real terminals answer them.
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "prepbot", "chat", "--role", "data engineer", "--mode", "screen", "-n", "1"],
        env=env,
        encoding="utf-8",
        timeout=300,
        dimensions=(40, 120),
        cwd=str(tmp_path),
    )
    log = tmp_path / "pty.log"
    child.logfile_read = log.open("w")
    try:
        child.expect("Mock interview: ")
        child.expect(r"Question 1/1")
        child.expect(r"tests (senior-data-engineer-\w+/[a-z_]+-\d+)")
        tested = child.match.group(1)
        child.expect("answer>")
        for line in ANSWER:
            child.send(line + "\r")  # Enter inside an answer starts a new line
        child.send("\r")  # Enter on the empty line sends it
        child.expect(r"Score: ([1-5])/5")
        score = int(child.match.group(1))
        child.expect("Requirements")
        child.expect(tested)
        child.expect(["answer>", "Interview over"])
        if child.after == "answer>":  # a follow-up was asked; leave it for another day
            child.send("/quit\r")
        child.expect(pexpect.EOF)
        status = child.wait()  # the pty closes before the interpreter has finished exiting
    finally:
        child.logfile_read.close()
        if child.isalive():
            child.close(force=True)
    assert status == 0, log.read_text()
    sessions = json.loads(run_cli(["sessions", "list", "--json"]).stdout)
    shown = json.loads(run_cli(["sessions", "show", sessions[0]["id"], "--json"]).stdout)
    turn = shown["turns"][0]
    assert turn["answer"] == "\n".join(ANSWER) and turn["score"] == score
    assert turn["citations"][0]["id"] == tested and turn["citations"][0]["quote"]
