// powchain explorer: local times, and live regions refreshed from /api/v1/events.
// A region is an element with an id and data-live="block tx reorg": when one of those events
// arrives, the page is fetched again and the region replaced (never while it has the focus).
// A page shown as the answer to a form (POST) names its GET address in data-refresh-url.
"use strict";
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[data-ts]").forEach(function (el) {
      var ts = Number(el.getAttribute("data-ts"));
      if (Number.isFinite(ts)) el.textContent = new Date(ts * 1000).toLocaleString();
    });
  }

  var pending = {};
  var timer = null;
  var busy = false;

  function refresh() {
    timer = null;
    if (busy) { schedule(); return; }
    var kinds = pending;
    pending = {};
    var regions = Array.prototype.filter.call(
      document.querySelectorAll("[data-live][id]"),
      function (el) {
        return el.getAttribute("data-live").split(" ").some(function (k) { return kinds[k]; });
      });
    if (!regions.length) return;
    busy = true;
    fetch(document.body.getAttribute("data-refresh-url") || location.href, { headers: { "X-Explorer-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (!fresh || el.contains(document.activeElement)) return;
          el.replaceWith(fresh);
          localTimes(fresh);
        });
        var tip = doc.getElementById("footer-tip");
        if (tip) document.getElementById("footer-tip").textContent = tip.textContent;
      })
      .catch(function () { /* the node went away; the status line says so */ })
      .finally(function () { busy = false; });
  }

  function schedule() { if (timer === null) timer = setTimeout(refresh, 250); }

  function connect() {
    var status = document.getElementById("live-status");
    if (!window.EventSource) { if (status) status.textContent = "live updates: unsupported"; return; }
    var source = new EventSource("/api/v1/events");
    source.onopen = function () {
      if (status) status.textContent = "live updates: on";
      // events sent before the stream opened (or while it was down) are lost: catch up once
      pending = { block: true, tx: true, reorg: true };
      schedule();
    };
    source.onerror = function () { if (status) status.textContent = "live updates: reconnecting…"; };
    ["block", "tx", "reorg"].forEach(function (kind) {
      source.addEventListener(kind, function () { pending[kind] = true; schedule(); });
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // The admin token is asked once per browser session: remembered in sessionStorage when a
  // form is sent, filled into every token field afterwards (this tab only, until it closes).
  var TOKEN_KEY = "powchain-admin-token";
  function rememberToken() {
    var saved = null;
    try { saved = window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return; }
    document.querySelectorAll('input[name="token"]').forEach(function (el) {
      if (saved && !el.value) el.value = saved;
      if (el.form) el.form.addEventListener("submit", function () {
        if (el.value) window.sessionStorage.setItem(TOKEN_KEY, el.value.trim());
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    rememberToken();
    connect();
  });
})();
