"""LLM.generate on the scripted fake, real failure modes over loopback sockets, and end-to-end runs on the
real 0.5B model, in process and through `prepbot serve-model`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import openai
import pytest

from prepbot.config import get_settings, reset_settings_cache
from prepbot.errors import PrepbotError
from prepbot.llm import LLM, CompatibleBackend, OpenAIBackend, capabilities_for, choose_threads, get_llm
from prepbot.llm.backends.scripted import ScriptedBackend
from prepbot.llm.log import recent_calls
from prepbot.prompts import load_prompt
from prepbot.questions import QuestionDraft
from tests.helpers import run_cli

VARS = {
    "role": "Senior Data Engineer",
    "requirement": "3+ years building batch and streaming pipelines with Spark and Kafka",
    "section": "requirement",
    "language": "en",
    "kind": "technical",
    "difficulty": "medium",
}
DRAFT = {
    "text": "How would you make a Spark streaming job exactly-once?",
    "rubric": ["idempotent sinks", "checkpointing", "Kafka offsets"],
    "follow_ups": ["What breaks on replay?"],
    "why": "Probes streaming semantics.",
}
VALID = json.dumps(DRAFT)


def question_max_tokens() -> int:
    return load_prompt("question@v1").spec.max_tokens


def settings(**overrides):
    reset_settings_cache()
    return get_settings(**overrides)


def _request() -> httpx.Request:
    return httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")


# --- the fake ---------------------------------------------------------------------------------------------


def test_structured_output_is_parsed_streamed_and_logged(fake_llm, fake_chat):
    fake_chat.enqueue(VALID)
    pieces: list[str] = []
    generation = fake_llm.generate("question@v1", VARS, stream=pieces.append)
    assert generation.output == QuestionDraft(**DRAFT)
    assert "".join(pieces) == generation.text == VALID and len(pieces) > 5
    assert (generation.prompt, generation.backend, generation.model, generation.cached) == (
        "question@v1",
        "fake",
        "fake-model",
        False,
    )
    assert generation.prompt_tokens and generation.completion_tokens == len(pieces)
    call = fake_chat.calls[0]
    assert call["temperature"] == 0 and call["max_tokens"] == question_max_tokens()
    # OpenAI strict structured output: every field required, no extras, no length bounds (strict refuses them).
    schema = call["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["name"] == "QuestionDraft"
    assert schema["schema"]["additionalProperties"] is False and set(schema["schema"]["required"]) == set(DRAFT)
    assert "maxLength" not in json.dumps(schema) and "maxItems" in schema["schema"]["properties"]["rubric"]
    assert [m.type for m in call["messages"]] == ["system", "human"]
    [logged] = recent_calls(5)
    assert (logged.output, logged.error, logged.prompt) == (VALID, None, "question@v1")
    assert json.loads(generation.model_dump_json())["output"] == DRAFT


def test_fenced_json_is_accepted(fake_llm, fake_chat):
    fake_chat.enqueue(f"```json\n{VALID}\n```")
    assert fake_llm.generate("question@v1", VARS).output == QuestionDraft(**DRAFT)


def test_invalid_output_gets_one_repair(fake_llm, fake_chat):
    fake_chat.enqueue(json.dumps({**DRAFT, "rubric": ["only one"]}), VALID)
    generation = fake_llm.generate("question@v1", VARS)
    assert generation.output.rubric == DRAFT["rubric"]
    repair_messages = fake_chat.calls[1]["messages"]
    assert [m.type for m in repair_messages] == ["system", "human", "ai", "human"]
    assert "rubric: List should have at least 3 items" in repair_messages[-1].text
    success, failure = recent_calls(2)
    assert failure.error.startswith("invalid output, repairing: rubric") and failure.output.startswith('{"text"')
    assert success.error is None and success.cache_key == failure.cache_key
    # The repaired answer now answers the original request from the cache.
    assert fake_llm.generate("question@v1", VARS).cached


def test_output_still_invalid_after_the_repair_is_an_error_with_the_raw_text_logged(fake_llm, fake_chat):
    fake_chat.enqueue("Sure! Here is a question: why Spark?", '{"text": "why"}')
    with pytest.raises(
        PrepbotError, match=r"question@v1: invalid output after one repair: .*Field required.*prepbot logs"
    ):
        fake_llm.generate("question@v1", VARS)
    second, first = recent_calls(2)
    assert first.output == "Sure! Here is a question: why Spark?" and "Invalid JSON" in first.error
    assert second.output == '{"text": "why"}' and second.error.startswith("invalid output after one repair")
    fake_chat.enqueue(VALID)
    assert not fake_llm.generate("question@v1", VARS).cached  # failures are never served from the cache


def test_temperature_zero_calls_are_cached_unless_told_not_to(fake_llm, fake_chat):
    fake_chat.enqueue(VALID)
    first = fake_llm.generate("question@v1", VARS)
    pieces: list[str] = []
    hit = fake_llm.generate("question@v1", VARS, stream=pieces.append)
    assert hit.cached and hit.output == first.output and pieces == [VALID] and hit.cost_usd == 0
    assert recent_calls(1)[0].cached

    fake_chat.enqueue(VALID, VALID, VALID)
    assert not fake_llm.generate("question@v1", VARS, no_cache=True).cached
    assert not fake_llm.generate("question@v1", VARS, temperature=0.7).cached
    assert not fake_llm.generate("question@v1", {**VARS, "difficulty": "hard"}).cached  # other inputs, other key
    assert fake_chat.replies == []
    off = LLM(settings(cache=False), fake_llm.backend)
    fake_chat.enqueue(VALID)
    assert not off.generate("question@v1", VARS).cached


def test_top_logprobs_are_asked_for_kept_and_cached(fake_llm, fake_chat):
    head, second = VALID.split()[:2]
    fake_chat.alternatives = {head: {head: -0.2, "4": -1.9, " ": -4.0}}
    fake_chat.enqueue(VALID)
    first = fake_llm.generate("question@v1", VARS, top_logprobs=3)
    assert fake_chat.calls[-1]["logprobs"] is True and fake_chat.calls[-1]["top_logprobs"] == 3
    assert "".join(t.token for t in first.logprobs) == VALID and first.logprobs[1].token.strip() == second
    assert first.logprobs[0].top == {head: -0.2, "4": -1.9, " ": -4.0} and first.logprobs[0].logprob == -0.2
    assert first.logprobs[1].top == {} and first.logprobs[1].logprob is None
    hit = fake_llm.generate("question@v1", VARS, top_logprobs=3)
    assert hit.cached and hit.logprobs == first.logprobs
    fake_chat.enqueue(VALID)  # without logprobs it is another call: its cached reply would have none
    plain = fake_llm.generate("question@v1", VARS)
    assert not plain.cached and plain.logprobs is None and "logprobs" not in fake_chat.calls[-1]


def test_the_local_model_notes_the_likeliest_tokens_before_the_grammar_masks_them():
    import numpy as np

    from prepbot.llm.backends.local.chat_model import TopTokens

    class Vocab:
        def detokenize(self, ids):
            return {0: b"1", 1: b"2", 2: b"3", 3: b"x", 4: b"\xe4"}[ids[0]]

    recorder = TopTokens(Vocab(), 3)
    logits = np.array([0.0, 2.0, 1.0, -5.0, 1.5], dtype=np.float32)
    assert recorder(None, logits) is logits  # the logits pass through unchanged
    entry = recorder.entry("2")
    total = np.log(np.exp(logits.astype(np.float64)).sum())
    assert [t["token"] for t in entry["top_logprobs"]] == ["2", "\ufffd", "3"]
    assert entry["logprob"] == pytest.approx(2.0 - total)
    assert sum(np.exp(t["logprob"]) for t in entry["top_logprobs"]) < 1


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (openai.APITimeoutError(request=_request()), "timed out after 120 s"),
        (openai.APIConnectionError(request=_request()), "cannot reach the OpenAI API"),
        (
            openai.RateLimitError("slow down", response=httpx.Response(429, request=_request()), body=None),
            "rate limited, still after 3 retries",
        ),
        (
            openai.AuthenticationError("no", response=httpx.Response(401, request=_request()), body=None),
            "API key was refused",
        ),
        (
            openai.BadRequestError(
                "This model's maximum context length is 4096 tokens",
                response=httpx.Response(400, request=_request()),
                body=None,
            ),
            "exceeds the model's context",
        ),
        (
            openai.InternalServerError("boom", response=httpx.Response(500, request=_request()), body=None),
            "HTTP 500: boom",
        ),
        (ValueError("Requested tokens (5000) exceed context window of 4096"), "exceeds the model's context"),
        (RuntimeError("llama_decode returned -3"), "failed: RuntimeError: llama_decode returned -3"),
    ],
)
def test_backend_failures_are_one_line_errors_logged_and_not_cached(fake_llm, fake_chat, raised, message):
    fake_chat.enqueue(raised)
    with pytest.raises(PrepbotError, match=message) as failure:
        fake_llm.generate("question@v1", VARS)
    assert "\n" not in str(failure.value)
    assert message.split(":")[0] in recent_calls(1)[0].error
    fake_chat.enqueue(VALID)
    assert not fake_llm.generate("question@v1", VARS).cached


def test_a_slow_stream_times_out(fake_chat, monkeypatch):
    slow = LLM(settings(timeout_s=0.05), ScriptedBackend("fake", "fake-model", fake_chat, n_ctx=4096))
    fake_chat.enqueue(VALID)
    with pytest.raises(PrepbotError, match="timed out after 0.05 s"):
        slow.generate("question@v1", VARS, stream=lambda piece: time.sleep(0.02))


def test_ctrl_c_propagates_and_is_logged(fake_llm, fake_chat):
    fake_chat.enqueue(VALID)
    seen: list[str] = []

    def interrupt_after_three(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fake_llm.generate("question@v1", VARS, stream=interrupt_after_three)
    logged = recent_calls(1)[0]
    assert logged.error == "interrupted (Ctrl-C)" and logged.output == "".join(seen)


def test_a_reply_cut_off_at_max_tokens_is_reported_as_such(fake_llm, fake_chat):
    fake_chat.finish_reason = "length"
    fake_chat.enqueue(VALID[:40])
    with pytest.raises(PrepbotError, match=f"cut off at max_tokens={question_max_tokens()}"):
        fake_llm.generate("question@v1", VARS)


def test_the_prompt_is_budgeted_before_anything_is_sent(fake_chat):
    small = LLM(settings(), ScriptedBackend("fake", "fake-model", fake_chat, n_ctx=400))
    with pytest.raises(PrepbotError, match="question@v1 does not fit the model's context"):
        small.generate("question@v1", {**VARS, "requirement": "Spark " * 300})
    assert fake_chat.calls == []


def test_text_prompts_return_text(fake_llm, fake_chat, tmp_path, monkeypatch):
    (tmp_path / "echo.v1.md").write_text(
        textwrap.dedent("""\
        ---
        name: echo
        version: 1
        description: Plain text.
        inputs: {word: a word}
        output: text
        temperature: 0.5
        ---
        ---user---
        Say {{ word }}.
    """)
    )
    monkeypatch.setenv("PREPBOT_PROMPTS_DIR", str(tmp_path))
    fake_llm.settings = settings()
    fake_chat.enqueue("Hello there")
    generation = fake_llm.generate("echo", {"word": "hello"}, max_tokens=7)
    assert generation.output == "Hello there"
    assert "response_format" not in fake_chat.calls[0] and fake_chat.calls[0]["max_tokens"] == 7
    assert [m.type for m in fake_chat.calls[0]["messages"]] == ["human"]


def test_get_llm_uses_the_fake_everywhere_in_the_fixture(fake_llm, fake_chat):
    fake_chat.enqueue(VALID)
    assert get_llm().generate("question@v1", VARS).backend == "fake"


def test_capabilities_are_known_from_the_settings_without_building_a_backend(monkeypatch):
    from prepbot.config import Settings

    def never(*args, **kwargs):
        raise AssertionError("capabilities_for built a backend")

    monkeypatch.setattr("prepbot.llm.backends.local.backend.local_backend", never)
    local = capabilities_for(Settings(backend="local", model="no-such-model"))
    assert (local.structured_output, local.prewarm, local.max_concurrency) == ("grammar", True, 1)
    server = capabilities_for(Settings(backend="openai-compatible"))  # no base_url: building it would fail
    assert (server.structured_output, server.prewarm, server.max_concurrency) == ("tool_call", False, 4)
    assert capabilities_for(Settings(backend="openai")).structured_output == "json_schema"
    assert all(c.stream and c.logprobs for c in (local, server))
    # a server's slots are the deployment's to say (vLLM takes many, serve-model one at a time)
    assert capabilities_for(Settings(backend="openai-compatible", server_slots=16)).max_concurrency == 16
    assert capabilities_for(Settings(backend="local", server_slots=16)).max_concurrency == 1


def test_the_scripted_backend_is_chosen_by_the_settings(fake_llm, fake_chat):
    from prepbot.config import Settings

    assert get_settings().backend == "scripted" and get_llm().backend is fake_llm.backend
    assert fake_llm.capabilities == capabilities_for(Settings(backend="scripted"))
    assert fake_llm.capabilities.max_concurrency == 1 and not fake_llm.capabilities.prewarm
    assert fake_llm.prewarm("question@v1", VARS, "Spark") is None  # its capabilities say it cannot


def test_the_scripted_backend_needs_a_script():
    with pytest.raises(PrepbotError, match="the scripted backend answers only in tests"):
        get_llm(settings(backend="scripted"))


def test_a_registered_backend_is_built_from_the_settings(monkeypatch, fake_chat):
    from prepbot.llm import register_backend
    from prepbot.llm.registry import backend_class

    class Custom(ScriptedBackend):
        @classmethod
        def from_settings(cls, settings):
            return cls("custom", settings.model, fake_chat, settings.n_ctx)

    monkeypatch.setattr("prepbot.llm.registry._BACKENDS", {})
    register_backend("scripted", Custom)
    fake_chat.enqueue(VALID)
    assert get_llm(settings(backend="scripted")).generate("question@v1", VARS).backend == "custom"
    with pytest.raises(PrepbotError, match=r"unknown backend 'nope' \(known: scripted\)"):
        backend_class("nope")


# --- the OpenAI wire format, replayed (no network) ---------------------------------------------------------


def _sse(chunks: list[dict]) -> httpx.Response:
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def _chunk(delta: dict, finish_reason: str | None = None) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _replaying(backend_class, model: str, reply_chunks: list[dict], requests: list[dict]):
    from langchain_openai import ChatOpenAI

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return _sse(reply_chunks)

    chat = ChatOpenAI(
        model=model,
        api_key="k",
        base_url="http://replay/v1",
        max_retries=0,
        stream_usage=True,
        http_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    return LLM(settings(), backend_class(backend_class.__name__, model, chat, n_ctx=4096))


def test_openai_gets_strict_structured_output_and_streams_content():
    pieces = [VALID[i : i + 7] for i in range(0, len(VALID), 7)]
    usage = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 250, "completion_tokens": 60, "total_tokens": 310},
    }
    requests: list[dict] = []
    llm = _replaying(
        OpenAIBackend,
        "gpt-4o-mini",
        [
            _chunk({"role": "assistant", "content": ""}),
            *(_chunk({"content": p}) for p in pieces),
            _chunk({}, "stop"),
            usage,
        ],
        requests,
    )
    streamed: list[str] = []
    generation = llm.generate("question@v1", VARS, stream=streamed.append)
    assert generation.output == QuestionDraft(**DRAFT) and streamed == pieces
    assert (generation.prompt_tokens, generation.completion_tokens) == (250, 60)
    assert generation.cost_usd == pytest.approx((250 * 0.15 + 60 * 0.60) / 1e6)
    [sent] = requests
    assert (
        sent["stream"] is True and sent["max_completion_tokens"] == question_max_tokens() and sent["temperature"] == 0
    )
    assert sent["response_format"]["type"] == "json_schema" and sent["response_format"]["json_schema"]["strict"]


def test_compatible_servers_get_a_forced_function_call_and_max_tokens_in_the_body():
    args = [VALID[i : i + 9] for i in range(0, len(VALID), 9)]
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "QuestionDraft", "arguments": ""}}
    reply = [
        _chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
        *(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in args),
        _chunk({}, "tool_calls"),
    ]
    requests: list[dict] = []
    llm = _replaying(CompatibleBackend, "fast", reply, requests)
    streamed: list[str] = []
    generation = llm.generate("question@v1", VARS, stream=streamed.append)
    assert generation.output == QuestionDraft(**DRAFT) and streamed == args
    assert generation.completion_tokens == len(args) and generation.cost_usd is None  # no usage: counted
    [sent] = requests
    assert sent["max_tokens"] == question_max_tokens() and "max_completion_tokens" not in sent
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "QuestionDraft"}}
    why_limit = QuestionDraft.model_json_schema()["properties"]["why"]["maxLength"]
    assert sent["tools"][0]["function"]["parameters"]["properties"]["why"]["maxLength"] == why_limit
    assert "response_format" not in sent


# --- configuration and real sockets ---------------------------------------------------------------------


def test_backend_configuration_errors():
    with pytest.raises(PrepbotError, match="openai-compatible backend needs base_url"):
        get_llm(settings(backend="openai-compatible"))
    os.environ.pop("OPENAI_API_KEY", None)
    with pytest.raises(PrepbotError, match="needs an API key"):
        get_llm(settings(backend="openai", model="gpt-4o-mini"))


def test_threads_come_from_settings_or_the_idle_cores(monkeypatch):
    assert choose_threads(settings(threads=3)) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    for busy, threads in [(1.2, 1), (0.1, 2), (7.0, 1)]:
        monkeypatch.setattr("prepbot.llm.backends.local.threads.busy_cores", lambda cores, busy=busy: busy)
        assert choose_threads(settings()) == threads


def test_the_local_model_loads_in_the_background_with_threads_chosen_while_the_cores_are_idle(monkeypatch):
    from prepbot.llm import load_in_background

    calls = []
    monkeypatch.setattr("prepbot.llm.backends.local.backend.choose_threads", lambda settings: 2)
    monkeypatch.setattr(
        "prepbot.llm.backends.local.backend.local_backend",
        lambda settings, threads=None: calls.append((threading.current_thread().name, threads)),
    )
    loading = load_in_background(settings())
    loading.join(5)
    assert calls == [("prepbot-load-model", 2)]
    monkeypatch.setattr("prepbot.llm.backends.local.backend.local_backend", lambda settings, threads=None: 1 / 0)
    load_in_background(settings()).join(5)  # a failure stays in the thread: the caller's get_llm reports it
    assert load_in_background(settings(backend="openai")) is None  # nothing to load


def test_busy_cores_reads_proc_stat_not_the_load_average(monkeypatch, tmp_path):
    from prepbot import llm

    # user nice system idle iowait irq softirq steal: 100 ticks pass, 50 of them idle -> 1 of 2 cores busy
    samples = iter(["cpu 100 0 0 100 0 0 0 0\n", "cpu 150 0 0 150 0 0 0 0\n"])
    real_open = open
    monkeypatch.setattr(
        "builtins.open",
        lambda path, *a, **k: (
            __import__("io").StringIO(next(samples)) if path == "/proc/stat" else real_open(path, *a, **k)
        ),
    )
    monkeypatch.setattr(os, "getloadavg", lambda: (7.0, 7.0, 7.0))
    assert llm.busy_cores(2, window_s=0) == pytest.approx(1.0)


def test_a_damaged_gguf_file_is_a_one_line_error(tmp_path):
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\x03\0\0\0" + b"\0" * 1000)
    with pytest.raises(PrepbotError, match="cannot load model .*damaged.gguf.*damaged or unsupported GGUF"):
        get_llm(settings(model=str(damaged)))


def test_serve_model_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli(["serve-model", "--model", "fast", "--port", str(busy.getsockname()[1])])
    assert result.exit_code == 1
    assert "cannot listen on 127.0.0.1" in result.stderr and "pick another --port" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_is_a_one_line_error():
    port = _free_port()  # nothing listens there
    compatible = get_llm(
        settings(backend="openai-compatible", base_url=f"http://127.0.0.1:{port}/v1", model="fast", max_retries=0)
    )
    with pytest.raises(PrepbotError, match=rf"cannot reach http://127.0.0.1:{port}/v1"):
        compatible.generate("question@v1", VARS)
    assert "cannot reach" in recent_calls(1)[0].error


def test_a_server_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    port = listener.getsockname()[1]
    try:
        silent = get_llm(
            settings(
                backend="openai-compatible",
                base_url=f"http://127.0.0.1:{port}/v1",
                model="fast",
                max_retries=0,
                timeout_s=0.5,
            )
        )
        started = time.monotonic()
        with pytest.raises(PrepbotError, match="timed out after 0.5 s"):
            silent.generate("question@v1", VARS)
        assert time.monotonic() - started < 5
    finally:
        for sock in [*accepted, listener]:
            sock.close()


# --- end to end on the real 0.5B model ----------------------------------------------------------------------


def _check_draft(generation, pieces: list[str]) -> None:
    assert isinstance(generation.output, QuestionDraft)
    assert generation.output.text.strip() and generation.output.why.strip()
    assert 3 <= len(generation.output.rubric) <= 5 and 1 <= len(generation.output.follow_ups) <= 2
    assert "".join(pieces) == generation.text
    assert generation.prompt_tokens > 100 and generation.completion_tokens > 10


@pytest.mark.e2e
def test_e2e_local_fast_model_streams_a_schema_valid_question():
    fast = get_llm(settings(model="fast"))
    pieces: list[str] = []
    generation = fast.generate("question@v1", VARS, stream=pieces.append, no_cache=True)
    _check_draft(generation, pieces)
    assert len(pieces) == generation.completion_tokens  # one streamed piece per sampled token
    assert (generation.backend, generation.model, generation.cost_usd) == ("local", "fast", 0.0)
    # The counted prompt is exactly what llama.cpp evaluated: the budget uses the model's own tokenizer.
    assert generation.prompt_tokens == fast.backend.count_messages(load_prompt("question@v1").render(VARS))
    assert get_llm(settings(model="fast")).backend is fast.backend  # one Llama per process


@pytest.mark.e2e
def test_e2e_ctrl_c_stops_generation_and_the_model_still_works():
    fast = get_llm(settings(model="fast"))
    seen: list[str] = []

    def interrupt(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fast.generate("question@v1", {**VARS, "difficulty": "hard"}, stream=interrupt, no_cache=True)
    assert len(seen) == 5 and recent_calls(1)[0].error == "interrupted (Ctrl-C)"
    pieces: list[str] = []
    _check_draft(fast.generate("question@v1", {**VARS, "difficulty": "hard"}, stream=pieces.append), pieces)


@pytest.mark.e2e
def test_e2e_local_model_reports_the_probabilities_of_the_score_it_writes():
    from prepbot.grading import expected_score, yes_probability

    fast = get_llm(settings(model="fast"))
    variables = {
        "requirement": "3+ years of Apache Kafka in production",
        "question": "How do you size partitions?",
        "rubric": [],
        "answer": "I count peak messages per second and divide by what one consumer handles.",
        "check": "",
    }
    scored = fast.generate("grade", variables, top_logprobs=10, no_cache=True)
    assert scored.completion_tokens == 1 and scored.text.strip() in {"1", "2", "3", "4", "5"}  # one token: the digit
    (digit,) = scored.logprobs
    assert digit.token.strip() == scored.text.strip() and digit.logprob is not None and digit.logprob <= 0
    assert 1 <= expected_score(scored) <= 5
    assert fast.generate("grade", variables, top_logprobs=10).logprobs == scored.logprobs  # cached with them
    checked = fast.generate("grade", {**variables, "check": "how"}, top_logprobs=10, no_cache=True)
    assert 0.0 <= yes_probability(checked) <= 1.0 and checked.completion_tokens == 1


@pytest.fixture(scope="module")
def served_fast(tmp_path_factory):
    """`prepbot serve-model --model fast` on a free loopback port, ready, and stopped afterwards."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "prepbot", "serve-model", "--model", "fast", "--port", str(port), "--threads", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve-model exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve-model not ready in 90 s: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.e2e
@pytest.mark.server
def test_e2e_serve_model_through_the_openai_compatible_backend(served_fast):
    models = httpx.get(f"{served_fast}/models").json()
    assert [m["id"] for m in models["data"]] == ["fast"]
    remote = get_llm(settings(backend="openai-compatible", base_url=served_fast, model="fast", max_retries=0))
    pieces: list[str] = []
    generation = remote.generate("question@v1", VARS, stream=pieces.append, no_cache=True)
    _check_draft(generation, pieces)
    assert len(pieces) > 5  # streamed, not one block
    assert (generation.backend, generation.model, generation.cost_usd) == ("openai-compatible", "fast", None)
    # max_tokens reaches the server (sent in the body: it ignores max_completion_tokens).
    with pytest.raises(PrepbotError, match="cut off at max_tokens=8"):
        remote.generate("question@v1", VARS, max_tokens=8, no_cache=True)
    # the token probabilities the grader reads come back from the server too
    scored = remote.generate("question@v1", VARS, top_logprobs=5, no_cache=True)
    assert scored.logprobs and all(len(token.top) >= 2 for token in scored.logprobs[:5])


@pytest.mark.e2e
@pytest.mark.server
def test_e2e_users_sharing_the_model_server_each_get_their_whole_reply(served_fast):
    """Requests queue for the one model: a reply is never cut short because another user's request waits
    (llama-cpp-python's server does that by default)."""
    from concurrent.futures import ThreadPoolExecutor

    remote = get_llm(settings(backend="openai-compatible", base_url=served_fast, model="fast", max_retries=0))

    def one_user(_: int):
        pieces: list[str] = []
        return remote.generate("question@v1", VARS, stream=pieces.append, no_cache=True), pieces

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one_user, range(3)))
    for generation, pieces in results:
        _check_draft(generation, pieces)  # the streamed text is the whole reply: not cut, not repaired


@pytest.mark.e2e
def test_e2e_a_new_process_loads_the_system_prompts_state_instead_of_reading_it(tmp_path):
    import gc

    from prepbot.llm import LlamaChatModel, LocalBackend, load_llama
    from prepbot.llm.backends.local.models import resolve_model
    from prepbot.llm.backends.local.prefixes import PrefixStore

    path = resolve_model("fast", settings())
    store = PrefixStore(tmp_path, path, 2048)

    def new_process_llm() -> LLM:  # what a new process has: a freshly loaded model, nothing evaluated yet
        llama, formatter = load_llama(path, n_ctx=2048, threads=2)
        model = LlamaChatModel(llama=llama, formatter=formatter, prefixes=store)
        return LLM(settings(model="fast"), LocalBackend("local", "fast", model, 2048))

    first = new_process_llm()
    written = first.generate("question@v1", VARS, no_cache=True).text
    states = list(tmp_path.glob("*.state"))
    assert len(states) == 1 and states[0].stat().st_size > 1_000_000  # saved after the system prompt
    del first
    gc.collect()

    second = new_process_llm()
    model = second.backend.chat_model
    fixed = model.fixed_prefix(load_prompt("question@v1").render(VARS))
    assert len(fixed) > 200 and store.prime(model.llama, fixed) == "loaded" and model.llama.n_tokens == len(fixed)
    assert second.generate("question@v1", VARS, no_cache=True).text == written  # the same state, the same reply
    del second
    gc.collect()

    states[0].write_bytes(b"not a llama state")  # damaged: deleted, the prefix read again, the reply the same
    third = new_process_llm()
    assert third.generate("question@v1", VARS, no_cache=True).text == written
    assert states[0].exists() and states[0].stat().st_size > 1_000_000


def test_a_raw_newline_inside_a_json_string_is_still_the_models_answer(fake_llm, fake_chat):
    raw = json.dumps({**DRAFT, "why": "line one\tLINE_BREAK"}).replace("\\t", "\t").replace("LINE_BREAK", "\nline two")
    assert "\n" in raw  # a raw control character inside a string: invalid strict JSON
    fake_chat.enqueue(raw)
    generation = fake_llm.generate("question@v1", VARS)
    assert generation.output.why == "line one\t\nline two" and len(fake_chat.calls) == 1  # no repair needed


def test_prewarm_evaluates_the_prompt_up_to_the_mark_reusing_what_is_cached():
    import numpy as np

    from prepbot.llm import LlamaChatModel
    from prepbot.prompts import ChatMessage

    class Formatted:
        def __init__(self, prompt):
            self.prompt, self.added_special = prompt, True

    class FakeLlama:
        def __init__(self):
            self.input_ids, self.n_tokens, self.evaluated = np.zeros(4096, dtype=np.intc), 0, []

        @property
        def _input_ids(self):
            return self.input_ids[: self.n_tokens]

        def tokenize(self, data, add_bos, special):
            return list(data)

        def eval(self, tokens):
            self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
            self.n_tokens += len(tokens)
            self.evaluated.append(len(tokens))

    llama = FakeLlama()
    model = LlamaChatModel(llama=llama, formatter=lambda messages: Formatted("".join(m["content"] for m in messages)))
    system = "S" * 150
    handle = model.prewarm(
        [ChatMessage(role="system", content=system), ChatMessage(role="user", content="Q<A>")], "<A>"
    )
    handle.thread.join(5)
    assert llama.n_tokens == len(system) and sum(llama.evaluated) == len(system) and max(llama.evaluated) <= 64
    # A second prewarm sharing the system part evaluates only what differs.
    handle = model.prewarm(
        [ChatMessage(role="system", content=system), ChatMessage(role="user", content="QQ<A>")], "<A>"
    )
    handle.thread.join(5)
    assert handle.evaluated == 1 and llama.n_tokens == len(system) + 1
    assert model.prewarm([ChatMessage(role="user", content="no mark")], "<A>") is None
