"""The guard stage: inspect requests before anything is reserved or sent, and shape
responses on the way out (redaction, tool-call policy), streams included.

Policies come in layers from the `[guard]` config: the base policy, then the
account's, the key's and the model's tables (least to most specific). A blocked
request raises `PermissionDenied` (403) before admission, so it reaches no upstream
and is never billed. Responses: non-stream replies are inspected whole; streamed
content goes through one `StreamRedactor` per choice (a secret split across chunks is
still caught), and streamed tool calls are held back until complete, then checked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from tokenward.audit import AuditLog
from tokenward.config.schema import GuardSettings
from tokenward.errors import PermissionDenied, UpstreamError
from tokenward.guard import (
    Finding,
    Policy,
    Scanner,
    StreamRedactor,
    Verdict,
    check_tool_calls,
    inspect_messages,
    merge_policies,
)
from tokenward.metering import Usage
from tokenward.observability.metrics import Metrics
from tokenward.providers.base import UpstreamReply
from tokenward.proxy.context import RequestContext
from tokenward.proxy.shapers import ReplyShaper

log = logging.getLogger("tokenward.guard")

FindingsSink = Callable[[RequestContext, str, Sequence[Finding]], None]


class GuardReporter:
    """Counts every finding in `/metrics`; writes block and redact decisions to the
    hash-chained audit log (what, where, which rule; never the matched text)."""

    def __init__(self, metrics: Metrics, audit: AuditLog | None) -> None:
        self._metrics = metrics
        self._audit = audit
        self._pending: set[asyncio.Task[Any]] = set()

    def __call__(self, ctx: RequestContext, direction: str, findings: Sequence[Finding]) -> None:
        for finding in findings:
            self._metrics.observe_guard_finding(finding.type, finding.action or "log", direction)
        acted = [f for f in findings if f.action in ("block", "redact")]
        if not acted or self._audit is None or ctx.principal is None:
            return
        decision = "block" if any(f.action == "block" for f in acted) else "redact"
        details = {
            "request_id": ctx.request_id,
            "account": ctx.principal.account_name,
            "model": ctx.model,
            "direction": direction,
            "findings": [
                {"type": f.type, "location": f.location, "rule": f.action, "reason": f.reason}
                for f in acted
            ],
        }
        task = asyncio.ensure_future(
            self._audit.append_async(ctx.principal.key_id, f"guard.{decision}", ctx.route, details)
        )
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("audit append failed: %s", task.exception())

    async def aclose(self) -> None:
        """Wait for audit records still being written."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class GuardStage:
    """Policies per (account, key, model), compiled once and cached."""

    def __init__(
        self, settings: GuardSettings, scanner: Scanner, on_findings: FindingsSink
    ) -> None:
        self._settings = settings
        self._scanner = scanner
        self._on_findings = on_findings
        self._policies: dict[tuple[str, str, str], Policy] = {}
        #: per policy, its reply variant (tool blocks become removals), built once
        self._reply_policies: dict[int, Policy] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._settings.enabled)

    def policy_for(self, ctx: RequestContext) -> Policy:
        assert ctx.principal is not None
        cache_key = (ctx.principal.account_name, ctx.principal.key_id, ctx.model)
        policy = self._policies.get(cache_key)
        if policy is None:
            s = self._settings
            policy = merge_policies(
                s.policy,
                s.accounts.get(ctx.principal.account_name),
                s.keys.get(ctx.principal.key_id),
                s.models.get(ctx.model),
            )
            if len(self._policies) > 10_000:
                self._policies.clear()
                self._reply_policies.clear()
            self._policies[cache_key] = policy
        return policy

    def inspect_request(self, ctx: RequestContext, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload to forward (redacted if the policy says so); raises on block."""
        if not self.enabled:
            return payload
        policy = self.policy_for(ctx)
        verdict = inspect_messages(
            payload["messages"],
            policy,
            "request",
            tools=payload.get("tools"),
            scanner=self._scanner,
        )
        self._report(ctx, "request", verdict)
        if verdict.action == "block":
            raise PermissionDenied(verdict.reason())
        if verdict.action == "redact":
            payload = {**payload, "messages": list(verdict.redacted_messages)}
            if verdict.redacted_tools is not None:
                payload["tools"] = list(verdict.redacted_tools)
        return payload

    def shape(self, ctx: RequestContext, shaper: ReplyShaper) -> ReplyShaper:
        """Wrap `shaper` so responses are inspected; unchanged when the guard is off."""
        if not self.enabled:
            return shaper
        return GuardedShaper(self, ctx, self.policy_for(ctx), shaper)

    def _report(self, ctx: RequestContext, direction: str, verdict: Verdict) -> None:
        if verdict.findings:
            self._on_findings(ctx, direction, verdict.findings)

    def inspect_reply(
        self, ctx: RequestContext, policy: Policy, payload: dict[str, Any]
    ) -> Verdict:
        """A model's reply. A tool call the policy blocks is removed with a note the
        agent can read, rather than failing the whole reply: the agent never receives
        the call, and still learns why."""
        reply_policy = self._reply_policies.get(id(policy))
        if reply_policy is None:
            reply_policy = self._reply_policies[id(policy)] = _tool_blocks_become_removals(policy)
        messages = [
            choice.get("message") or {}
            for choice in payload.get("choices") or ()
            if isinstance(choice, dict)
        ]
        verdict = inspect_messages(messages, reply_policy, "response", scanner=self._scanner)
        self._report(ctx, "response", verdict)
        return verdict

    def redactor(self, policy: Policy) -> StreamRedactor:
        redact = {t for t, a in policy.response.items() if a == "redact"}
        block = {t for t, a in policy.response.items() if a == "block"}
        return StreamRedactor(
            self._scanner, redact=redact, block=block, allow_hosts=policy.allow_hosts
        )

    def report_stream(self, ctx: RequestContext, findings: Sequence[Finding]) -> None:
        if findings:
            self._on_findings(ctx, "response", findings)


class GuardedShaper:
    """A `ReplyShaper` decorator applying the response policy before the inner shaper."""

    def __init__(
        self, stage: GuardStage, ctx: RequestContext, policy: Policy, inner: ReplyShaper
    ) -> None:
        self._stage = stage
        self._ctx = ctx
        self._policy = policy
        self._inner = inner
        self._redactors: dict[int, StreamRedactor] = {}
        self._hold_tools = _has_tool_rules(policy)
        self._held_calls: dict[int, dict[int, dict[str, Any]]] = {}
        self._template: dict[str, Any] = {}

    def body(self, reply: UpstreamReply, usage: Usage) -> bytes:
        verdict = self._stage.inspect_reply(self._ctx, self._policy, reply.payload)
        if verdict.action == "block":
            raise PermissionDenied(verdict.reason())
        if verdict.action == "redact":
            payload = dict(reply.payload)
            choices = []
            redacted = iter(verdict.redacted_messages)
            for choice in payload.get("choices") or ():
                message = next(redacted, None)
                if isinstance(choice, dict) and message is not None:
                    choice = {**choice, "message": message}
                    if choice.get("finish_reason") == "tool_calls" and not message.get(
                        "tool_calls"
                    ):
                        choice["finish_reason"] = "stop"
                choices.append(choice)
            payload["choices"] = choices
            raw = orjson.dumps(payload)
            reply = UpstreamReply(status=reply.status, body=raw, payload=payload)
        return self._inner.body(reply, usage)

    def chunk(self, payload: bytes, chunk: dict[str, Any] | None) -> bytes | None:
        if chunk is None or not chunk.get("choices"):
            return self._inner.chunk(payload, chunk)
        self._template = {k: chunk[k] for k in ("id", "object", "created", "model") if k in chunk}
        changed = False
        for choice in chunk["choices"]:
            if not isinstance(choice, dict) or not isinstance(choice.get("delta"), dict):
                continue
            index = int(choice.get("index", 0))
            delta = choice["delta"]
            content = delta.get("content")
            if isinstance(content, str) and content:
                delta["content"] = self._redactor(index).feed(content)
                changed = True
            if self._hold_tools and delta.get("tool_calls"):
                self._hold(index, delta.pop("tool_calls"))
                changed = True
            if choice.get("finish_reason"):
                redactor = self._redactors.pop(index, None)
                if redactor is not None:  # the held-back tail goes out with the finish
                    delta["content"] = (delta.get("content") or "") + redactor.flush()
                    self._stage.report_stream(self._ctx, redactor.findings)
                    changed = True
                if self._hold_tools and index in self._held_calls:
                    self._release_calls(index, choice)
                    changed = True
        return self._inner.chunk(orjson.dumps(chunk) if changed else payload, chunk)

    def end(self, usage: Usage) -> bytes:
        tail = b""
        for index, redactor in sorted(self._redactors.items()):
            rest = redactor.flush()
            if rest:
                delta_chunk = self._delta_chunk(index, {"content": rest})
                tail += self._inner.chunk(orjson.dumps(delta_chunk), delta_chunk) or b""
            self._stage.report_stream(self._ctx, redactor.findings)
        return tail + self._inner.end(usage)

    def error(self, exc: UpstreamError) -> bytes:
        return self._inner.error(exc)

    def _redactor(self, index: int) -> StreamRedactor:
        redactor = self._redactors.get(index)
        if redactor is None:
            redactor = self._redactors[index] = self._stage.redactor(self._policy)
        return redactor

    def _hold(self, index: int, deltas: Any) -> None:
        calls = self._held_calls.setdefault(index, {})
        for delta in deltas if isinstance(deltas, list) else ():
            if not isinstance(delta, dict):
                continue
            call = calls.setdefault(
                int(delta.get("index", 0)),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = delta.get("id") or call["id"]
            function = delta.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""

    def _release_calls(self, index: int, choice: dict[str, Any]) -> None:
        """The choice is finishing: check its held calls, then send or refuse them."""
        calls = [call for _, call in sorted(self._held_calls.pop(index).items())]
        findings = check_tool_calls(calls, self._policy.tools)
        self._stage.report_stream(self._ctx, findings)
        refused = {int(f.location.rsplit("[", 1)[1].rstrip("]")) for f in findings}
        allowed = [call for i, call in enumerate(calls) if i not in refused]
        delta = choice["delta"]
        if allowed:
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(allowed)]
        if refused:
            notes = " ".join(f"[tool call blocked by policy: {f.reason}]" for f in findings)
            delta["content"] = (delta.get("content") or "") + notes
            if not allowed:
                choice["finish_reason"] = "stop"

    def _delta_chunk(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._template,
            "choices": [{"index": index, "delta": delta, "finish_reason": None}],
        }


def _tool_blocks_become_removals(policy: Policy) -> Policy:
    response = dict(policy.response)
    for kind in ("tool_not_allowed", "tool_arg_violation"):
        if response.get(kind) == "block":
            response[kind] = "redact"
    return replace(policy, response=response)


def _has_tool_rules(policy: Policy) -> bool:
    tools = policy.tools
    return bool(tools.allow is not None or tools.deny or tools.max_calls or tools.args)


__all__ = ["GuardReporter", "GuardStage", "GuardedShaper"]
