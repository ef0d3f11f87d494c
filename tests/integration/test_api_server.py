"""The API served by uvicorn on a real socket (port 0) on the node's loop: server-sent events,
the wallet's NodeClient over HTTP, and a clean shutdown with a stream still open."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from powchain.api.app import create_app
from powchain.api.server import ApiServer
from powchain.core.keys import encode_address, xonly_pubkey
from powchain.core.params import REGTEST
from powchain.node.node import Node, NodeConfig
from powchain.wallet.builder import build_transfer
from powchain.wallet.client import ApiError, NodeClient

pytestmark = pytest.mark.anyio

SECRET = bytes.fromhex("33" * 32)
ADDR = encode_address(REGTEST.hrp, xonly_pubkey(SECRET))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def read_event(lines: object, name: str) -> dict[str, object]:
    """The data of the next SSE event called `name`."""
    current = None
    async for line in lines:  # type: ignore[attr-defined]
        if line.startswith("event:"):
            current = line[6:].strip()
        elif line.startswith("data:") and current == name:
            return dict(json.loads(line[5:]))
    raise AssertionError("stream ended")


async def test_events_client_and_shutdown(tmp_path: Path) -> None:
    node = Node(NodeConfig(params=REGTEST, datadir=tmp_path))
    await node.start()
    server = ApiServer(create_app(node), "127.0.0.1", 0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}"
    token = (tmp_path / "api.cookie").read_text()
    try:
        client = NodeClient(url, token=token)
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as http,
            http.stream("GET", "/api/v1/events") as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            hashes = await asyncio.to_thread(client.mine, 11, ADDR)
            block = await asyncio.wait_for(read_event(lines, "block"), 10)
            assert block["hash"] == hashes[0] and block["height"] == 1
            other = xonly_pubkey(bytes.fromhex("44" * 32))
            tx = build_transfer(SECRET, REGTEST.chain_id, 0, other, 5, 1_000, bytes(32))
            txid = await asyncio.to_thread(client.submit_tx, tx.serialize())
            event = await asyncio.wait_for(read_event(lines, "tx"), 10)
            assert event["txid"] == txid and event["sender"] == ADDR
            status = await asyncio.to_thread(client.status)
            assert status["height"] == 11 and status["mempool_size"] == 1
            with pytest.raises(ApiError) as err:
                await asyncio.to_thread(client.submit_tx, tx.serialize())
            assert (err.value.status, err.value.error) == (422, "duplicate")
            await asyncio.wait_for(server.stop(), 10)  # must not hang on the open stream
        client.close()
        with pytest.raises(ApiError) as err:
            await asyncio.to_thread(NodeClient(url, timeout=2).status)
        assert err.value.error == "unreachable"
    finally:
        await server.stop()
        await node.stop()


async def test_keep_alive_pipelined_and_close(tmp_path: Path) -> None:
    """Raw HTTP/1.1 on one connection: two pipelined submissions are answered in order, each
    with its own complete head and body (the coalesced writes), then `Connection: close`
    ends the connection after its answer."""
    node = Node(NodeConfig(params=REGTEST, datadir=tmp_path))
    await node.start()
    server = ApiServer(create_app(node), "127.0.0.1", 0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:

        def post(body: bytes, extra: bytes = b"") -> bytes:
            head = b"POST /api/v1/txs HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
            return head + extra + b"content-length: %d\r\n\r\n" % len(body) + body

        async def answer() -> tuple[bytes, bytes]:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            return head.split(b"\r\n")[0], await reader.readexactly(length)

        writer.write(post(b'{"raw": "zz"}') + post(b'{"raw": 1}'))
        first, second = await answer(), await answer()
        assert first[0] == b"HTTP/1.1 400 Bad Request"
        assert json.loads(first[1])["error"] == "bad-encoding"
        assert second[0].startswith(b"HTTP/1.1 422 ")
        assert json.loads(second[1])["error"] == "invalid-request"
        writer.write(post(b'{"raw": ""}', b"connection: close\r\n"))
        assert json.loads((await answer())[1])["error"] == "bad-encoding"
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    finally:
        writer.close()
        await server.stop()
        await node.stop()


class RecordingTransport(asyncio.Transport):
    """Records what reaches the socket: one entry per write."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


async def test_coalescing_transport_one_send_per_iteration() -> None:
    from powchain.api.server import _CoalescingTransport

    inner = RecordingTransport()
    transport = _CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    transport.write(b'{"txid":"00"}')
    assert inner.sent == [] and transport.get_write_buffer_size() == 38
    await asyncio.sleep(0)  # the end of this loop iteration
    assert inner.sent == [b'HTTP/1.1 202 Accepted\r\n\r\n{"txid":"00"}']
    transport.write(b"last")
    transport.close()  # flushes before closing
    assert inner.sent[1:] == [b"last"] and inner.closed
    assert transport.is_closing()  # the rest of the API is the inner transport's
