"""Turn templates into labelled cases: `{type:style}` slots become labelled spans.

A slot named after a finding type (`{cn_mobile}`, `{email}`, `{ip_address:v6}`) is
filled by the generator for that type and recorded as a label with its exact span.
A slot starting with `_` (`{_name}`, `{_order19}`) is filled but never labelled:
that is how hard negatives are written.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

from tests.guard.corpus import fakes

Case = dict[str, Any]

UNLABELLED: dict[str, Callable[[random.Random], str]] = {
    "_name": lambda r: r.choice(fakes.NAMES_ZH),
    "_name_en": lambda r: r.choice(fakes.NAMES_EN),
    "_company": lambda r: r.choice(fakes.COMPANIES_ZH),
    "_company_en": lambda r: r.choice(fakes.COMPANIES_EN),
    "_city": lambda r: r.choice(fakes.CITIES),
    "_order19": fakes.taobao_order,
    "_order": fakes.order_no,
    "_ts_ms": fakes.timestamp_ms,
    "_ts_ns": fakes.timestamp_ns,
    "_snowflake": fakes.snowflake,
    "_sha1": fakes.sha1,
    "_sha256": fakes.sha256,
    "_uuid": fakes.a_uuid,
    "_png": fakes.png_base64,
    "_bad_id": fakes.bad_resident_id,
    "_bad_card": fakes.bad_card,
    "_bad_uscc": fakes.bad_uscc,
    "_bad_mobile": fakes.bad_mobile,
    "_ver4": fakes.version4,
    "_digits8": lambda r: fakes.digits(r, 8),
    "_digits12": lambda r: fakes.digits(r, 12),
    "_qq": lambda r: fakes.digits(r, r.randint(8, 10)),
    "_amount": lambda r: f"{r.randint(1, 99999)}.{r.randint(0, 99):02d}",
}


def render(template: str, rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    """Fill every slot of `template`; return the text and the labels of typed slots."""
    out: list[str] = []
    labels: list[dict[str, Any]] = []
    pos = 0
    for literal, field, style, _ in string.Formatter().parse(template):
        out.append(literal)
        pos += len(literal)
        if field is None:
            continue
        if field in UNLABELLED:
            value = UNLABELLED[field](rng)
        else:
            value = fakes.GENERATORS[field](rng, style or "")
            labels.append({"type": field, "start": pos, "end": pos + len(value)})
        out.append(value)
        pos += len(value)
    return "".join(out), labels


def case(
    cid: str,
    text: str,
    labels: list[dict[str, Any]] | None = None,
    *,
    lang: str,
    role: str = "user",
    tags: tuple[str, ...] = (),
    allow_hosts: tuple[str, ...] = (),
) -> Case:
    """One corpus line."""
    row: Case = {
        "id": cid,
        "lang": lang,
        "role": role,
        "text": text,
        "labels": labels or [],
        "tags": list(tags),
    }
    if allow_hosts:
        row["allow_hosts"] = list(allow_hosts)
    return row


def span_case(
    cid: str,
    before: str,
    type_: str,
    value: str,
    after: str = "",
    *,
    lang: str,
    role: str = "user",
    tags: tuple[str, ...] = (),
) -> Case:
    """A case whose one labelled span is `value`, between `before` and `after`."""
    label = {"type": type_, "start": len(before), "end": len(before) + len(value)}
    return case(cid, before + value + after, [label], lang=lang, role=role, tags=tags)


def whole(cid: str, text: str, type_: str, *, lang: str, role: str = "user", **kw: Any) -> Case:
    """A case labelled as a whole (prompt injection is judged per message)."""
    return case(
        cid, text, [{"type": type_, "start": 0, "end": len(text)}], lang=lang, role=role, **kw
    )
