"""Embeddings: request validation, seeded unit vectors, the OpenAI ``list`` body.

Vectors are seeded by ``(seed, model, input)``, so the same text always embeds the same
way, and are exact in float32, so the ``float`` and ``base64`` encodings decode equal.
"""

from __future__ import annotations

import base64
import random
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenward.providers.simulator.engine import (
    EMBEDDING_DIMS,
    Directives,
    count_text_tokens,
    derive,
    request_hash,
)
from tokenward.providers.simulator.wire import (
    bad_request,
    check_model,
    positive_int,
    read_directives,
)


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """A validated embeddings request."""

    model: str
    inputs: tuple[str | tuple[int, ...], ...]
    hash: str
    encoding_format: str = "float"
    dimensions: int = EMBEDDING_DIMS
    directives: Directives = field(default_factory=Directives)


def _inputs(value: Any) -> tuple[str | tuple[int, ...], ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value:
        if all(type(v) is int for v in value):
            return (tuple(value),)
        if all(isinstance(v, str) and v for v in value):
            return tuple(value)
        if all(isinstance(v, list) and v and all(type(t) is int for t in v) for v in value):
            return tuple(tuple(v) for v in value)
    raise bad_request("input must be a non-empty string, list of strings or token arrays", "input")


def parse_embeddings(
    body: Any, models: Sequence[str], headers: Mapping[str, str]
) -> EmbeddingRequest:
    """Validate an embeddings body; raises `SimRequestError` (400 / 404)."""
    model = check_model(body, models)
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_request("encoding_format must be float or base64", "encoding_format")
    return EmbeddingRequest(
        model=model,
        inputs=_inputs(body.get("input")),
        hash=request_hash(body),
        encoding_format=fmt,
        dimensions=positive_int(body, "dimensions", EMBEDDING_DIMS) or EMBEDDING_DIMS,
        directives=read_directives(body.get("metadata"), headers),
    )


def embed(item: str | Sequence[int], *, seed: int, model: str, dims: int) -> list[float]:
    """A unit vector seeded by the input, exact in float32 so ``base64`` decodes equal."""
    key = f"s:{item}" if isinstance(item, str) else "t:" + ",".join(map(str, item))
    rng = random.Random(derive(seed, "embed", model, key))
    raw = [rng.random() - 0.5 for _ in range(EMBEDDING_DIMS)][:dims]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    return list(_float32([v / norm for v in raw]))


def _float32(values: list[float]) -> tuple[float, ...]:
    return tuple(array("f", values))


def embedding_tokens(inputs: Sequence[str | Sequence[int]]) -> int:
    """Prompt tokens of an embeddings request."""
    return sum(count_text_tokens(i) if isinstance(i, str) else len(i) for i in inputs)


def embeddings_body(request: EmbeddingRequest, *, seed: int, prompt_tokens: int) -> dict[str, Any]:
    """The `list` of `embedding` objects with usage."""
    data = []
    for index, item in enumerate(request.inputs):
        vector = embed(item, seed=seed, model=request.model, dims=request.dimensions)
        value: Any = vector
        if request.encoding_format == "base64":
            packed = array("f", vector)
            if sys.byteorder == "big":
                packed.byteswap()
            value = base64.b64encode(packed.tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "data": data, "model": request.model, "usage": usage}


__all__ = ["EmbeddingRequest", "embed", "embedding_tokens", "embeddings_body", "parse_embeddings"]
