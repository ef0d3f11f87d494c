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


async def test_event_streams_are_capped_and_a_closed_one_frees_its_slot(tmp_path: Path) -> None:
    """Issue 11: SSE clients are capped (each held a queue and a subscription, unbounded in
    number). Over real sockets: MAX streams open, the next is refused 503, closing one lets
    the next in; and a stream whose frames wait past its byte bound is dropped."""
    node = Node(NodeConfig(params=REGTEST, datadir=tmp_path))
    await node.start()
    app = create_app(node)
    hub = app.state.events
    hub.max_clients = 3
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            streams, readers = [], []
            for _ in range(3):
                cm = http.stream("GET", "/api/v1/events")
                response = await cm.__aenter__()
                assert response.status_code == 200
                lines = response.aiter_lines()
                assert await asyncio.wait_for(lines.__anext__(), 10) == ": connected"
                streams.append(cm)
                readers.append(lines)  # a collected line iterator closes its stream
            assert hub.client_count == 3
            refused = await http.get("/api/v1/events")
            assert refused.status_code == 503 and refused.json()["error"] == "too-many-streams"
            await streams.pop().__aexit__(None, None, None)
            await asyncio.wait_for(_until(lambda: hub.client_count == 2), 20)
            cm = http.stream("GET", "/api/v1/events")
            assert (await cm.__aenter__()).status_code == 200  # the happy case: a free slot
            streams.append(cm)
            for cm in streams:
                await cm.__aexit__(None, None, None)
    finally:
        await server.stop()
        await node.stop()


async def test_a_stream_over_its_byte_bound_is_dropped() -> None:
    from powchain.api.sse import EventHub
    from powchain.node.events import EventBus, TipChanged

    bus = EventBus()
    hub = EventHub(bus, REGTEST, queue_bytes=300)

    async def never() -> bool:
        return False

    stream = hub.stream(never)
    assert await stream.__anext__() == b": connected\n\n"
    bus.publish(TipChanged(bytes(32), 1, 1))  # a frame read in time is delivered
    assert (await stream.__anext__()).startswith(b"event: reorg\n")
    for height in range(2, 12):  # ~120-byte frames nobody reads: the third passes 300 bytes
        bus.publish(TipChanged(bytes(32), height, 1))
    assert [frame async for frame in stream] == []  # dropped: what waited is let go
    assert hub.client_count == 0


async def _until(predicate: object, step: float = 0.02) -> None:
    while not predicate():  # type: ignore[operator]
        await asyncio.sleep(step)
