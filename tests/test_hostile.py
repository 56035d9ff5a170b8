"""Every file of the hostile corpus (tests/hostile.py) through ingest, postings show, search, questions and
grade: a clear exit code, at most one line of error and never a traceback, under 10 s and 1 GB each, the
other files of the same command still indexed, and no control character reaching the terminal.

Ingest runs as a real `prepbot` process per file (time and peak memory are that process's own, the embedder
load included); the other commands run in process on the scripted backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prepbot.config import get_settings
from prepbot.retrieval.index import RequirementIndex
from tests.helpers import run_cli
from tests.hostile import POSTING_EN, HostileFile, write_corpus

MAX_SECONDS = 10.0
MAX_RSS_MB = 1024
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e")  # what must never reach the terminal


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[HostileFile]]:
    folder = tmp_path_factory.mktemp("hostile")
    return folder, write_corpus(folder)


# Runs prepbot and, at exit, writes the process's own peak resident memory (VmHWM, which starts afresh at
# exec, unlike ru_maxrss, which Linux carries over from the parent) on stderr's last line.
LAUNCH = """
import atexit, sys
def peak():
    try:
        kb = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    except (OSError, IndexError):
        kb = "0"
    sys.stderr.write(f"\\npeak-kb {kb}\\n")
atexit.register(peak)
sys.argv = ["prepbot", *sys.argv[1:]]
from prepbot.cli import main
main()
"""


def prepbot(args: list[str], home: Path) -> tuple[int, str, str, float, float]:
    """(exit code, stdout, stderr, seconds, peak MB) of one `prepbot` process."""
    env = {**os.environ, "PREPBOT_HOME": str(home), "COLUMNS": "120"}
    env.pop("PREPBOT_BACKEND", None)
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", LAUNCH, *args], capture_output=True, env=env, timeout=120, check=False
    )
    seconds = time.monotonic() - started
    stderr = child.stderr.decode(errors="replace").rstrip()
    stderr, _, peak = stderr.rpartition("peak-kb ")
    return child.returncode, child.stdout.decode(errors="replace"), stderr, seconds, int(peak or 0) / 1024


def one_line_errors(stderr: str) -> list[str]:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in stderr, stderr[-2000:]
    return errors


@pytest.mark.e2e
def test_every_hostile_file_alone_in_its_own_ingest(corpus, tmp_path):
    folder, files = corpus
    rows = []
    for file in files:
        code, stdout, stderr, seconds, peak_mb = prepbot(
            ["ingest", "--json", str(folder / file.name)], tmp_path / file.name
        )
        report = json.loads(stdout) if stdout.strip().startswith("{") else {"postings": [], "errors": []}
        indexed = [p for p in report["postings"] if p["outcome"] == "added"]
        rows.append((file.name, code, len(indexed), round(seconds, 1), round(peak_mb)))
        errors = one_line_errors(stderr)
        assert not any(ch in stdout + stderr for ch in UNSAFE), file.name
        assert seconds < MAX_SECONDS and peak_mb < MAX_RSS_MB, (file.name, seconds, peak_mb)
        if file.expect == "refused":
            assert code == 1 and not indexed and len(report["errors"]) == 1, (file.name, code, stderr)
            assert "\n" not in report["errors"][0]["message"]
        elif file.expect == "indexed":
            assert code == 0 and indexed and not errors, (file.name, code, stderr)
        else:
            assert code in (0, 1) and (indexed or report["errors"]), (file.name, code, stderr)
    print("\n".join(f"{name:28} exit {code}  {n} posting(s)  {s:5.1f} s  {mb:5} MB" for name, code, n, s, mb in rows))


def test_all_hostile_files_in_one_ingest_the_good_ones_still_indexed(corpus, fake_llm, fake_chat, monkeypatch):
    folder, files = corpus
    result = run_cli(["ingest", "--json", str(folder)])
    report = json.loads(result.stdout)
    assert result.exit_code == 1  # some files failed, and the exit code says so
    failed = {Path(e["file"]).name for e in report["errors"]}
    refused = {f.name for f in files if f.expect == "refused"}
    must_index = {f.name for f in files if f.expect == "indexed"}
    assert refused <= failed and not failed & must_index, (failed, refused)
    sources = {Path(p["source"].split("#")[0]).name for p in report["postings"]}
    assert must_index <= sources
    assert all("\n" not in e["message"] for e in report["errors"])
    shown = run_cli(["ingest", str(folder)])  # again, for people: nothing changes, failures named on stderr
    assert shown.exit_code == 1 and "file(s) failed:" in shown.stderr
    assert not any(ch in shown.stdout + shown.stderr for ch in UNSAFE)

    # Every posting that was indexed: shown, searched with its own hostile text, asked about and graded.
    index = RequirementIndex(get_settings())
    listed = run_cli(["postings", "list"])
    assert listed.exit_code == 0 and not any(ch in listed.stdout for ch in UNSAFE)
    for summary in index.list_postings():
        started = time.monotonic()
        shown = run_cli(["postings", "show", summary.id])
        assert shown.exit_code == 0 and not any(ch in shown.stdout for ch in UNSAFE), summary.id
        posting = index.get_posting(summary.id)
        assert posting is not None
        query = (posting.requirements[0].text if posting.requirements else summary.title)[:500]
        found = run_cli(["search", query, "--posting", summary.id, "--json"])
        assert found.exit_code == 0, (summary.id, found.stderr)
        assert time.monotonic() - started < MAX_SECONDS, summary.id


@pytest.mark.parametrize(
    "name", ["empty.md", "binary.md", "huge.md", "nul.txt", "escapes.jsonl", "template-tokens.md", "big5.txt"]
)
def test_hostile_files_as_answers_to_grade(corpus, name, fake_llm, fake_chat):
    from tests.test_grading import grade_reply

    folder, files = corpus
    posting = folder.parent / "posting.md"
    posting.write_text(POSTING_EN, encoding="utf-8")
    assert run_cli(["ingest", str(posting)]).exit_code == 0
    (summary,) = RequirementIndex(get_settings()).list_postings()
    expect = next(f.expect for f in files if f.name == name)
    fake_chat.enqueue(*grade_reply(2))
    args = ["grade", "--posting", summary.id, "--question", "How do you keep refunds idempotent?"]
    result = run_cli([*args, "--answer-file", str(folder / name), "--json"])
    assert "Traceback" not in result.stderr
    if expect == "refused":
        assert result.exit_code != 0 and len(one_line_errors(result.stderr)) == 1, result.stderr
        return
    assert result.exit_code == 0, result.stderr
    graded = json.loads(result.stdout)
    assert 1 <= graded["score"] <= 5
    sent = "\n".join(str(m.content) for call in fake_chat.calls for m in call["messages"])
    assert "<|im_start|>" not in sent and "<|im_end|>" not in sent  # template tokens reach the model as text
    assert not any(ch in sent for ch in UNSAFE)
