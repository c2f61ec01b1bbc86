"""Client requests are validated before anything is reserved or sent upstream."""

from __future__ import annotations

import pytest

from tokenward.errors import InvalidRequest
from tokenward.providers.dialects import (
    ChatRequest,
    parse_chat_request,
    parse_embeddings_request,
)

LIMITS = {"max_output_tokens": 1000, "max_choices": 4}


def chat(body: bytes) -> ChatRequest:
    return parse_chat_request(body, **LIMITS)


def test_a_valid_stream_request_keeps_unknown_fields() -> None:
    request = chat(
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,'
        b'"stream_options":{"include_usage":true},"max_tokens":5,"n":2,"seed":7,"new_param":1}'
    )
    assert (request.model, request.stream, request.include_usage) == ("m", True, True)
    assert (request.max_output_tokens, request.choices) == (5, 2)
    assert request.payload["new_param"] == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"", None),
        (b"{not json", None),
        (b"\xff\xfe", None),
        (b"[]", None),
        (b'{"messages":[{"role":"user","content":"x"}]}', "model"),
        (b'{"model":5,"messages":[{"role":"user","content":"x"}]}', "model"),
        (b'{"model":"a\\nb","messages":[{"role":"user","content":"x"}]}', "model"),
        (b'{"model":"m"}', "messages"),
        (b'{"model":"m","messages":[]}', "messages"),
        (b'{"model":"m","messages":["hi"]}', "messages[0]"),
        (b'{"model":"m","messages":[{"role":"wizard","content":"x"}]}', "messages[0].role"),
        (b'{"model":"m","messages":[{"role":"user","content":5}]}', "messages[0].content"),
        (b'{"model":"m","messages":[{"role":"user","content":[1]}]}', "messages[0].content[0]"),
        (b'{"model":"m","messages":[{"role":"user"}],"stream":"yes"}', "stream"),
        (b'{"model":"m","messages":[{"role":"user"}],"n":0}', "n"),
        (b'{"model":"m","messages":[{"role":"user"}],"n":5}', "n"),
        (b'{"model":"m","messages":[{"role":"user"}],"n":1.5}', "n"),
        (b'{"model":"m","messages":[{"role":"user"}],"max_tokens":-1}', "max_tokens"),
        (b'{"model":"m","messages":[{"role":"user"}],"max_tokens":1001}', "max_tokens"),
        (b'{"model":"m","messages":[{"role":"user"}],"max_tokens":true}', "max_tokens"),
        (
            b'{"model":"m","messages":[{"role":"user"}],"max_completion_tokens":0}',
            "max_completion_tokens",
        ),
        (b'{"model":"m","messages":[{"role":"user"}],"temperature":3}', "temperature"),
        (b'{"model":"m","messages":[{"role":"user"}],"stream_options":1}', "stream_options"),
        (b'{"model":"m","messages":[{"role":"user"}],"tools":[{"type":"x"}]}', "tools[0]"),
    ],
)
def test_bad_chat_bodies_name_the_offending_param(body: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        chat(body)
    assert info.value.param == param
    assert info.value.status == 400


def test_deeply_nested_json_is_a_clean_400() -> None:
    with pytest.raises(InvalidRequest):
        chat(b"[" * 10_000 + b"]" * 10_000)


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"e"}',
        b'{"model":"e","input":""}',
        b'{"model":"e","input":[]}',
        b'{"model":"e","input":[1,"a"]}',
        b'{"model":"e","input":"x","encoding_format":"hex"}',
    ],
)
def test_bad_embedding_bodies_are_400(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_embeddings_request(body)


def test_embedding_inputs_of_every_valid_shape() -> None:
    for body in (
        b'{"model":"e","input":"x"}',
        b'{"model":"e","input":["x","y"]}',
        b'{"model":"e","input":[1,2]}',
        b'{"model":"e","input":[[1],[2,3]]}',
    ):
        assert parse_embeddings_request(body).model == "e"
