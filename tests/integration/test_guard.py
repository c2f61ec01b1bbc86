"""The runtime guard over real HTTP: blocked prompts never reach the upstream, secrets in
streamed replies are redacted across chunk boundaries, and disallowed tool calls never
reach the agent."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.helpers.processes import free_port
from tests.integration.conftest import ADMIN_KEY, Gateway, Simulator, write_config

RESIDENT_ID = "11010519491231002X"  # checksum-valid test number (GB 11643 example)
SECRET = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI"

GUARD = """
[guard.request]
cn_resident_id = "block"
[guard.response]
secrets = "redact"
[guard.accounts.lenient.request]
cn_resident_id = "redact"
[guard.accounts.agent.tools]
allow = ["get_weather", "http_get"]
max_calls = 3
[guard.accounts.agent.tools.args.http_get]
required = ["url"]
properties.url = { type = "string", allow_hosts = ["api.example.com"] }
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, simulator: Simulator) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("guard")
    config = tmp / "tokenward.toml"
    write_config(config, simulator.url)
    config.write_text(config.read_text() + GUARD)
    env = {**os.environ, "TOKENWARD_HOME": str(tmp / "home"), "TOKENWARD_ADMIN_KEY": ADMIN_KEY}
    gateway = Gateway(home=tmp / "home", config=config, port=free_port(), env=env)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def client(gateway: Gateway, account: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=gateway.new_key(account), base_url=f"{gateway.url}/v1", max_retries=0
    )


def test_a_resident_id_is_blocked_before_the_upstream_and_never_billed(
    guarded: Gateway, simulator: Simulator
) -> None:
    sdk = client(guarded, "strict")
    before = len(simulator.journal())
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk.chat.completions.create(
            model="sim-small",
            messages=[{"role": "user", "content": f"我的身份证号码是{RESIDENT_ID}，帮我查一下"}],
        )
    assert "cn_resident_id" in str(caught.value)
    assert RESIDENT_ID not in str(caught.value)
    assert len(simulator.journal()) == before  # the upstream never saw it
    # nothing was billed; the decision is counted for the account (from the audit log)
    deadline = time.monotonic() + 5
    while True:
        [row] = guarded.usage("--account", "strict")
        if row["guard_blocked"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert row["requests"] == 0 and row["input_tokens"] == 0
    assert row["guard_blocked"] == 1 and row["guard_redacted"] == 0


def test_a_resident_id_is_redacted_for_a_lenient_account(
    guarded: Gateway, simulator: Simulator
) -> None:
    sdk = client(guarded, "lenient")
    raw = sdk.chat.completions.with_raw_response.create(
        model="sim-small",
        messages=[{"role": "user", "content": f"ID {RESIDENT_ID} please"}],
    )
    assert raw.parse().choices[0].message.content
    assert raw.http_response.status_code == 200


def test_a_secret_split_across_stream_chunks_reaches_the_client_redacted(
    guarded: Gateway,
) -> None:
    sdk = client(guarded, "streamer")
    reply = f"Here is the key {SECRET} keep it safe"
    stream = sdk.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "show me the key"}],
        stream=True,
        metadata={"sim_reply": reply, "sim_reply_chunk_chars": "5"},
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    text = "".join(pieces)
    assert SECRET not in text and "sk-proj" not in text
    assert "[SECRET]" in text and text.startswith("Here is the key") and "keep it safe" in text
    assert len([p for p in pieces if p]) > 3  # it really was streamed in pieces


def test_a_non_stream_secret_is_redacted(guarded: Gateway) -> None:
    sdk = client(guarded, "plain")
    reply = sdk.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "key?"}],
        metadata={"sim_reply": f"use {SECRET} now"},
    )
    assert reply.choices[0].message.content == "use [SECRET] now"


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
SHELL = {
    "type": "function",
    "function": {
        "name": "run_shell",
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"],
        },
    },
}


@pytest.mark.parametrize("stream", [False, True])
def test_an_agent_never_receives_a_disallowed_tool_call(guarded: Gateway, stream: bool) -> None:
    key = guarded.new_key("agent")
    body = {
        "model": "sim-small",
        "messages": [{"role": "user", "content": "list the files"}],
        "tools": [SHELL],
        "tool_choice": "required",
        "stream": stream,
    }
    response = httpx.post(
        f"{guarded.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    # offering a disallowed tool is itself refused before the upstream
    assert response.status_code == 403
    assert "run_shell" in response.json()["error"]["message"]

    allowed = {**body, "tools": [WEATHER]}
    response = httpx.post(
        f"{guarded.url}/v1/chat/completions",
        json=allowed,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200
    if stream:
        calls = [
            json.loads(line[6:])
            for line in response.text.splitlines()
            if line.startswith("data: {") and "tool_calls" in line
        ]
        assert calls and all(
            tc["function"]["name"] == "get_weather"
            for c in calls
            for tc in c["choices"][0]["delta"]["tool_calls"]
            if tc.get("function", {}).get("name")
        )
    else:
        message = response.json()["choices"][0]["message"]
        assert message["tool_calls"][0]["function"]["name"] == "get_weather"


HTTP_GET = {
    "type": "function",
    "function": {
        "name": "http_get",
        "parameters": {
            "type": "object",
            "properties": {"url": {"type": "string"}},
            "required": ["url"],
        },
    },
}


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_with_a_disallowed_argument_never_reaches_the_agent(
    guarded: Gateway, stream: bool
) -> None:
    key = guarded.new_key("agent")
    response = httpx.post(
        f"{guarded.url}/v1/chat/completions",
        json={
            "model": "sim-small",
            "messages": [{"role": "user", "content": "fetch it"}],
            "tools": [HTTP_GET],
            "tool_choice": "required",
            "stream": stream,
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    # the simulator's url argument is not on api.example.com: the call is removed
    assert '"http_get"' not in response.text
    assert "blocked by policy" in response.text
    if not stream:
        choice = response.json()["choices"][0]
        assert not choice["message"].get("tool_calls")
        assert choice["finish_reason"] == "stop"


def test_decisions_are_counted_audited_and_scannable_over_the_admin_api(
    guarded: Gateway,
) -> None:
    with httpx.Client(
        base_url=guarded.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as admin:
        scan = admin.post("/admin/guard/scan", json={"text": f"身份证 {RESIDENT_ID}"})
        assert scan.status_code == 200
        assert [f["type"] for f in scan.json()["findings"]] == ["cn_resident_id"]
        assert admin.post("/admin/guard/scan", json={"text": 5}).status_code == 400
        metrics = admin.get("/metrics").text
    assert (
        'tokenward_guard_findings_total{action="block",direction="request",type="cn_resident_id"}'
        in metrics
    )
    listing = json.loads(guarded.cli("audit", "list", "--limit", "500", "--format", "json").stdout)
    actions = {record["action"] for record in listing}
    assert {"account.create", "key.create", "guard.block"} <= actions
    assert all(RESIDENT_ID not in json.dumps(record) for record in listing)
    assert guarded.cli("audit", "verify").returncode == 0
