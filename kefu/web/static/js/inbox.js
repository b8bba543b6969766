/* Kefu agent workspace: keeps /inbox live over the agent socket.
 *
 * The server renders the list and the conversation pane; this file (1) draws the message log
 * from event JSON (the same shape the socket sends), (2) appends live events, (3) re-fetches
 * the list fragment when a conversation changes, and (4) sends replies with a client id,
 * keeping them until acknowledged and resending after a reconnect (the server deduplicates).
 */
(function () {
  "use strict";
  var root = document.getElementById("inbox");
  if (!root) return;
  var T = JSON.parse(document.getElementById("inbox-i18n").textContent);
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  var me = +root.dataset.me;
  var cursor = +root.dataset.cursor || 0;
  var current = +root.dataset.current || null;
  var view = root.dataset.view, status = root.dataset.status || "open";
  var ws = null, retry = 0, pingTimer = null, lastSeen = 0;
  var seen = {}, rows = {}, pending = {}, customerReadUpTo = 0, typingTimer = null, typingSentAt = 0;
  var listTimer = null, baseTitle = document.title;

  function fmt(s, vars) { return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] != null ? vars[k] : ""; }); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  var tz = root.dataset.tz || undefined; // times in the shop's zone, like the server-rendered ones
  function hhmm(iso) { return new Date(iso).toLocaleTimeString("zh-CN", { timeZone: tz, hour: "2-digit", minute: "2-digit", hour12: false }); }
  function uid() { return "a-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 9); }
  function $(sel, ctx) { return (ctx || document).querySelector(sel); }
  function sendFrame(obj) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(obj)); return true; } return false; }
  function post(url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body || {}), credentials: "same-origin" });
  }

  // --- the message log ---------------------------------------------------------------------
  var log = null, lastStamp = 0;
  function atBottom() { return !log || log.scrollHeight - log.scrollTop - log.clientHeight < 120; }
  function scrollDown(force) { if (log && (force || atBottom())) log.scrollTop = log.scrollHeight; }
  function stamp(iso) {
    var t = Date.parse(iso);
    if (t - lastStamp > 5 * 60 * 1000) log.appendChild(el("div", "chat-time", new Date(iso).toLocaleString("zh-CN", { timeZone: tz, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false })));
    lastStamp = t;
  }
  function systemLine(text) {
    // Stay above replies still being sent, so the log reads in the order things happened.
    var line = el("div", "chat-system", text), first = log.querySelector(".chat-row[data-state=sending]");
    log.insertBefore(line, first);
  }

  function messageRow(m, state) {
    var key = m.client_id || ("m" + m.id);
    var row = rows[key];
    if (row) { if (m.id) row.dataset.id = m.id; setState(row, state); return row; }
    stamp(m.created_at || new Date().toISOString());
    var mine = m.sender_kind !== "customer";
    var note = m.audience === "internal";
    row = el("div", "chat-row " + (mine ? "out" : "in") + (note ? " note" : ""));
    var meta = el("div", "chat-meta");
    meta.appendChild(el("span", "chat-author", note ? (m.sender_name + " · " + T.note) : (m.sender_name || T.customer)));
    meta.appendChild(el("time", null, hhmm(m.created_at || new Date().toISOString())));
    row.appendChild(meta);
    row.appendChild(el("div", "chat-bubble", m.body));
    if (mine && !note) row.appendChild(el("div", "chat-state"));
    if (m.id) row.dataset.id = m.id;
    log.appendChild(row);
    rows[key] = row;
    setState(row, state);
    return row;
  }
  function setState(row, state) {
    var s = row.querySelector(".chat-state"); if (!s) return;
    if (state === "sent") state = +row.dataset.id <= customerReadUpTo ? "read" : "unread";
    row.dataset.state = state;
    s.textContent = T[state] || "";
    s.className = "chat-state " + state;
  }
  function refreshReceipts() {
    Object.keys(rows).forEach(function (k) { var r = rows[k]; if (r.dataset.id && r.dataset.state !== "sending" && r.dataset.state !== "failed") setState(r, "sent"); });
  }

  function applyToPane(ev) {
    var stick = atBottom();
    var name = ev.actor && ev.actor.name;
    if ((ev.kind === "message" || ev.kind === "note") && ev.message) {
      var m = ev.message;
      messageRow(m, "sent");
      if (m.client_id) delete pending[m.client_id];
      if (m.sender_kind === "customer") { showTyping(false); markRead(); }
    } else if (ev.kind === "opened") { systemLine(T.opened);
    } else if (ev.kind === "assigned" || ev.kind === "transferred") { systemLine(fmt(T[ev.kind], { name: ev.data.assignee_name || "" }));
    } else if (ev.kind === "unassigned") { systemLine(T.unassigned);
    } else if (ev.kind === "resolved" || ev.kind === "reopened") { systemLine(fmt(T[ev.kind], { name: name || "" }));
    } else if (ev.kind === "read" && ev.data.by === "customer") { customerReadUpTo = Math.max(customerReadUpTo, ev.data.up_to || 0); refreshReceipts(); }
    scrollDown(stick);
  }

  function updateHeader(summary) {
    var chat = $(".chat"); if (!chat || +chat.dataset.conversation !== summary.id) return;
    chat.dataset.status = summary.status;
    var badge = $("[data-status-badge]", chat);
    var tone = { open: "green", pending: "amber", snoozed: "purple", resolved: "grey" }[summary.status] || "grey";
    var label = ($("#inbox-status option[value=" + summary.status + "]") || {}).textContent || summary.status;
    badge.className = "badge chat-status badge-" + tone; badge.textContent = label;
    $("[data-assignee-label]", chat).textContent = summary.assignee_name ? fmt(T.assigned, { name: summary.assignee_name }) : T.unassigned;
    $("[data-action=assign-me]", chat).hidden = summary.assignee_id === me;
    $("[data-action=resolve]", chat).hidden = summary.status === "resolved";
    $("[data-action=reopen]", chat).hidden = summary.status !== "resolved";
  }

  function onEvent(ev) {
    if (seen[ev.id]) return;
    seen[ev.id] = true;
    cursor = Math.max(cursor, ev.id);
    if (ev.conversation_id === current && log) applyToPane(ev);
    if (ev.conversation) { updateHeader(ev.conversation); refreshListSoon(); }
    if (ev.kind === "message" && ev.message && ev.message.sender_kind === "customer" && (document.hidden || ev.conversation_id !== current)) {
      document.title = "● " + T.new_message + " · " + baseTitle;
    }
  }

  // --- the list ----------------------------------------------------------------------------
  function refreshListSoon() { clearTimeout(listTimer); listTimer = setTimeout(refreshList, 250); }
  function refreshList() {
    var q = new URLSearchParams({ view: view, status: status });
    if (current) q.set("c", current);
    fetch("/inbox/_list?" + q.toString(), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html == null) return;
      $("#inbox-items").innerHTML = html;
      tickWaiting();
    });
    fetch("/api/v1/conversations?view=" + view + "&status=" + status, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) return;
      Object.keys(data.counts).forEach(function (k) { var c = $("[data-count=" + k + "]"); if (c) c.textContent = data.counts[k]; });
    });
  }
  function ago(iso) {
    var min = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (min < 1) return T.just_now;
    if (min < 60) return fmt(T.minutes, { n: min });
    return fmt(T.hours, { n: Math.floor(min / 60) });
  }
  function tickWaiting() {
    document.querySelectorAll(".inbox-item[data-waiting]").forEach(function (a) {
      var w = $("[data-wait]", a); if (!w) return;
      var min = (Date.now() - Date.parse(a.dataset.waiting)) / 60000;
      w.textContent = fmt(T.waiting, { time: ago(a.dataset.waiting) });
      w.className = "inbox-wait" + (min >= 3 ? " late" : min >= 1 ? " soon" : "");
    });
  }

  // --- opening a conversation ----------------------------------------------------------------
  function mountPane() {
    var chat = $(".chat");
    rows = {}; lastStamp = 0; customerReadUpTo = 0;
    log = chat ? $("#chat-log") : null;
    if (!chat) return;
    current = +chat.dataset.conversation;
    var evs = JSON.parse($("#chat-events").textContent);
    evs.forEach(function (ev) { if (ev.kind === "read" && ev.data.by === "customer") customerReadUpTo = Math.max(customerReadUpTo, ev.data.up_to); });
    evs.forEach(function (ev) { seen[ev.id] = true; cursor = Math.max(cursor, ev.id); applyToPane(ev); });
    Object.keys(pending).forEach(function (k) { var p = pending[k]; if (p.conversation_id === current) messageRow(p.message, "sending"); });
    scrollDown(true);
    bindComposer(chat);
    markRead();
  }
  function open(id, push) {
    fetch("/inbox/_pane/" + id, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html == null) return;
      var pane = $("#inbox-pane");
      pane.innerHTML = html;
      // Events already seen elsewhere must still be drawn in the freshly opened pane.
      JSON.parse($("#chat-events").textContent).forEach(function (ev) { delete seen[ev.id]; });
      current = id; root.dataset.current = id;
      mountPane();
      document.querySelectorAll(".inbox-item").forEach(function (a) { a.classList.toggle("active", +a.dataset.id === id); });
      if (push) history.pushState({ c: id }, "", "/inbox?view=" + view + "&status=" + status + "&c=" + id);
      $("#chat-input") && $("#chat-input").focus();
    });
  }
  var readTimer = null;
  function markRead() {
    if (!current || document.hidden) return;
    clearTimeout(readTimer);
    var id = current;
    readTimer = setTimeout(function () { sendFrame({ type: "read", conversation_id: id }); }, 250);
  }

  // --- composing ---------------------------------------------------------------------------------
  function bindComposer(chat) {
    var form = $("#chat-compose", chat), input = $("#chat-input", chat);
    chat.querySelectorAll(".chat-mode").forEach(function (b) {
      b.onclick = function () {
        form.dataset.mode = b.dataset.mode;
        chat.querySelectorAll(".chat-mode").forEach(function (x) { x.classList.toggle("active", x === b); });
        form.classList.toggle("internal", b.dataset.mode === "internal");
        var internal = b.dataset.mode === "internal";
        input.placeholder = input.dataset[internal ? "phInternal" : "phPublic"];
        var hint = $("#chat-hint", chat); hint.textContent = hint.dataset[internal ? "internal" : "public"];
        input.focus();
      };
    });
    bindCannedPicker(chat, form, input);
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); form.requestSubmit(); }
    });
    input.addEventListener("input", function () {
      if (form.dataset.mode === "public" && Date.now() - typingSentAt > 2500) { typingSentAt = Date.now(); sendFrame({ type: "typing", conversation_id: current, on: true }); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = input.value.replace(/\s+$/, "");
      if (!body.trim()) return;
      var audience = form.dataset.mode === "internal" ? "internal" : "public";
      var m = { client_id: uid(), body: body, sender_kind: "agent", sender_name: $(".menu-who span") ? $(".menu-who span").textContent : "", audience: audience, created_at: new Date().toISOString() };
      pending[m.client_id] = { conversation_id: current, message: m, audience: audience };
      messageRow(m, "sending"); scrollDown(true);
      transmit(m.client_id);
      input.value = "";
    });
    chat.querySelectorAll("[data-action]").forEach(function (b) {
      b.onclick = function () {
        var action = b.dataset.action, id = current;
        b.disabled = true;
        var req = action === "assign-me" ? post("/api/v1/conversations/" + id + "/assign", { assignee_id: me }) : post("/api/v1/conversations/" + id + "/" + action);
        req.then(function (r) { return r.ok ? r.json() : null; }).then(function (summary) { b.disabled = false; if (summary) { updateHeader(summary); refreshListSoon(); } });
      };
    });
  }
  // --- canned replies: "/" at the start of the composer opens a picker ----------------------------
  // Registered before the composer's own keydown handler, so Enter picks a reply instead of sending.
  function bindCannedPicker(chat, form, input) {
    var box = el("div", "canned-picker"), items = [], active = 0, seq = 0, timer = null;
    box.id = "canned-picker"; box.hidden = true; box.setAttribute("role", "listbox");
    form.parentNode.insertBefore(box, form);
    function query() {
      var v = input.value;
      return v.charAt(0) === "/" && v.length <= 31 && !/\s/.test(v) ? v.slice(1) : null;
    }
    function close() { box.hidden = true; items = []; seq++; }
    function draw() {
      box.innerHTML = "";
      if (!items.length) { box.appendChild(el("div", "canned-empty", T.canned_empty)); return; }
      items.forEach(function (r, i) {
        var row = el("div", "canned-item" + (i === active ? " active" : ""));
        row.setAttribute("role", "option"); row.setAttribute("aria-selected", i === active);
        row.appendChild(el("span", "canned-key", r.shortcut ? "/" + r.shortcut : ""));
        row.appendChild(el("span", "canned-title", r.title));
        row.appendChild(el("span", "canned-text", r.rendered));
        row.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        box.appendChild(row);
      });
      var cur = box.children[active]; if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest" });
    }
    function pick(i) {
      var r = items[i]; if (!r) return;
      close();
      input.value = r.rendered;
      input.focus(); input.setSelectionRange(input.value.length, input.value.length);
    }
    function search() {
      var q = query(); if (q == null) { close(); return; }
      var mine = ++seq;
      var params = new URLSearchParams({ q: q, conversation_id: current, limit: 8 });
      fetch("/api/v1/canned-replies?" + params.toString(), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; }).then(function (data) {
        if (mine !== seq || query() == null) return; // a newer keystroke already asked again
        items = data; active = 0; box.hidden = false; draw();
      }).catch(function () { if (mine === seq) close(); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      if (query() == null) { close(); return; }
      timer = setTimeout(search, 120);
    });
    input.addEventListener("keydown", function (e) {
      if (box.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (items.length) { active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length; draw(); }
      } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        if (!items.length) { if (e.key === "Enter") { e.preventDefault(); e.stopImmediatePropagation(); } return; }
        e.preventDefault(); e.stopImmediatePropagation(); pick(active);
      } else if (e.key === "Escape") { e.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  function transmit(cid) {
    var p = pending[cid]; if (!p) return;
    sendFrame({ type: "send", conversation_id: p.conversation_id, client_id: cid, body: p.message.body, audience: p.audience });
  }
  function showTyping(on) {
    var t = $("#chat-typing"); if (!t) return;
    t.hidden = !on; $("em", t).textContent = T.typing;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { t.hidden = true; }, 6000);
  }

  // --- the socket ----------------------------------------------------------------------------------
  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/agent/ws");
    ws.onopen = function () {
      retry = 0; lastSeen = Date.now();
      $("#inbox-conn").hidden = true;
      sendFrame({ type: "resume", after: cursor });
      Object.keys(pending).forEach(transmit);
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (Date.now() - lastSeen > 60000) { try { ws.close(); } catch (e) {} return; }
        sendFrame({ type: "ping" });
      }, 20000);
    };
    ws.onmessage = function (e) {
      var f; try { f = JSON.parse(e.data); } catch (x) { return; }
      lastSeen = Date.now();
      if (f.type === "event") onEvent(f);
      else if (f.type === "ack") {
        var p = pending[f.client_id]; delete pending[f.client_id];
        var row = rows[f.client_id]; if (row) { row.dataset.id = f.message_id; setState(row, "sent"); }
        if (p) refreshListSoon();
      } else if (f.type === "typing") { if (f.conversation_id === current && f.who === "customer") showTyping(f.on); }
      else if (f.type === "ping") sendFrame({ type: "pong" });
      else if (f.type === "error" && f.client_id && rows[f.client_id]) {
        var r = rows[f.client_id]; setState(r, "failed");
        if (f.code !== "internal") { delete pending[f.client_id]; $(".chat-state", r).textContent = f.message; }
      }
    };
    ws.onclose = function (e) {
      clearInterval(pingTimer);
      if (e.code === 4401 || e.code === 4403) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
      $("#inbox-conn").hidden = false;
      setTimeout(connect, Math.min(15000, 500 * Math.pow(2, retry++)) + Math.random() * 400);
    };
  }

  // --- wiring ------------------------------------------------------------------------------------------
  $("#inbox-items").addEventListener("click", function (e) {
    var a = e.target.closest(".inbox-item"); if (!a || e.metaKey || e.ctrlKey) return;
    e.preventDefault(); open(+a.dataset.id, true);
  });
  $("#inbox-status").addEventListener("change", function (e) {
    status = e.target.value;
    document.querySelectorAll(".inbox-tab").forEach(function (t) { t.href = "/inbox?view=" + t.dataset.view + "&status=" + status; });
    history.replaceState(null, "", "/inbox?view=" + view + "&status=" + status + (current ? "&c=" + current : ""));
    refreshList();
  });
  document.querySelectorAll(".inbox-tab").forEach(function (t) {
    t.addEventListener("click", function (e) {
      e.preventDefault(); view = t.dataset.view;
      document.querySelectorAll(".inbox-tab").forEach(function (x) { x.classList.toggle("active", x === t); x.setAttribute("aria-selected", x === t); });
      history.replaceState(null, "", "/inbox?view=" + view + "&status=" + status + (current ? "&c=" + current : ""));
      refreshList();
    });
  });
  document.querySelectorAll("[data-presence]").forEach(function (b) {
    b.addEventListener("click", function () {
      post("/api/v1/agent/presence", { status: b.dataset.presence }).then(function (r) { return r.ok ? r.json() : null; }).then(function (p) {
        if (!p) return;
        document.querySelectorAll("[data-presence]").forEach(function (x) { var on = x.dataset.presence === p.status; x.classList.toggle("active", on); x.setAttribute("aria-checked", on); });
      });
    });
  });
  window.addEventListener("popstate", function () { var c = +new URLSearchParams(location.search).get("c"); if (c) open(c, false); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { document.title = baseTitle; markRead(); } });
  window.addEventListener("focus", function () { document.title = baseTitle; });
  setInterval(tickWaiting, 30000);
  tickWaiting();
  mountPane();
  connect();
})();
