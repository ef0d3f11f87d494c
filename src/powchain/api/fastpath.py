"""A lean ASGI path for the API's hottest call, `POST /api/v1/txs` (SPEC §7; bench B6).

Through FastAPI one submission costs about four times the node's own acceptance (py-spy:
~15 middleware and routing layers, pydantic validation and response serialisation, each
`send` wrapped by every middleware). `NodeApi.__call__` answers the common, well-formed request
itself: a JSON content type, a body within `MAX_BODY_BYTES` that is exactly `{"raw": "<hex>"}`.
Everything else (another content type, malformed JSON, extra fields, a non-string `raw`) is
handed, body replayed, to the full FastAPI app, so error answers stay those of the documented
route, which also keeps the OpenAPI entry. The answers of the fast path are the route's:
202 `{"txid"}`, or `{"error", "message"}` with the same status and reason
(`routes.submit_raw_hex` is shared), 413 `too-large` as `BodyLimitMiddleware`, a logged 500
`internal-error` as `CatchAllMiddleware`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from ..consensus.errors import Rejected
from .errors import MAX_BODY_BYTES, ApiProblem, rejection_status
from .routes import submit_raw_hex

__all__ = ["NodeApi", "TX_PATH"]

log = logging.getLogger(__name__)

TX_PATH = "/api/v1/txs"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class NodeApi(FastAPI):
    """The node's FastAPI app with the `POST /api/v1/txs` fast path in front of it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == TX_PATH
            and scope["method"] == "POST"
            and _is_plain_json(scope)
        ):
            await self._submit(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _submit(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, send)
        if body is None:
            return  # answered 413, or the client went away
        raw = _raw_field(body)
        if raw is None:  # not the well-formed shape: the route's own answers
            await super().__call__(scope, _replay(body, receive), send)
            return
        try:
            txid = submit_raw_hex(self.state.node, raw)
        except ApiProblem as exc:
            status, answer = exc.status, {"error": exc.error, "message": exc.message}
        except Rejected as exc:
            status = rejection_status(exc.kind)
            answer = {"error": exc.reason, "message": exc.message}
        except Exception:  # as CatchAllMiddleware: the API must answer, never crash
            log.exception("unhandled error in POST %s", TX_PATH)
            status = 500
            answer = {"error": "internal-error", "message": "unexpected error; see node log"}
        else:  # hex digits need no JSON escaping
            await _send(send, 202, b'{"txid":"' + txid.encode("ascii") + b'"}')
            return
        await _send_json(send, status, answer)


def _is_plain_json(scope: Scope) -> bool:
    """True when the request says `Content-Type: application/json` (parameters allowed)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


async def _read_body(receive: Receive, send: Send) -> bytes | None:
    """The whole request body; None after answering 413 (over MAX_BODY_BYTES) or when the
    client disconnected first."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > MAX_BODY_BYTES:
            prose = f"request body over {MAX_BODY_BYTES} bytes"
            await _send_json(send, 413, {"error": "too-large", "message": prose})
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_WS = rb"[ \t\n\r]*"  # JSON's whitespace
_PLAIN_BODY = re.compile(
    _WS + rb"\{" + _WS + rb'"raw"' + _WS + b":" + _WS + rb'"([0-9a-fA-F]*)"' + _WS + rb"\}" + _WS
)
"""`{"raw": "<hex digits>"}` as clients write it; any other spelling goes through json."""


def _raw_field(body: bytes) -> str | None:
    """`raw` of a body that is exactly the JSON object `{"raw": <string>}`; None otherwise."""
    plain = _PLAIN_BODY.fullmatch(body)
    if plain is not None:
        return plain.group(1).decode("ascii")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError; deep nesting
        return None
    if type(doc) is not dict or len(doc) != 1:
        return None
    raw = doc.get("raw")
    return raw if type(raw) is str else None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the already-read body once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send: Send, status: int, answer: dict[str, Any]) -> None:
    """One JSON answer, serialised as Starlette's JSONResponse does."""
    await _send(
        send, status, json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    )


async def _send(send: Send, status: int, body: bytes) -> None:
    """One answer of JSON `body`."""
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
