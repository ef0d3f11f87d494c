"""Scenario 6: API abuse. Hypothesis generates malformed requests for every route the app
serves: the route table of the app itself (REST, the explorer's pages and forms, /docs,
/metrics, /static, plus unknown paths), with body fields from `/openapi.json` and form fields
scraped from the forms the explorer's pages serve. Random methods, path parameters of bad hex,
huge or negative numbers and odd unicode, query values of the wrong type, bodies of bad JSON,
wrong types, huge numbers and oversized payloads, form bodies with unknown, repeated and
colliding field names (`error`, `form`, `request`), bad or missing Authorization headers and
content types. Against a real regtest node over 127.0.0.1: no answer is a 5xx, the process is
alive after, and once warmed up by the first CHUNK requests its resident memory grows less than
RSS_BOUND_KIB over the rest.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powchain.core.params import REGTEST
from tests.functional.framework import NodeProcess, Wallet

from .hostile import rss_kib
from .report import record

log = logging.getLogger("soak")
RSS_BOUND_KIB = 16 * 1024
"""Growth of the node's resident memory the whole run may cause."""
CHUNK = 250
"""Examples per hypothesis run: one run of 10,000 held ~1.6 GB in the test process."""
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
OPERATION_COUNT = [0]  # operations of the last run, for the report

pytestmark = pytest.mark.timeout(1200)

# -- values a client should never send -------------------------------------------------------

huge = st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**100, -1, 0, 2**53 + 1])
nasty_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(categories=["Co", "Mn", "Zs", "Cc", "So"]), max_size=20),
    st.binary(max_size=40).map(lambda b: b.hex()),  # hex of the wrong length
    st.integers(0, 2**40).map(lambda n: f"{n:064x}"),  # well-formed, unknown
    st.sampled_from(["../../etc/passwd", "%00", "0x10", "1e309", "NaN", "-0", "", " ", "🦀" * 9]),
    huge.map(str),
    st.just("f" * 10_000),
)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), huge, st.floats(), nasty_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)


def body_strategy(fields: list[str]) -> st.SearchStrategy[bytes | None]:
    """Bodies: none, bad JSON, any JSON, the schema's fields with wrong values, oversized."""
    typed = st.fixed_dictionaries({}, optional={f: json_value for f in fields}).map(json.dumps)
    return st.one_of(
        st.none(),
        st.binary(max_size=200),
        json_value.map(json.dumps).map(str.encode),
        typed.map(str.encode),
        st.sampled_from([b"{", b"[" * 10_000, b'{"a":' * 5_000, b"\xff\xfe{}", b"null"]),
        st.integers(1, 3).map(lambda n: b'{"raw": "' + b"ab" * (n * 1024 * 1024) + b'"}'),
    )


auth_header = st.one_of(
    st.none(),
    st.sampled_from(["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer " + "0" * 64, "Token x"]),
    st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=100).map(
        lambda t: "Bearer " + t
    ),
)
content_type = st.sampled_from(
    [None, "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/x"]
)


Operation = tuple[str, str, list[str], list[str], list[str]]
"""(method, path template, query parameter names, JSON body fields, form fields)."""


def served_routes() -> list[tuple[str, str, list[str]]]:
    """(method, path template, query names) of every route the app serves, read from the
    route table of an app built over a stub node (HEAD aside; /static as one template)."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    from powchain.api.app import close_app, create_app
    from powchain.node.events import EventBus

    stub = SimpleNamespace(
        config=SimpleNamespace(datadir=Path(tempfile.mkdtemp()), api_host="127.0.0.1"),
        events=EventBus(),
        params=REGTEST,
    )
    app = create_app(stub, token="x")
    found: list[tuple[str, str, list[str]]] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes)
            elif isinstance(route, Mount):
                found.append(("GET", route.path + "/{path}", []))
            else:
                query = (
                    [p.name for p in route.dependant.query_params]
                    if isinstance(route, APIRoute)
                    else []
                )
                found.extend((m, route.path, query) for m in sorted(route.methods - {"HEAD"}))

    walk(app.routes)
    close_app(app)
    return found


class _Forms(HTMLParser):
    """Forms of a page: action -> field names (inputs, textareas, selects)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, list[str]] = {}
        self._action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._action = values.get("action") or ""
            self.forms.setdefault(self._action, [])
        elif (
            tag in ("input", "textarea", "select")
            and self._action is not None
            and values.get("name")
        ):
            self.forms[self._action].append(str(values["name"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None


def served_forms(client: httpx.Client) -> dict[str, list[str]]:
    """The explorer's forms as its pages serve them: action path -> field names."""
    parser = _Forms()
    for page in ("/", "/posts"):
        parser.feed(client.get(page).text)
    return parser.forms


def operations(spec: dict[str, Any], forms: dict[str, list[str]]) -> list[Operation]:
    """Every served route with its query names, JSON body fields (from the OpenAPI schema of
    the route, when it has one) and form fields (from the served forms)."""
    schemas = spec.get("components", {}).get("schemas", {})
    found: list[Operation] = []
    for method, path, query in served_routes():
        op = spec["paths"].get(path, {}).get(method.lower(), {})
        fields: list[str] = []
        for media in op.get("requestBody", {}).get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            fields += list(schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))
        form = forms.get(path, [])
        if not form and method == "POST" and not path.startswith("/api/"):  # a form not shown
            form = sorted({name for names in forms.values() for name in names})
        found.append((method, path, query, fields, form))
    return found


def form_strategy(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Urlencoded bodies: the form's fields and names that collide with code (`error`,
    `form`, `request`), repeated, with nasty values; over the form bound; not UTF-8."""
    names = st.sampled_from([*fields, "error", "form", "request", "before", "__class__", ""])
    pairs = st.lists(st.tuples(names, nasty_text), max_size=30)  # forms allow 20 fields
    return st.one_of(
        pairs.map(lambda p: urlencode(p).encode()),
        st.integers(17, 40).map(lambda k: b"text=" + b"a" * (k * 1024)),
        st.binary(max_size=200),
        st.just(b"%ff%fe=%00&" * 50),
    )


@st.composite
def malformed(draw: st.DrawFn, ops: list[Operation]) -> dict[str, Any]:
    """Keyword arguments of `httpx.Client.build_request` for one malformed request."""
    method, template, query_names, fields, form_fields = draw(st.sampled_from(ops))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(METHODS))
    path = re.sub(r"\{[^}]+\}", lambda _: quote(draw(nasty_text), safe=""), template)
    if draw(st.integers(0, 19)) == 0:
        prefix = draw(st.sampled_from(["/api/v1/", "/", "/static/", "/posts/"]))
        path = prefix + quote(draw(nasty_text), safe="/")
    names = st.sampled_from([*query_names, "limit", "x", "txs", "cursor", "before"])
    params = draw(st.lists(st.tuples(names, nasty_text), max_size=4))
    headers: dict[str, bytes] = {}
    if (auth := draw(auth_header)) is not None:
        headers["Authorization"] = auth.encode("latin-1").strip(b" \t")  # h11's rule
    if (ctype := draw(content_type)) is not None:
        headers["Content-Type"] = ctype.encode()
    body = None
    if method in ("POST", "PUT", "PATCH"):
        if form_fields and draw(st.booleans()):
            body = draw(form_strategy(form_fields))
            headers.setdefault("Content-Type", b"application/x-www-form-urlencoded")
        else:
            body = draw(body_strategy(fields))
    return {"method": method, "url": path, "params": params, "headers": headers, "content": body}


def abuse(node: NodeProcess, examples: int) -> tuple[collections.Counter[int], int]:
    """Send `examples` generated requests; (status counts, RSS growth in KiB after the first
    chunk). The first CHUNK requests are the warm-up: they load what the node loads on first use
    (the explorer's templates, the keystore) and fill SQLite's page cache, which is no leak;
    memory must then stay flat over the rest."""
    client = httpx.Client(base_url=node.api_url, timeout=30)
    spec = client.get("/openapi.json").json()
    forms = served_forms(client)
    assert {"/posts/write", "/posts/pay", "/search"} <= set(forms)  # faucet: devnet only
    ops = operations(spec, forms)
    assert len(ops) >= 35, f"only {len(ops)} operations found"
    OPERATION_COUNT[0] = len(ops)
    statuses: collections.Counter[int] = collections.Counter()
    errors: list[str] = []

    def send(args: dict[str, Any]) -> None:
        request = client.build_request(**args)
        response = client.send(request, stream=True)  # /events streams: status only
        response.close()
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            errors.append(f"{request.method} {request.url} -> {response.status_code}")
        assert response.status_code < 500, errors[-1]

    rss = [rss_kib(node.process.pid)]
    try:
        for start in range(0, examples, CHUNK):
            run = settings(
                max_examples=min(CHUNK, examples - start),
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )(given(malformed(ops))(send))
            run()
            rss.append(rss_kib(node.process.pid))
    finally:
        client.close()
    log.info("RSS KiB after each chunk of %d requests: %s", CHUNK, rss)
    return statuses, rss[-1] - rss[min(1, len(rss) - 1)]


def check_abuse(tmp_path: Path, examples: int, scenario: str) -> None:
    node = NodeProcess(0, tmp_path / "node", connect=["127.0.0.1:1"])
    node.start()
    try:
        node.mine(3, Wallet.new(REGTEST, "abuse").address)
        statuses, grown = abuse(node, examples)
        node.check_alive()
        assert node.status()["height"] == 3
    finally:
        node.stop()
    log.info("statuses: %s", sorted(statuses.items()))
    sent = sum(statuses.values())
    assert grown < RSS_BOUND_KIB, f"RSS grew {grown} KiB"
    common = ", ".join(f"{code}: {n}" for code, n in statuses.most_common(5))
    record(
        scenario,
        f"{sent:,} generated malformed requests over all {OPERATION_COUNT[0]} served operations "
        f"(REST, explorer pages and forms, docs, static): 0 server errors ({common}), "
        f"alive, RSS +{grown / 1024:.1f} MiB after the first {CHUNK}",
        f"no 5xx, alive, RSS < +{RSS_BOUND_KIB // 1024} MiB",
        True,
    )


def test_api_abuse_short(tmp_path: Path) -> None:
    check_abuse(tmp_path, 500, "6 API abuse (short)")


@pytest.mark.soak
def test_api_abuse(tmp_path: Path) -> None:
    check_abuse(tmp_path, 10_000, "6 API abuse")
