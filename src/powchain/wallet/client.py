"""REST client of a powchain node (SPEC §7): one method per endpoint, JSON in and out.

The wallet and the command line talk to a node only through this class, the way Bitcoin
Core's wallet talks to its node. The HTTP transport is injectable (`transport=`), so tests can
use any httpx transport. Errors become `ApiError(status, error, message)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["ApiError", "NodeClient"]

API_PREFIX = "/api/v1"


class ApiError(Exception):
    """The node answered an error. `status`: HTTP status (0 when unreachable); `error`: reason."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}" if message else error)
        self.status = status
        self.error = error
        self.message = message


class NodeClient:
    """Synchronous client of one node's REST API at `base_url` (e.g. http://127.0.0.1:18745)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, admin: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = {}
        if admin and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._http.request(method, API_PREFIX + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach node at {self.base_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- endpoints ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._json("GET", "/status")

    def blocks(self, before: int | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return self._json("GET", "/blocks", params=params)

    def block(self, block_id: str | int, full: bool = False) -> dict[str, Any]:
        params = {"txs": "full"} if full else {}
        return self._json("GET", f"/blocks/{block_id}", params=params)

    def block_raw(self, block_hash: str) -> str:
        return str(self._json("GET", f"/blocks/{block_hash}/raw")["raw"])

    def tx(self, txid: str) -> dict[str, Any]:
        return self._json("GET", f"/txs/{txid}")

    def tx_proof(self, txid: str, merkleblock: bool = False) -> dict[str, Any]:
        """GET /txs/{txid}/proof (issue 15); `merkleblock=True` asks for the BIP-37 form."""
        params = {"format": "merkleblock"} if merkleblock else {}
        return self._json("GET", f"/txs/{txid}/proof", params=params)

    def submit_tx(self, raw: bytes) -> str:
        """POST /txs; the txid (people's hex) on acceptance, ApiError on rejection."""
        return str(self._json("POST", "/txs", json={"raw": raw.hex()})["txid"])

    def account(self, address: str) -> dict[str, Any]:
        return self._json("GET", f"/accounts/{address}")

    def account_txs(
        self, address: str, cursor: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return self._json("GET", f"/accounts/{address}/txs", params=params)

    def mempool(self) -> dict[str, Any]:
        return self._json("GET", "/mempool")

    def validators(self) -> dict[str, Any]:
        return self._json("GET", "/validators")

    def posts(self, before: int | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return self._json("GET", "/posts", params=params)

    def peers(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/peers")["peers"])

    def add_peer(self, address: str) -> dict[str, Any]:
        return self._json("POST", "/peers", json={"address": address}, admin=True)

    def bans(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/bans")["bans"])

    def unban(self, address: str | None) -> list[str]:
        """Lift the ban of `address`, or every ban when None (admin); the addresses lifted."""
        path = "/bans" if address is None else f"/bans/{quote(address, safe='')}"
        return list(self._json("DELETE", path, admin=True)["unbanned"])

    def mine(self, blocks: int, address: str) -> list[str]:
        body = {"blocks": blocks, "address": address}
        return list(self._json("POST", "/mine", json=body, admin=True)["blocks"])

    def metrics(self) -> str:
        return self._request("GET", "/metrics").text

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Server-sent events as (event, data) pairs, until the server closes the stream."""
        with self._http.stream("GET", API_PREFIX + "/events", timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                raise _api_error(response)
            event = "message"
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    yield event, json.loads(line[5:])
                    event = "message"


def _api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
        return ApiError(response.status_code, str(body["error"]), str(body.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "http-error", response.text[:200])
