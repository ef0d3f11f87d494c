"""Links between soak-test nodes: Linux network namespaces, or a loopback proxy per link.

`NamespaceLinks` puts node i in namespace `<tag>n<i>` with a veth to the test's namespace
(10.231.i.2, for the REST API only) and one veth pair per pair of nodes (10.232.k.1/.2 for
link k), so cutting, healing and `tc netem` (latency, loss) act on one link at a time, with no
forwarding and no change to the host's routes. It needs root and iproute2.

`ProxyLinks` is the fallback where `ip netns add` fails: every node listens on 127.0.0.1 and
dials each peer through an asyncio TCP proxy of that link (one per direction), which can cut
(close and refuse connections) and delay bytes; it cannot drop packets, so `loss` is ignored.

Both expose: `setup(n)`, `api_host(i)`, `p2p_bind(i)`, `dial_address(i, j, port_of)`,
`command_prefix(i)`, `cut(i, j)`, `restore(i, j)`, `netem(i, j, delay_ms, loss_pct)`, `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable

log = logging.getLogger("soak.links")

__all__ = ["NamespaceLinks", "ProxyLinks", "make_links"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


def namespaces_available() -> tuple[bool, str]:
    """Try `ip netns add` (and delete it); (works, why not)."""
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return False, "iproute2 (ip, tc) not installed"
    name = f"pcprobe{os.getpid()}"
    result = _ip("netns", "add", name, check=False)
    if result.returncode != 0:
        return False, result.stderr.strip() or "ip netns add failed"
    _ip("netns", "del", name, check=False)
    return True, ""


class NamespaceLinks:
    """One network namespace per node, one veth pair per link (see the module docstring)."""

    kind = "netns"

    def __init__(self) -> None:
        self.tag = f"pc{os.getpid() % 100000}{next(_counter)}"
        self.n = 0
        self.pairs: dict[tuple[int, int], int] = {}
        self.created: list[str] = []

    def ns(self, i: int) -> str:
        return f"{self.tag}n{i}"

    def _in(self, i: int, *args: str, check: bool = True) -> None:
        _ip("netns", "exec", self.ns(i), "ip", *args, check=check)

    def setup(self, n: int) -> None:
        self.n = n
        for i in range(n):
            ns = self.ns(i)
            _ip("netns", "add", ns)
            self.created.append(ns)
            host_end, ns_end = f"{self.tag}h{i}", f"{self.tag}a{i}"
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            _ip("link", "set", ns_end, "netns", ns)
            _ip("addr", "add", f"10.231.{i}.1/24", "dev", host_end)
            _ip("link", "set", host_end, "up")
            self._in(i, "addr", "add", f"10.231.{i}.2/24", "dev", ns_end)
            self._in(i, "link", "set", ns_end, "up")
            self._in(i, "link", "set", "lo", "up")
        for k, (i, j) in enumerate(itertools.combinations(range(n), 2)):
            self.pairs[(i, j)] = k
            a, b = self._dev(i, j), self._dev(j, i)
            _ip("link", "add", a, "type", "veth", "peer", "name", b)
            _ip("link", "set", a, "netns", self.ns(i))
            _ip("link", "set", b, "netns", self.ns(j))
            self._in(i, "addr", "add", f"10.232.{k}.1/24", "dev", a)
            self._in(j, "addr", "add", f"10.232.{k}.2/24", "dev", b)
            self._in(i, "link", "set", a, "up")
            self._in(j, "link", "set", b, "up")

    def _dev(self, i: int, j: int) -> str:
        return f"{self.tag}{i}x{j}"  # created in the host namespace first: unique names

    def api_host(self, i: int) -> str:
        return f"10.231.{i}.2"

    def p2p_bind(self, i: int) -> str:
        return "0.0.0.0"

    def dial_address(self, i: int, j: int, port_of: Callable[[int], int]) -> str:
        k = self.pairs[(min(i, j), max(i, j))]
        return f"10.232.{k}.{2 if j > i else 1}:{port_of(j)}"

    def command_prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.ns(i)]

    def cut(self, i: int, j: int) -> None:
        self._in(i, "link", "set", self._dev(i, j), "down")
        self._in(j, "link", "set", self._dev(j, i), "down")

    def restore(self, i: int, j: int) -> None:
        for a, b in ((i, j), (j, i)):
            self._in(a, "link", "set", self._dev(a, b), "up")

    def netem(self, i: int, j: int, delay_ms: int = 0, loss_pct: float = 0.0) -> bool:
        """Latency and loss on link i-j; False when the kernel lacks sch_netem (said in logs)."""
        ok = True
        for a, b in ((i, j), (j, i)):
            dev = self._dev(a, b)
            self._in(a, "link", "set", dev, "up")
            _ip("netns", "exec", self.ns(a), "tc", "qdisc", "del", "dev", dev, "root", check=False)
            if delay_ms or loss_pct:
                args = ["delay", f"{delay_ms}ms", "loss", f"{loss_pct}%"]
                cmd = ["tc", "qdisc", "add", "dev", dev, "root", "netem", *args]
                result = _ip("netns", "exec", self.ns(a), *cmd, check=False)
                if result.returncode != 0:
                    log.warning("tc netem unavailable: %s", result.stderr.strip())
                    ok = False
        return ok

    def close(self) -> None:
        for ns in self.created:
            _ip("netns", "del", ns, check=False)
        self.created.clear()


_counter = itertools.count()


class ProxyLinks:
    """A loopback TCP proxy per directed link, on an asyncio loop in a daemon thread."""

    kind = "proxy"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: dict[tuple[int, int], asyncio.Server] = {}
        self.ports: dict[tuple[int, int], int] = {}
        self.cut_links: set[frozenset[int]] = set()
        self.delay: dict[frozenset[int], float] = {}
        self.conns: dict[frozenset[int], set[asyncio.StreamWriter]] = {}
        self.port_of: Callable[[int], int] | None = None

    def _run(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)  # type: ignore[arg-type]

    def setup(self, n: int) -> None:
        for i, j in itertools.permutations(range(n), 2):
            self._run(self._listen(i, j))

    async def _listen(self, i: int, j: int) -> None:
        link = frozenset((i, j))

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(link, j, reader, writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.servers[(i, j)] = server
        self.ports[(i, j)] = server.sockets[0].getsockname()[1]

    async def _serve(
        self,
        link: frozenset[int],
        j: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if link in self.cut_links or self.port_of is None:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.port_of(j))
        except OSError:
            writer.close()
            return
        conns = self.conns.setdefault(link, set())
        conns.update((writer, up_w))
        await asyncio.gather(
            self._pipe(link, reader, up_w), self._pipe(link, up_r, writer), return_exceptions=True
        )
        conns.difference_update((writer, up_w))

    async def _pipe(
        self, link: frozenset[int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if self.delay.get(link):
                    await asyncio.sleep(self.delay[link])
                writer.write(chunk)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()

    def api_host(self, i: int) -> str:
        return "127.0.0.1"

    def p2p_bind(self, i: int) -> str:
        return "127.0.0.1"

    def dial_address(self, i: int, j: int, port_of: Callable[[int], int]) -> str:
        self.port_of = port_of
        return f"127.0.0.1:{self.ports[(i, j)]}"

    def command_prefix(self, i: int) -> list[str]:
        return []

    def cut(self, i: int, j: int) -> None:
        link = frozenset((i, j))
        self.cut_links.add(link)

        async def drop() -> None:
            for w in list(self.conns.get(link, ())):
                with contextlib.suppress(Exception):
                    w.transport.abort()

        self._run(drop())

    def restore(self, i: int, j: int) -> None:
        self.cut_links.discard(frozenset((i, j)))

    def netem(self, i: int, j: int, delay_ms: int = 0, loss_pct: float = 0.0) -> bool:
        """Latency only: a TCP proxy cannot lose packets (False when loss was asked)."""
        self.restore(i, j)
        self.delay[frozenset((i, j))] = delay_ms / 1000
        return not loss_pct

    def close(self) -> None:
        async def shut() -> None:
            for server in self.servers.values():
                server.close()
            for conns in self.conns.values():
                for w in list(conns):
                    w.transport.abort()

        with contextlib.suppress(Exception):
            self._run(shut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def make_links(prefer: str | None = None) -> tuple[NamespaceLinks | ProxyLinks, str]:
    """Namespaces when they work (or POWCHAIN_SOAK_LINKS=proxy asks otherwise); (links, note)."""
    prefer = prefer or os.environ.get("POWCHAIN_SOAK_LINKS", "netns")
    if prefer == "netns":
        ok, why = namespaces_available()
        if ok:
            return NamespaceLinks(), "links: network namespaces + veth pairs"
        note = f"links: FALLBACK to a loopback TCP proxy per link (no namespaces: {why})"
    else:
        note = "links: loopback TCP proxy per link (asked for)"
    log.warning(note)
    return ProxyLinks(), note
