"""The explorer's pages (server-rendered, HTML): dashboard, chain view, blocks, block,
transaction, address, mempool, peers, miners (the Stratum port), post wall and search. Each
route reads the Node facade, builds a small view model (`present`, `chainview`) and renders a
Jinja2 template. Routes are `async def` so they run on the node's loop, like the REST API's.
"""

from __future__ import annotations

import functools
import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...consensus.engine import engine_for
from ...consensus.errors import Rejected
from ...core.hashing import hash_to_hex, hex_to_hash
from ...core.keys import AddressError, decode_address
from ...core.units import parse_coins
from ..bounds import before_query, cursor_query
from ..history import history_page
from ..nodewallet import NodeWallet, WalletDisabled
from ..routes import connected_peers, mempool_stats, stratum_stats
from ..schemas import address_or_none
from . import chainview, present

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

__all__ = ["router", "templates"]

HERE = Path(__file__).parent


@functools.cache
def templates() -> Jinja2Templates:
    """The pages' Jinja2 environment, built on the first page served (an idle node, or one
    only used through /api/v1, never loads jinja2: about 2 MB of RSS)."""
    from fastapi.templating import Jinja2Templates

    env = Jinja2Templates(directory=str(HERE / "templates"))
    env.env.filters["coins"] = present.coins
    env.env.globals["si"] = present.si
    env.env.filters["iso"] = present.iso_utc
    return env


router = APIRouter(include_in_schema=False)

PAGE = 20
CHAIN_DEPTH = 16
MAX_HEIGHT_DIGITS = 10
MAX_FORM_BYTES = 16_384
MAX_FORM_FIELDS = 20


def _node(request: Request) -> Any:
    return request.app.state.node


PAGE_HEADERS = {
    "X-Frame-Options": "DENY",  # no other site frames the wallet's forms (clickjacking)
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # txids and addresses in URLs stay on this node
}
"""Headers of every page: the forms move coins, so no other origin may frame them."""


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    node = _node(request)
    context.update(
        network=node.params.name,
        tip_height=node.tip.height,
        validators_nav=engine_for(node.params).producer == "proposer",
    )
    response = templates().TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def _not_found(request: Request, what: str) -> HTMLResponse:
    return _render(request, "notfound.html", 404, what=what)


def _confirmations(node: Any, height: int | None) -> int:
    return 0 if height is None else node.tip.height - height + 1


# -- dashboard, chain, blocks ----------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    node = _node(request)
    intervals, difficulty = present.chart_data(node)
    stats = mempool_stats(node)
    pending = [present.tx_view(t, node.params) for t in node.mempool.txs(8)]
    return _render(
        request,
        "dashboard.html",
        tip=node.tip,
        tip_hash=hash_to_hex(node.tip.hash),
        difficulty=node.difficulty(),
        hash_rate=node.network_hashrate(),
        validators=node.engine.status(node).get("validators"),  # the engine's line, if any
        mempool=stats,
        peers=connected_peers(node),
        synced=node.is_synced(),
        blocks=present.block_rows(node, node.tip.height, 10),
        intervals=intervals,
        difficulty_series=difficulty,
        pending=pending,
        chart_w=present.CHART_WIDTH,
        chart_h=present.CHART_HEIGHT,
    )


@router.get("/chain", response_class=HTMLResponse)
async def chain(request: Request) -> HTMLResponse:
    node = _node(request)
    picture = chainview.layout(node.recent_entries(CHAIN_DEPTH))
    return _render(
        request, "chain.html", picture=picture, box_w=chainview.BOX_W, box_h=chainview.BOX_H
    )


@router.get("/blocks", response_class=HTMLResponse)
async def blocks(
    request: Request, before: int | None = before_query("newest height + 1", 1)
) -> HTMLResponse:
    node = _node(request)
    top = node.tip.height if before is None else min(before - 1, node.tip.height)
    rows = present.block_rows(node, top, PAGE)
    older = top - PAGE + 1 if top - PAGE + 1 > 0 else None
    return _render(request, "blocks.html", blocks=rows, older=older)


@router.get("/block/{block_id}", response_class=HTMLResponse)
async def block(request: Request, block_id: str) -> HTMLResponse:
    node = _node(request)
    entry = _find_block(node, block_id)
    body = None if entry is None else node.get_block(entry.hash)
    if entry is None or body is None:
        return _not_found(request, f"block {block_id}")
    active = node.in_active_chain(entry)
    children = [
        {"hash": hash_to_hex(c.hash), "active": node.in_active_chain(c)}
        for c in node.children(entry.hash)
    ]
    return _render(
        request,
        "block.html",
        entry=entry,
        hash=hash_to_hex(entry.hash),
        prev=hash_to_hex(entry.header.prev_block) if entry.prev is not None else None,
        merkle=hash_to_hex(entry.header.merkle_root),
        active=active,
        confirmations=_confirmations(node, entry.height) if active else None,
        difficulty=present.difficulty_of(entry.bits, node.params.pow_limit_bits),
        size=body.size,
        txs=[present.tx_view(tx, node.params) for tx in body.txs],
        children=children,
        signers=engine_for(node.params).trailer_info(body, node.params).get("signers"),
    )


def _find_block(node: Any, block_id: str) -> Any:
    """IndexEntry for a height of the active chain or a block hash; None when unknown."""
    if block_id.isdigit() and len(block_id) <= MAX_HEIGHT_DIGITS:
        found = node.block_hash_at(int(block_id))
        return None if found is None else node.entry(found)
    try:
        return node.entry(hex_to_hash(block_id))
    except ValueError:
        return None


# -- transactions, addresses, mempool, peers -----------------------------------------------


@router.get("/tx/{txid}", response_class=HTMLResponse)
async def tx(request: Request, txid: str) -> HTMLResponse:
    node = _node(request)
    try:
        found = node.get_transaction(hex_to_hash(txid))
    except ValueError:
        found = None
    if found is None:
        return _not_found(request, f"transaction {txid}")
    confirmed = found.block_hash is not None
    return _render(
        request,
        "tx.html",
        tx=present.tx_view(found.tx, node.params),
        confirmed=confirmed,
        block_hash=hash_to_hex(found.block_hash) if confirmed else None,
        height=found.height,
        block_time=node.entry(found.block_hash).time if confirmed else None,
        confirmations=_confirmations(node, found.height),
        **_proof_context(node),
    )


def _proof_context(node: Any) -> dict[str, Any]:
    """What the in-browser proof check (static/proofcheck.js) needs of the network."""
    return {
        "pow_limit_bits": node.params.pow_limit_bits,
        "genesis": hash_to_hex(node.block_hash_at(0)),
    }


@router.get("/verify", response_class=HTMLResponse)
async def verify(request: Request) -> HTMLResponse:
    """Drop a file and its .pcproof: checked in the browser, the file is never uploaded."""
    return _render(request, "verify.html", **_proof_context(_node(request)))


@router.get("/address/{address}", response_class=HTMLResponse)
async def address(
    request: Request, address: str, cursor: str | None = cursor_query()
) -> HTMLResponse:
    node = _node(request)
    try:
        pub = decode_address(address, node.params.hrp)
    except AddressError:
        return _not_found(request, f"address {address}")
    try:
        page, next_cursor = history_page(node, pub, cursor or None, PAGE)
    except ValueError:  # BadParameter, or a cursor storage cannot place
        return _render(request, "notfound.html", 400, what=f"page {cursor!r} of {address}")
    rows = [
        {
            "tx": present.tx_view(row.found.tx, node.params),
            "height": row.found.height,
            "kind": row.kind,
            "delta": row.delta,
            "fee": row.fee_paid,
            "balance_after": row.balance_after,
        }
        for row in page
    ]
    return _render(
        request,
        "address.html",
        address=address,
        account=node.account_info(pub),
        rows=rows,
        next_cursor=next_cursor,
        first_page=not cursor,
    )


@router.get("/mempool", response_class=HTMLResponse)
async def mempool(request: Request) -> HTMLResponse:
    node = _node(request)
    txs = [present.tx_view(t, node.params) for t in node.mempool.txs(200)]
    return _render(request, "mempool.html", stats=mempool_stats(node), txs=txs)


@router.get("/peers", response_class=HTMLResponse)
async def peers(request: Request) -> HTMLResponse:
    network = _node(request).network
    infos = network.peer_info() if network is not None else []
    bans = network.ban_list() if network is not None else []
    return _render(
        request,
        "peers.html",
        peers=[p for p in infos if p.get("connected", True)],
        refused=[p for p in infos if not p.get("connected", True)],
        bans=bans,
        networking=network is not None,
    )


@router.get("/validators", response_class=HTMLResponse)
async def validators(request: Request) -> HTMLResponse:
    """Validator networks (issue 14): each validator's status, pending votes, evidence."""
    node = _node(request)
    report = node.engine.validators_report(node)
    if report is None:
        return _not_found(request, "validators (this is a proof-of-work network)")
    return _render(request, "validators.html", report=report)


@router.get("/miners", response_class=HTMLResponse)
async def miners(request: Request) -> HTMLResponse:
    """The Stratum port: URL, workers with their hash rate and shares, blocks found."""
    stats = stratum_stats(_node(request))
    rejected = sum(stats["shares"]["rejected"].values())
    return _render(request, "miners.html", stratum=stats, rejected_total=rejected)


# -- post wall and the node-side wallet ------------------------------------------------------


def _wallet(request: Request) -> NodeWallet:
    return request.app.state.node_wallet  # type: ignore[no-any-return]


@router.get("/posts", response_class=HTMLResponse)
async def wall(
    request: Request, before: int | None = before_query("only posts below this height", 1)
) -> HTMLResponse:
    return _render_wall(request, before)


def _render_wall(request: Request, before: int | None = None, **form: Any) -> HTMLResponse:
    """The wall; `form` echoes a failed form's fields and `error` (shown with status 200, as
    form frameworks do, so the browser reports no failed load for a typo)."""
    node = _node(request)
    records = node.posts(before, PAGE)
    posts = [
        {
            "txid": hash_to_hex(r.txid),
            "author": address_or_none(node.params, r.author),
            "text": r.text,
            "height": r.height,
            "time": r.time,
            "confirmations": _confirmations(node, r.height),
        }
        for r in records
    ]
    older = posts[-1]["height"] if len(posts) == PAGE else None
    wallet = _wallet(request)
    balance = None
    if wallet.address is not None:
        balance = node.account_info(decode_address(wallet.address, node.params.hrp))
    return _render(
        request,
        "wall.html",
        posts=posts,
        older=older,
        wallet=wallet,
        balance=balance,
        faucet=bool(node.params.genesis_allocations) and node.params.name == "devnet",
        form=form,
        refresh_url="/posts" if form else None,
    )


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (at most MAX_FORM_BYTES and MAX_FORM_FIELDS) as a dict of first
    values; {} for one over either bound (the form then fails its own checks)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # more fields than any form has (was a 500)
        return {}
    return {k: v[0] for k, v in parsed.items()}


def _token_ok(request: Request, token: str) -> bool:
    expected = request.app.state.token.encode()
    return bool(token) and hmac.compare_digest(token.strip().encode(), expected)


@router.post("/posts/write", response_class=HTMLResponse)
async def write_post(request: Request) -> Response:
    form = await _form(request)
    text = form.get("text", "")
    if not text.strip():
        return _render_wall(request, None, error="write some text first", text=text)

    def send(wallet: NodeWallet, passphrase: str) -> bytes:
        return wallet.post(passphrase, text)

    return _wallet_action(request, form, send, text=text)


@router.post("/posts/pay", response_class=HTMLResponse)
async def pay(request: Request) -> Response:
    form = await _form(request)
    node = _node(request)
    try:
        recipient = decode_address(form.get("to", "").strip(), node.params.hrp)
        units = parse_coins(form.get("amount", "").strip())
    except (AddressError, ValueError) as exc:  # echo only the fields the form shows: a
        # field named `error` (or `passphrase`) must not reach the page's keywords
        echo = {"to": form.get("to", ""), "amount": form.get("amount", "")}
        return _render_wall(request, None, error=f"payment: {exc}", **echo)

    def send(wallet: NodeWallet, passphrase: str) -> bytes:
        return wallet.pay(passphrase, recipient, units)

    return _wallet_action(request, form, send, to=form.get("to", ""), amount=form.get("amount"))


@router.post("/posts/faucet", response_class=HTMLResponse)
async def faucet(request: Request) -> Response:
    form = await _form(request)
    if not _node(request).params.genesis_allocations:
        return _render_wall(request, None, error="this network has no faucet")
    return _wallet_action(request, form, lambda wallet, passphrase: wallet.faucet(passphrase))


def _wallet_action(request: Request, form: dict[str, str], send: Any, **echo: Any) -> Response:
    """Check the admin token, run `send(wallet, passphrase)`, land on the new transaction's
    page (303); on failure show the wall again with the reason."""
    from ...wallet.keystore import KeystoreError  # not at import: an idle node skips it

    if not _token_ok(request, form.get("token", "")):
        return _render_wall(request, None, error="wrong admin token (see api.cookie)", **echo)
    try:
        txid = send(_wallet(request), form.get("passphrase", ""))
    except WalletDisabled as exc:
        return _render_wall(request, None, error=str(exc), **echo)
    except (KeystoreError, ValueError) as exc:
        return _render_wall(request, None, error=f"wallet: {exc}", **echo)
    except Rejected as exc:
        return _render_wall(request, None, error=f"rejected: {exc.reason}", **echo)
    return RedirectResponse(f"/tx/{hash_to_hex(txid)}", status_code=303)


# -- search --------------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, q: str = Query("", max_length=200)) -> Response:
    """A height, block hash, txid or address redirects to its page; anything else says so."""
    node = _node(request)
    target = _search_target(node, q.strip())
    if target is not None:
        return RedirectResponse(target, status_code=303)
    return _render(request, "search.html", query=q)


def _search_target(node: Any, q: str) -> str | None:
    if q.isdigit() and len(q) <= MAX_HEIGHT_DIGITS:
        return f"/block/{q}" if node.block_hash_at(int(q)) is not None else None
    try:
        raw = hex_to_hash(q)
    except ValueError:
        raw = None
    if raw is not None:
        entry = node.entry(raw)
        if entry is not None and entry.has_data:
            return f"/block/{q.lower()}"
        if node.get_transaction(raw) is not None:
            return f"/tx/{q.lower()}"
        return None
    try:
        decode_address(q, node.params.hrp)
    except AddressError:
        return None
    return f"/address/{q}"
