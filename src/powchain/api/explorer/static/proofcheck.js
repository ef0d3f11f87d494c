// powchain proof checks in the browser (issue 15), the model being powchain.light.proof:
// SHA-256 by SubtleCrypto, BigInt targets, nothing trusted from the page's server but the
// headers it serves, and those are checked: each links to the one before, meets its own bits
// (within the network's pow limit), and the first is the proof's block. Hashes are Uint8Array
// in internal order; people's hex is byte-reversed. Every failure throws ProofError(reason).
"use strict";
var PowchainProof = (function () {
  function ProofError(reason, message) {
    this.name = "ProofError";
    this.reason = reason;
    this.message = reason + ": " + message;
  }
  ProofError.prototype = Object.create(Error.prototype);

  function fromHex(hex) {
    if (typeof hex !== "string" || hex.length % 2 || /[^0-9a-fA-F]/.test(hex)) {
      throw new ProofError("bad-proof", "not hex");
    }
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }
  function toHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function reversed(bytes) { return Uint8Array.from(bytes).reverse(); }
  function hash32(hex, what) {
    var raw = fromHex(hex);
    if (raw.length !== 32) throw new ProofError("bad-proof", what + " is not 32 bytes");
    return raw;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function concat(a, b) {
    var out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  async function sha256d(bytes) { return sha256(await sha256(bytes)); }

  function u32(bytes, at) {
    return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  }
  function bitsToTarget(bits) {
    var size = bits >>> 24, word = BigInt(bits & 0x007fffff);
    if (bits & 0x00800000 && word) throw new ProofError("bad-diffbits", "negative target");
    var target = size <= 3 ? word >> BigInt(8 * (3 - size)) : word << BigInt(8 * (size - 3));
    if (target === 0n || target >= (1n << 256n)) throw new ProofError("bad-diffbits", "target out of range");
    return target;
  }
  function leInt(bytes) {
    var n = 0n;
    for (var i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
    return n;
  }

  // A 64-byte inner node that also reads as a transaction: only a coinbase can be 64 bytes
  // (version 0, 53 bytes of fields, CompactSize 10, 10 bytes of data).
  function parsesAsTx(pair) { return pair.length === 64 && pair[0] === 0 && pair[53] === 10; }

  async function foldBranch(leaf, index, branch) {
    if (branch.length > 32) throw new ProofError("bad-branch", "branch-too-long");
    if (!Number.isInteger(index) || index < 0 || index >= Math.pow(2, branch.length)) {
      throw new ProofError("bad-branch", "index-not-consumed: the index does not fit the branch");
    }
    var node = leaf;
    for (var level = 0; level < branch.length; level++) {
      var sibling = branch[level], right = Math.floor(index / Math.pow(2, level)) % 2 === 1;
      if (right && equal(sibling, node)) throw new ProofError("bad-branch", "duplicate-right");
      var pair = right ? concat(sibling, node) : concat(node, sibling);
      if (parsesAsTx(pair)) throw new ProofError("inner-node-is-tx", "an inner node parses as a transaction");
      node = await sha256d(pair);
    }
    return node;
  }

  // Check headers[0..] (80 bytes each, from the proof's block up to the tip): links and
  // proof of work. Returns the number of confirmations they carry.
  async function checkHeaders(headers, firstHash, powLimitBits) {
    var limit = bitsToTarget(powLimitBits), prev = null;
    for (var i = 0; i < headers.length; i++) {
      var raw = headers[i];
      if (raw.length !== 80) throw new ProofError("bad-header", "a header is 80 bytes");
      if (prev !== null && !equal(raw.subarray(4, 36), prev)) {
        throw new ProofError("bad-prevblk", "header " + i + " does not link to the one before");
      }
      var hash = await sha256d(raw), target = bitsToTarget(u32(raw, 72));
      if (target > limit) throw new ProofError("bad-diffbits", "target above the pow limit");
      if (leInt(hash) > target) throw new ProofError("high-hash", "a header lacks its proof of work");
      if (i === 0 && !equal(hash, firstHash)) {
        throw new ProofError("unknown-block", "the node's chain does not hold the proof's block at its height");
      }
      prev = hash;
    }
    return headers.length;
  }

  async function fetchHeaders(from, tipHeight) {
    var out = [];
    while (from + out.length <= tipHeight && out.length < 20000) {
      var r = await fetch("/api/v1/headers?format=bin&count=2000&from=" + (from + out.length));
      if (!r.ok) throw new ProofError("unreachable", "headers: HTTP " + r.status);
      var raw = new Uint8Array(await r.arrayBuffer());
      if (!raw.length) break;
      for (var at = 0; at + 80 <= raw.length; at += 80) out.push(raw.slice(at, at + 80));
    }
    return out;
  }

  // proof: the TxProof JSON of GET /api/v1/txs/{txid}/proof. Resolves to
  // {height, time, confirmations, block} or rejects with a ProofError.
  async function verifyTxProof(proof, chainInfo) {
    var txid = reversed(hash32(proof.txid, "txid"));
    var block = reversed(hash32(proof.block, "block"));
    var header = fromHex(proof.header);
    if (header.length !== 80) throw new ProofError("bad-proof", "the header is not 80 bytes");
    if (!Array.isArray(proof.branch)) throw new ProofError("bad-proof", "branch is not a list");
    var branch = proof.branch.map(function (h) { return hash32(h, "branch"); });
    if (!equal(await sha256d(header), block)) throw new ProofError("block-mismatch", "the header is not the named block");
    var root = await foldBranch(txid, proof.index, branch);
    if (!equal(root, header.subarray(36, 68))) {
      throw new ProofError("merkle-mismatch", "the branch does not fold to the header's merkle root");
    }
    if (proof.tx !== undefined && !equal(await sha256d(fromHex(proof.tx)), txid)) {
      throw new ProofError("tx-mismatch", "the raw transaction is not the txid");
    }
    var headers = await fetchHeaders(proof.height, chainInfo.height);
    var confirmations = await checkHeaders(headers, block, chainInfo.powLimitBits);
    if (confirmations < 1) throw new ProofError("unknown-block", "the node has no header at that height");
    return { height: proof.height, time: u32(header, 68), confirmations: confirmations, block: proof.block };
  }

  // A .pcproof (light.notary) and the file's bytes, both local; only headers are fetched.
  async function verifyPcProof(fileBytes, pc, chainInfo) {
    if (!pc || pc.format !== "powchain-pcproof") throw new ProofError("bad-proof", "not a powchain-pcproof");
    if (pc.version !== 1) throw new ProofError("unknown-version", "version " + pc.version);
    if (pc.genesis !== chainInfo.genesis) throw new ProofError("wrong-network", "the proof is for " + pc.network);
    var digest = await sha256(fileBytes);
    if (toHex(digest) !== pc.file.sha256) {
      throw new ProofError("file-changed", "the file's SHA-256 is " + toHex(digest).slice(0, 16) + "..., not the notarized one");
    }
    var leafBranch = pc.leaf_branch.map(function (h) { return hash32(h, "leaf_branch"); });
    var root = await foldBranch(digest, pc.leaf_index, leafBranch);
    var tx = fromHex(pc.tx);
    // a transfer's data sits after 1+4+8+32+32+8+8 bytes: CompactSize 33, then 0x02 | root
    if (tx.length !== 93 + 1 + 33 + 64 || tx[0] !== 1 || tx[93] !== 33 || tx[94] !== 2 ||
        !equal(tx.subarray(95, 127), root)) {
      throw new ProofError("tx-mismatch", "the transaction does not commit to this file's root");
    }
    var proof = Object.assign({}, pc.tx_proof, { tx: pc.tx });
    return verifyTxProof(proof, chainInfo);
  }

  return { ProofError: ProofError, verifyTxProof: verifyTxProof, verifyPcProof: verifyPcProof, toHex: toHex };
})();

// Page wiring: the tx page's "verify this proof yourself" and the drop-a-file page.
(function () {
  function chainInfo(el) {
    return {
      height: Number(el.getAttribute("data-tip")),
      powLimitBits: Number(el.getAttribute("data-pow-limit")),
      genesis: el.getAttribute("data-genesis"),
    };
  }
  function say(out, ok, text) {
    out.textContent = text;
    out.className = ok ? "proof-ok" : "proof-bad";
    out.setAttribute("data-result", ok ? "ok" : "failed");
  }
  function when(ts) { return new Date(ts * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC"; }
  function sentence(got) {
    return "confirmed in block " + got.height + " at " + when(got.time) + ", " + got.confirmations +
      " confirmation" + (got.confirmations === 1 ? "" : "s") + " (checked in this browser)";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("verify-proof");
    if (button) {
      button.addEventListener("click", async function () {
        var out = document.getElementById("proof-result");
        say(out, false, "checking…");
        out.setAttribute("data-result", "busy");
        try {
          var status = await (await fetch("/api/v1/status")).json();
          var info = chainInfo(button);
          info.height = status.height;
          var r = await fetch("/api/v1/txs/" + button.getAttribute("data-txid") + "/proof");
          if (!r.ok) throw new PowchainProof.ProofError("unreachable", "proof: HTTP " + r.status);
          say(out, true, sentence(await PowchainProof.verifyTxProof(await r.json(), info)));
        } catch (err) {
          say(out, false, "proof rejected: " + (err.message || err));
        }
      });
    }
    var form = document.getElementById("pcproof-form");
    if (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        var out = document.getElementById("pcproof-result");
        out.setAttribute("data-result", "busy");
        try {
          var file = document.getElementById("pc-file").files[0];
          var proofFile = document.getElementById("pc-proof").files[0];
          if (!file || !proofFile) throw new PowchainProof.ProofError("missing", "choose the file and its .pcproof");
          var pc = JSON.parse(await proofFile.text());
          var status = await (await fetch("/api/v1/status")).json();
          var info = chainInfo(form);
          info.height = status.height;
          var got = await PowchainProof.verifyPcProof(new Uint8Array(await file.arrayBuffer()), pc, info);
          say(out, true, file.name + " existed by " + when(got.time) + " (block " + got.height + ", " +
            got.confirmations + " confirmation" + (got.confirmations === 1 ? "" : "s") + ")");
        } catch (err) {
          say(out, false, "proof rejected: " + (err.message || err));
        }
      });
      var zone = document.getElementById("drop-zone");
      zone.addEventListener("dragover", function (e) { e.preventDefault(); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        Array.prototype.forEach.call(e.dataTransfer.files, function (f) {
          var input = document.getElementById(/\.pcproof$/.test(f.name) ? "pc-proof" : "pc-file");
          var dt = new DataTransfer();
          dt.items.add(f);
          input.files = dt.files;
        });
      });
    }
  });
})();
