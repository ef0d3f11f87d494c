"""Error answers of the REST API: every failure is `{"error": reason, "message": prose}`.

`ApiProblem` is raised by routes; the handlers installed by `install_error_handlers` turn it,
FastAPI's validation errors, Starlette's HTTP errors and node `Rejected`s into that shape.
Two pure ASGI middlewares keep the promise of SPEC §7: bodies over 1 MiB get 413 `too-large`,
and an unexpected exception becomes a logged 500 instead of a dropped connection.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..consensus.errors import Kind, Rejected

__all__ = [
    "MAX_BODY_BYTES",
    "ApiProblem",
    "BodyLimitMiddleware",
    "CatchAllMiddleware",
    "install_error_handlers",
    "rejection_status",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

_STATUS_REASONS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
}


class ApiProblem(Exception):
    """A 4xx/5xx answer with a stable `error` reason and a `message` for people."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def problem_response(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def rejection_status(kind: Kind) -> int:
    """CONSENSUS -> 400 (the bytes can never be valid); anything else -> 422 (policy, state)."""
    return 400 if kind is Kind.CONSENSUS else 422


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.error, exc.message)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "bad-json", "the request body is not valid JSON")
    return problem_response(422, "invalid-request", _describe(errors))


TUTORIAL_ROUTES = {
    "/chain": "GET /api/v1/blocks (and the explorer's chain view at /chain)",
    "/mine": "POST /api/v1/mine (admin token)",
    "/new_transaction": "POST /api/v1/txs with a signed transaction",
    "/transactions/new": "POST /api/v1/txs with a signed transaction",
    "/register_with": "POST /api/v1/peers (admin token)",
    "/register_node": "POST /api/v1/peers (admin token)",
    "/nodes/register": "POST /api/v1/peers (admin token)",
    "/nodes/resolve": "nothing: every node follows the most-work chain by itself",
    "/add_block": "nothing: blocks arrive from peers over P2P",
    "/pending_tx": "GET /api/v1/mempool",
}
"""Endpoints of the classic Python blockchain tutorials, and what this node has instead."""


def not_found_message(method: str, path: str) -> str:
    """The 404/405 text: which request, where the API is, the tutorial equivalent if any."""
    text = f"no endpoint {method} {path}: the API is under /api/v1, documented at /docs"
    hint = TUTORIAL_ROUTES.get(path.rstrip("/") or "/")
    return f"{text}; for {path} of the tutorials use {hint}" if hint else text


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    reason = _STATUS_REASONS.get(exc.status_code, "http-error")
    message = str(exc.detail)
    if exc.status_code in (404, 405) and message in ("Not Found", "Method Not Allowed"):
        message = not_found_message(request.method, request.url.path[:200])
    return problem_response(exc.status_code, reason, message)


async def _on_rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Rejected)
    return problem_response(rejection_status(exc.kind), exc.reason, exc.message)


def install_error_handlers(app: FastAPI) -> None:
    """Give every error answer the `{"error", "message"}` shape."""
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Rejected, _on_rejected)


async def _send_problem(send: Send, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 `too-large` for a request body over `limit` bytes, declared or streamed.

    Bodies of POST/PUT/PATCH are read up front (they are small by rule) and replayed to the
    app, so a chunked body without Content-Length is bounded too.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _send_problem(send, 413, "too-large", f"request body over {self.limit} bytes")


class CatchAllMiddleware:
    """Last resort: an exception nobody handled is logged and answered 500 `internal-error`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:  # the one broad catch: the API must answer, never crash
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_problem(send, 500, "internal-error", "unexpected error; see node log")
