"""Offline tiktoken and fitting prompts into the context window."""

from __future__ import annotations

import textwrap

import pytest

from prepbot.config import get_settings, reset_settings_cache
from prepbot.errors import PrepbotError
from prepbot.llm import tokens
from prepbot.llm.tokens import count_message_tokens, count_tokens, fit_prompt, install_offline_tiktoken
from prepbot.prompts import ChatMessage, load_prompt

PROMPT = """\
---
name: ctx
version: 1
description: Trimming test.
inputs:
  question: the question
  first: a list
  second: another list
trimmable: [first, second]
output: text
---
Fixed system text.
---user---
{{ question }}
{% for x in first %}F{{ x }} {% endfor %}
{% for x in second %}S{{ x }} {% endfor %}
"""


def words(messages: list[ChatMessage]) -> int:
    """A predictable counter: one token per word."""
    return sum(len(m.content.split()) for m in messages)


@pytest.fixture
def ctx_prompt(tmp_path, monkeypatch):
    (tmp_path / "ctx.v1.md").write_text(textwrap.dedent(PROMPT))
    monkeypatch.setenv("PREPBOT_PROMPTS_DIR", str(tmp_path))
    reset_settings_cache()
    return load_prompt("ctx", get_settings())


def test_cl100k_works_offline_from_the_bundled_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    cache_dir = install_offline_tiktoken()
    assert (cache_dir / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").stat().st_size == 1_681_126
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special-token text in user data is plain text, not an error
    assert count_tokens("面試準備") > 0


def test_message_count_adds_the_chat_overhead():
    messages = [ChatMessage(role="system", content="hello world"), ChatMessage(role="user", content="hi")]
    assert count_message_tokens(messages) == 2 + 1 + 2 * tokens.TOKENS_PER_MESSAGE + tokens.TOKENS_PER_REPLY


def test_a_prompt_that_fits_is_untouched(ctx_prompt):
    fitted = fit_prompt(
        ctx_prompt, {"question": "q", "first": [1, 2], "second": [3]}, n_ctx=100, max_tokens=10, count=words
    )
    assert fitted.dropped == {} and fitted.variables["first"] == [1, 2]
    assert fitted.prompt_tokens == words(fitted.messages)


def test_the_last_trimmable_list_loses_items_from_its_end_first(ctx_prompt):
    variables = {"question": "q", "first": list(range(10)), "second": list(range(10))}
    # Fixed part: "Fixed system text." (3) + "q" (1) = 4 words; each item is one word.
    fitted = fit_prompt(ctx_prompt, variables, n_ctx=30, max_tokens=10, count=words)
    assert fitted.prompt_tokens <= 20
    assert fitted.variables["first"] == list(range(10))
    assert fitted.variables["second"] == list(range(6))  # the largest prefix that fits
    assert fitted.dropped == {"second": 4}
    assert variables["second"] == list(range(10))  # the caller's data is not modified

    fitted = fit_prompt(ctx_prompt, variables, n_ctx=20, max_tokens=10, count=words)
    assert fitted.variables["second"] == [] and fitted.variables["first"] == list(range(6))
    assert fitted.dropped == {"first": 4, "second": 10}


def test_a_prompt_that_cannot_fit_even_without_context_is_an_error(ctx_prompt):
    variables = {"question": "a very long question " * 10, "first": [1], "second": [2]}
    with pytest.raises(
        PrepbotError, match=r"ctx@v1 does not fit.*43 tokens.*10 available \(20 n_ctx - 10 max_tokens\)"
    ):
        fit_prompt(ctx_prompt, variables, n_ctx=20, max_tokens=10, count=words)
