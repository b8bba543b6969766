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
  var group = root.dataset.group || "", query = root.dataset.q || "";
  var meName = root.dataset.meName || "";
  var ws = null, retry = 0, pingTimer = null, lastSeen = 0;
  var seen = {}, rows = {}, pending = {}, customerReadUpTo = 0, typingTimer = null, typingSentAt = 0;
  var listTimer = null, baseTitle = document.title;

  function listParams(extra) {
    var q = new URLSearchParams({ view: view, status: status });
    if (view === "group" && group) q.set("group", group);
    if (query) q.set("q", query);
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return q.toString();
  }
  function inboxUrl(id) { return "/inbox?" + listParams(id ? { c: id } : {}); }
  function fmt(s, vars) { return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] != null ? vars[k] : ""; }); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  var tz = root.dataset.tz || undefined; // times in the shop's zone, like the server-rendered ones
  function fullTime(iso) { return new Date(iso).toLocaleString("zh-CN", { timeZone: tz, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false }); }
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
    row.appendChild(drawBubble(m));
    if (mine && !note) row.appendChild(el("div", "chat-state"));
    if (m.id) row.dataset.id = m.id;
    if (m.kind === "choices") drawChoices(row, m);
    log.appendChild(row);
    rows[key] = row;
    setState(row, state);
    return row;
  }
  // The bot's "您是不是想问…" offers: the options the customer saw as buttons, as a list.
  function drawChoices(row, m) {
    var choices = (m.payload && m.payload.choices) || [], bubble = row.querySelector(".chat-bubble");
    if (!choices.length || !bubble) return;
    var list = el("ol", "chat-choices");
    choices.forEach(function (c) { list.appendChild(el("li", null, c.label || c.text || "")); });
    bubble.appendChild(list);
  }
  // Pictures and product/order cards; every other kind is its text. Agents load pictures
  // through the permission-checked conversation route, not the customer's signed URLs.
  function media(k) { var n = $("#chat-media-i18n"); return n ? JSON.parse(n.textContent)[k] : k; }
  function drawBubble(m) {
    var b = el("div", "chat-bubble"), p = m.payload || {};
    if (m.kind === "image" && (p.image_id || p.preview)) {
      var full = p.preview || "/api/v1/conversations/" + current + "/images/" + p.image_id;
      var img = el("img", "chat-img"), a = el("a"), k = Math.min(1, 240 / Math.max(p.width || 1, p.height || 1));
      img.src = p.preview || full + "/thumb"; img.alt = p.name || media("image");
      if (p.width) { img.width = Math.round(p.width * k); img.height = Math.round(p.height * k); }
      a.href = full; a.target = "_blank"; a.rel = "noopener"; a.title = media("open_full");
      a.appendChild(img); b.classList.add("chat-media"); b.appendChild(a);
    } else if (m.kind === "product" || m.kind === "order") {
      var product = m.kind === "product", head = el("div", "chat-card-head", product ? media("product") : media("order") + " " + (p.order_no || ""));
      b.classList.add("chat-card"); b.appendChild(head);
      if (product) {
        head.appendChild(el("span", "badge " + (p.verified ? "badge-green" : "badge-grey"), p.verified ? media("verified") : media("from_page")));
        if (/^https?:/i.test(p.image || "")) { var pic = el("img", "chat-card-img"); pic.src = p.image; pic.alt = ""; pic.referrerPolicy = "no-referrer"; b.appendChild(pic); }
        var title = el("a", "chat-card-title", p.title || "");
        if (/^https?:/i.test(p.url || "")) { title.href = p.url; title.target = "_blank"; title.rel = "noopener noreferrer"; }
        b.appendChild(title);
        b.appendChild(el("div", "chat-card-meta", (p.price ? "¥" + p.price + " · " : "") + "ID " + (p.product_id || "")));
      } else {
        b.appendChild(el("div", "chat-card-title", p.items || ""));
        b.appendChild(el("div", "chat-card-meta", (p.status_label || "") + " · ¥" + (p.amount || "")));
      }
    } else { b.textContent = m.body; }
    return b;
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
    } else if (ev.kind === "assigned") { systemLine(fmt(T.assigned, { name: ev.data.assignee_name || "" }));
    } else if (ev.kind === "transferred") {
      var to = [ev.data.assignee_name, ev.data.group_name].filter(Boolean).join(" · ");
      var why = ev.data.why ? "（" + (document.documentElement.lang === "en" ? ev.data.why.en : ev.data.why.zh) + "）" : ""; // overflow between groups
      systemLine((ev.audience === "internal" && name ? fmt(T.transferred_by, { by: name, name: to }) : fmt(T.transferred, { name: to })) + why);
    } else if (ev.kind === "snoozed") { systemLine(fmt(T.snoozed, { name: name || "", time: fullTime(ev.data.until) }));
    } else if (ev.kind === "woken") { systemLine(ev.data.by === "customer" ? T.woken_customer : T.woken);
    } else if (ev.kind === "mentioned") { systemLine(fmt(T.mentioned, { by: name || "", names: (ev.data.names || []).map(function (n) { return "@" + n; }).join(" ") }));
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
    $("[data-action=snooze-menu]", chat).hidden = summary.status === "resolved" || summary.status === "snoozed";
    $("[data-action=wake]", chat).hidden = summary.status !== "snoozed";
    $("[data-action=transfer]", chat).hidden = summary.status === "resolved";
    chat.dataset.assignee = summary.assignee_id || "";
    chat.dataset.waiting = summary.waiting_since || "";
    chat.dataset.firstResponse = summary.first_response_at || "";
    tickTimers();
  }

  function onEvent(ev) {
    if (seen[ev.id]) return;
    seen[ev.id] = true;
    cursor = Math.max(cursor, ev.id);
    if (ev.conversation_id === current && log) applyToPane(ev);
    if (ev.kind === "message" && ev.message && ev.message.sender_kind === "customer") document.dispatchEvent(new CustomEvent("kefu:customer-message", { detail: ev })); // assist.js
    if (ev.conversation) { updateHeader(ev.conversation); refreshListSoon(); }
    if (ev.kind === "message" && ev.message && ev.message.sender_kind === "customer" && (document.hidden || ev.conversation_id !== current)) {
      document.title = "● " + T.new_message + " · " + baseTitle;
    }
    alertFor(ev);
  }

  // --- the list ----------------------------------------------------------------------------
  function refreshListSoon() { clearTimeout(listTimer); listTimer = setTimeout(refreshList, 250); }
  function refreshList() {
    fetch("/inbox/_list?" + listParams(current ? { c: current } : {}), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html == null) return;
      $("#inbox-items").innerHTML = html;
      tickWaiting();
    });
    fetch("/api/v1/conversations?" + listParams(), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) return;
      Object.keys(data.counts).forEach(function (k) {
        var c = $("[data-count=" + k + "]"); if (!c) return;
        c.textContent = data.counts[k];
        if (k === "mentions") c.classList.toggle("hot", data.counts[k] > 0);
      });
    });
  }
  function ago(iso) {
    var min = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (min < 1) return T.just_now;
    if (min < 60) return fmt(T.minutes, { n: min });
    return fmt(T.hours, { n: Math.floor(min / 60) });
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 3600) return Math.floor(seconds / 60) + ":" + ("0" + seconds % 60).slice(-2);
    return Math.floor(seconds / 3600) + ":" + ("0" + Math.floor(seconds % 3600 / 60)).slice(-2) + ":" + ("0" + seconds % 60).slice(-2);
  }
  // Waiting times tick every second; past the store's first-response target they turn red.
  function tickWaiting() {
    document.querySelectorAll(".inbox-item[data-waiting]").forEach(function (a) {
      var w = $("[data-wait]", a); if (!w) return;
      var secs = (Date.now() - Date.parse(a.dataset.waiting)) / 1000, target = +a.dataset.target || 60;
      w.textContent = fmt(T.wait_timer, { t: clock(secs) });
      w.className = "inbox-wait" + (secs >= target ? " late" : secs >= target / 2 ? " soon" : "");
      a.classList.toggle("overdue", secs >= target);
    });
  }
  function tickTimers() {
    var chat = $(".chat"); if (!chat) return;
    var target = +chat.dataset.target || 60, now = Date.now();
    var wait = $("[data-timer=wait]", chat), first = $("[data-timer=first]", chat);
    if (chat.dataset.waiting && chat.dataset.status !== "resolved") {
      var ws_ = (now - Date.parse(chat.dataset.waiting)) / 1000;
      wait.hidden = false; wait.textContent = fmt(T.wait_timer, { t: clock(ws_) });
      wait.classList.toggle("late", ws_ >= target);
    } else { wait.hidden = true; }
    var created = Date.parse(chat.dataset.created);
    if (chat.dataset.firstResponse) {
      var fr = (Date.parse(chat.dataset.firstResponse) - created) / 1000;
      first.hidden = false; first.textContent = fmt(T.first_timer, { t: clock(fr) });
      first.classList.toggle("late", fr >= target);
    } else if (created && chat.dataset.status !== "resolved") {
      var open_ = (now - created) / 1000;
      first.hidden = false; first.textContent = fmt(T.no_reply_timer, { t: clock(open_) });
      first.classList.toggle("late", open_ >= target);
    } else { first.hidden = true; }
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
    tickTimers();
    announceViewing(true, false);
    drawCollision();
    document.dispatchEvent(new CustomEvent("kefu:pane", { detail: { conversation_id: current } })); // assist.js
  }
  function open(id, push) {
    fetch("/inbox/_pane/" + id, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html == null) return;
      var pane = $("#inbox-pane");
      if (current && current !== id) announceViewing(false, false);
      pane.innerHTML = html;
      // Events already seen elsewhere must still be drawn in the freshly opened pane.
      JSON.parse($("#chat-events").textContent).forEach(function (ev) { delete seen[ev.id]; });
      current = id; root.dataset.current = id;
      mountPane();
      document.querySelectorAll(".inbox-item").forEach(function (a) { a.classList.toggle("active", +a.dataset.id === id); });
      if (push) history.pushState({ c: id }, "", inboxUrl(id));
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
    bindMentionPicker(chat, form, input);
    input.addEventListener("keydown", function (e) {
      // Enter and Ctrl/⌘+Enter send; Shift+Enter is a new line; never while an IME is composing.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); form.requestSubmit(); }
    });
    input.addEventListener("input", function () {
      if (Date.now() - typingSentAt > 2500) { typingSentAt = Date.now(); sendFrame({ type: "typing", conversation_id: current, on: true, audience: form.dataset.mode === "internal" ? "internal" : "public" }); }
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
      b.onclick = function () { act(b.dataset.action, b); };
    });
    chat.querySelectorAll("[data-snooze]").forEach(function (b) {
      b.onclick = function () {
        var body = { preset: b.dataset.snooze };
        if (b.dataset.snooze === "custom") {
          var at = $("[data-snooze-at]", chat).value;
          if (!at) { toast(T.pick_time); return; }
          body = { until: new Date(at).toISOString() };
        }
        toggleSnoozeMenu(false);
        conversationPost("snooze", body);
      };
    });
    bindTransfer(chat);
    bindMedia(chat);
  }
  // The picture button of the composer and the sidebar's "send this order" buttons.
  function bindMedia(chat) {
    var file = $("#chat-file", chat), pick = $("[data-pick-image]", chat);
    if (file && pick) {
      pick.onclick = function () { file.click(); };
      file.onchange = function () { [].forEach.call(file.files, sendImage); file.value = ""; };
    }
    document.querySelectorAll(".chat-side [data-send-order]").forEach(function (b) {
      b.onclick = function () {
        b.disabled = true;
        post("/api/v1/conversations/" + current + "/order-cards", { client_id: uid(), order_no: b.dataset.sendOrder }).then(function (r) {
          b.disabled = false;
          if (!r.ok) r.json().then(function (j) { toast(j.title || T.failed); }, function () { toast(T.failed); });
        }, function () { b.disabled = false; toast(T.failed); });
      };
    });
  }
  function sendImage(f) {
    var id = current, fd = new FormData();
    var m = { client_id: uid(), kind: "image", body: "[图片]", sender_kind: "agent", sender_name: $(".menu-who span") ? $(".menu-who span").textContent : "", audience: "public", created_at: new Date().toISOString(), payload: { preview: URL.createObjectURL(f), name: f.name } };
    var row = messageRow(m, "sending"); scrollDown(true);
    fd.append("client_id", m.client_id); fd.append("file", f);
    fetch("/api/v1/conversations/" + id + "/images", { method: "POST", headers: { "X-CSRF-Token": csrf }, body: fd, credentials: "same-origin" }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.ok) { row.dataset.id = j.message_id; setState(row, "sent"); } else { setState(row, "failed"); toast(j.title || T.failed); }
      });
    }, function () { setState(row, "failed"); toast(T.failed); });
  }
  function conversationPost(action, body, button) {
    var id = current; if (!id) return Promise.resolve(null);
    if (button) button.disabled = true;
    return post("/api/v1/conversations/" + id + "/" + action, body).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (button) button.disabled = false;
        if (!r.ok) { toast(data.title || r.statusText, "error"); return null; }
        updateHeader(data); refreshListSoon(); return data;
      });
    });
  }
  function act(action, button) {
    if (action === "assign-me") return conversationPost("assign", { assignee_id: me }, button);
    if (action === "transfer") return openTransfer();
    if (action === "snooze-menu") return toggleSnoozeMenu();
    return conversationPost(action, {}, button);
  }
  function toggleSnoozeMenu(force) {
    var menu = $("[data-snooze-menu]"), btn = $("[data-action=snooze-menu]"); if (!menu || !btn || btn.hidden) return;
    var show = force == null ? menu.hidden : force;
    menu.hidden = !show; btn.setAttribute("aria-expanded", show);
    if (show) { var first = $("[data-snooze]", menu); if (first) first.focus(); }
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

  // --- colleagues: directory, @mentions, transfer ---------------------------------------------------
  var directory = null;
  function loadDirectory(fresh) {
    if (directory && !fresh) return Promise.resolve(directory);
    return fetch("/api/v1/agent/directory", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { agents: [], groups: [] }; }).then(function (d) { directory = d; return d; });
  }
  // "@" in an internal note opens a list of colleagues; picking one inserts "@名字 ".
  function bindMentionPicker(chat, form, input) {
    var box = el("div", "canned-picker mention-picker"), items = [], active = 0;
    box.id = "mention-picker"; box.hidden = true; box.setAttribute("role", "listbox");
    form.parentNode.insertBefore(box, form);
    function token() {
      if (form.dataset.mode !== "internal") return null;
      var before = input.value.slice(0, input.selectionStart);
      var m = /(^|[\s，。,.!?！？])@([^\s@]{0,20})$/.exec(before);
      return m ? m[2] : null;
    }
    function close() { box.hidden = true; items = []; }
    function draw() {
      box.innerHTML = "";
      if (!items.length) { box.appendChild(el("div", "canned-empty", T.mention_empty)); return; }
      items.forEach(function (a, i) {
        var row = el("div", "canned-item mention-item" + (i === active ? " active" : ""));
        row.setAttribute("role", "option"); row.setAttribute("aria-selected", i === active);
        var dot = el("i", "presence-dot " + a.status); row.appendChild(dot);
        row.appendChild(el("span", "canned-title", a.name));
        row.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        box.appendChild(row);
      });
    }
    function pick(i) {
      var a = items[i], t = token(); if (!a || t == null) return;
      var caret = input.selectionStart, start = caret - t.length - 1;
      input.value = input.value.slice(0, start) + "@" + a.name + " " + input.value.slice(caret);
      var pos = start + a.name.length + 2; input.setSelectionRange(pos, pos); input.focus();
      close();
    }
    input.addEventListener("input", function () {
      var t = token(); if (t == null) { close(); return; }
      loadDirectory().then(function (d) {
        var q = token(); if (q == null) return;
        items = d.agents.filter(function (a) { return a.id !== me && a.name.toLowerCase().indexOf(q.toLowerCase()) >= 0; }).slice(0, 8);
        active = 0; box.hidden = false; draw();
      });
    });
    input.addEventListener("keydown", function (e) {
      if (box.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (items.length) { active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length; draw(); }
      } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey && !e.isComposing && e.keyCode !== 229 && items.length) {
        e.preventDefault(); e.stopImmediatePropagation(); pick(active);
      } else if (e.key === "Escape") { e.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  function bindTransfer(chat) {
    var dialog = $("#transfer-dialog", chat), form = $("#transfer-form", chat); if (!dialog) return;
    form.querySelectorAll("input[name=target]").forEach(function (r) {
      r.onchange = function () {
        form.querySelectorAll("[data-target-field]").forEach(function (f) { f.hidden = f.dataset.targetField !== r.value; });
      };
    });
    $("[data-close]", form).onclick = function () { dialog.close(); };
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var target = form.querySelector("input[name=target]:checked").value;
      var body = { note: $("#transfer-note", form).value };
      var value = target === "agent" ? $("#transfer-agent", form).value : $("#transfer-group", form).value;
      var err = $("#transfer-error", form);
      if (!value) { err.textContent = target === "agent" ? T.pick_agent : T.pick_group; err.hidden = false; return; }
      body[target === "agent" ? "assignee_id" : "group_id"] = +value;
      var submit = form.querySelector("button[type=submit]"); submit.disabled = true;
      post("/api/v1/conversations/" + current + "/transfer", body).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          submit.disabled = false;
          if (!r.ok) { err.textContent = data.title || r.statusText; err.hidden = false; return; }
          dialog.close(); updateHeader(data); refreshListSoon();
        });
      });
    });
  }
  function openTransfer() {
    var chat = $(".chat"), dialog = $("#transfer-dialog"); if (!chat || !dialog) return;
    $("#transfer-error").hidden = true; $("#transfer-note").value = "";
    loadDirectory(true).then(function (d) {
      var agents = $("#transfer-agent"), groups = $("#transfer-group");
      agents.innerHTML = ""; groups.innerHTML = "";
      agents.appendChild(new Option(T.pick_agent, ""));
      d.agents.forEach(function (a) {
        if (a.id === +chat.dataset.assignee) return;
        agents.appendChild(new Option(a.name + " · " + (T["status_" + a.status] || a.status) + " · " + a.open_chats + "/" + a.cap, a.id));
      });
      groups.appendChild(new Option(T.pick_group, ""));
      d.groups.forEach(function (g) { groups.appendChild(new Option(g.name, g.id)); });
      if (!dialog.open) dialog.showModal();
      agents.focus();
    });
  }

  // --- collision notice: who else has this chat open, or is typing in it ------------------------------
  var viewers = {}, viewingTimer = null;
  function announceViewing(on, reply) {
    if (!current) return;
    sendFrame({ type: "viewing", conversation_id: current, on: on, reply: !!reply });
    if (!on && viewers[current]) delete viewers[current];
  }
  function onViewing(f) {
    if (f.user_id === me) return;
    var list = viewers[f.conversation_id] = viewers[f.conversation_id] || {};
    if (f.on) {
      var known = list[f.user_id];
      list[f.user_id] = { name: f.name, until: Date.now() + 50000, typingUntil: known ? known.typingUntil : 0 };
      // Tell a newcomer that I am here too (a reply is never answered, so no ping-pong).
      if (!f.reply && f.conversation_id === current) announceViewing(true, true);
    } else { delete list[f.user_id]; }
    if (f.conversation_id === current) drawCollision();
  }
  function onAgentTyping(f) {
    if (f.user_id === me || !f.user_id) return;
    var list = viewers[f.conversation_id] = viewers[f.conversation_id] || {};
    var v = list[f.user_id] || { name: f.name, until: Date.now() + 50000 };
    v.typingUntil = f.on ? Date.now() + 6000 : 0; list[f.user_id] = v;
    if (f.conversation_id === current) drawCollision();
  }
  function drawCollision() {
    var bar = $("#chat-collision"); if (!bar) return;
    var now = Date.now(), list = viewers[current] || {}, looking = [], typing = [];
    Object.keys(list).forEach(function (k) {
      var v = list[k];
      if (v.until < now) { delete list[k]; return; }
      (v.typingUntil > now ? typing : looking).push(v.name);
    });
    var parts = [];
    if (typing.length) parts.push(fmt(T.agent_typing, { names: typing.join("、") }));
    if (looking.length) parts.push(fmt(T.viewing, { names: looking.join("、") }));
    bar.hidden = !parts.length;
    $("span", bar).textContent = parts.join(" · ");
    bar.classList.toggle("typing", typing.length > 0);
  }

  // --- alerts: sound and desktop notification for chats that are mine or nobody's --------------------
  var muteKey = "kefu.inbox.muted." + me, audio = null;
  function muted() { try { return localStorage.getItem(muteKey) === "1"; } catch (e) { return false; } }
  function drawMute() {
    var b = $("#inbox-mute"); if (!b) return;
    var m = muted(); b.setAttribute("aria-pressed", m); b.textContent = m ? "🔕" : "🔔";
    b.title = m ? T.muted : T.alerts_on; b.classList.toggle("off", m);
  }
  function online() { var b = $("[data-presence=online]"); return !b || b.classList.contains("active"); }
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain(), t = audio.currentTime;
      o.type = "sine"; o.frequency.setValueAtTime(880, t); o.frequency.setValueAtTime(1320, t + 0.09);
      g.gain.setValueAtTime(0.0001, t); g.gain.exponentialRampToValueAtTime(0.15, t + 0.02); g.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
      o.connect(g); g.connect(audio.destination); o.start(t); o.stop(t + 0.26);
    } catch (e) { /* no audio device: the visual alert is enough */ }
  }
  function desktop(title, body, id) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (!document.hidden && id === current) return;
    try {
      var n = new Notification(title, { body: body || "", tag: "kefu-" + id, icon: "/static/favicon.ico" });
      n.onclick = function () { window.focus(); if (id) open(id, true); n.close(); };
    } catch (e) { /* some browsers only allow notifications from a service worker */ }
  }
  function toast(text, tone, id) {
    var box = $("#inbox-toasts"); if (!box) return;
    var t = el("div", "inbox-toast" + (tone ? " " + tone : ""), text);
    if (id) { t.classList.add("link"); t.onclick = function () { open(id, true); t.remove(); }; }
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 6000);
  }
  function alertFor(ev) {
    if (Date.now() - Date.parse(ev.created_at) > 60000) return; // a resumed backlog is not news
    var conv = ev.conversation || {}, by = (ev.actor && ev.actor.name) || "", mineOrFree = conv.assignee_id === me || conv.assignee_id == null;
    var title = null, body = "", loud = false;
    if (ev.kind === "mentioned" && (ev.data.user_ids || []).indexOf(me) >= 0) {
      title = fmt(T.mentioned_you, { by: by }); body = ev.data.excerpt || ""; loud = true;
      toast(title + "：" + body, "mention", ev.conversation_id);
    } else if (ev.kind === "transferred" && ev.data.assignee_id === me && ev.actor.id !== me) {
      title = fmt(T.transferred_to_you, { by: by }); body = ev.data.note || conv.contact_name || ""; loud = true;
      toast(title + (ev.data.note ? "：" + ev.data.note : ""), "transfer", ev.conversation_id);
    } else if (ev.kind === "message" && ev.message && ev.message.sender_kind === "customer" && mineOrFree && online()) {
      title = conv.assignee_id == null && conv.unread_by_agent <= 1 ? T.new_chat : (conv.contact_name || T.new_message);
      body = ev.message.body; loud = document.hidden || ev.conversation_id !== current;
    }
    if (!title || !loud || muted()) return;
    beep(); desktop(title, body, ev.conversation_id);
  }
  function askForNotifications() {
    var bar = $("#inbox-notify-ask"); if (!bar || !("Notification" in window)) return;
    var key = "kefu.inbox.notify-asked." + me;
    try { if (Notification.permission !== "default" || localStorage.getItem(key)) return; } catch (e) { return; }
    bar.hidden = false;
    bar.querySelectorAll("[data-notify]").forEach(function (b) {
      b.onclick = function () {
        try { localStorage.setItem(key, "1"); } catch (e) {}
        bar.hidden = true;
        if (b.dataset.notify === "yes") Notification.requestPermission();
      };
    });
  }

  // --- keyboard shortcuts ---------------------------------------------------------------------------
  function step(delta) {
    var items = Array.prototype.slice.call(document.querySelectorAll(".inbox-item")); if (!items.length) return;
    var i = items.findIndex(function (a) { return +a.dataset.id === current; });
    var next = items[i < 0 ? 0 : Math.min(items.length - 1, Math.max(0, i + delta))];
    if (next && +next.dataset.id !== current) { open(+next.dataset.id, true); next.scrollIntoView({ block: "nearest" }); }
  }
  function typingInField(e) { var t = e.target; return t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT" || t.isContentEditable); }
  document.addEventListener("keydown", function (e) {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      // e.code, not e.key: on a Mac Alt+R types "®".
      var handled = true, chat = $(".chat");
      if (e.code === "KeyR" && chat) { var r = $("[data-action=resolve]", chat); if (r && !r.hidden) act("resolve", r); }
      else if (e.code === "KeyS" && chat) toggleSnoozeMenu();
      else if (e.code === "KeyT" && chat && !$("[data-action=transfer]", chat).hidden) openTransfer();
      else if (e.code === "KeyN" || e.code === "ArrowDown") step(1);
      else if (e.code === "ArrowUp") step(-1);
      else handled = false;
      if (handled) e.preventDefault();
      return;
    }
    if (e.key === "?" && !typingInField(e)) { e.preventDefault(); var d = $("#shortcut-dialog"); if (d && !d.open) d.showModal(); }
    if (e.key === "Escape") toggleSnoozeMenu(false);
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest(".chat-menu-wrap")) toggleSnoozeMenu(false);
  });

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
      } else if (f.type === "typing") {
        if (f.who === "agent") onAgentTyping(f);
        else if (f.conversation_id === current) showTyping(f.on);
      } else if (f.type === "viewing") onViewing(f);
      else if (f.type === "hello") { if (current) setTimeout(function () { announceViewing(true, false); }, 300); }
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
  function relist() {
    history.replaceState(null, "", inboxUrl(current));
    document.querySelectorAll(".inbox-tab, .inbox-chip").forEach(function (t) {
      var on = t.dataset.view === view && (view !== "group" || t.dataset.group === String(group));
      t.classList.toggle("active", on); t.setAttribute("aria-selected", on);
    });
    refreshList();
  }
  $("#inbox-status").addEventListener("change", function (e) { status = e.target.value; relist(); });
  document.querySelectorAll(".inbox-tab, .inbox-chip").forEach(function (t) {
    t.addEventListener("click", function (e) {
      e.preventDefault(); view = t.dataset.view; group = t.dataset.group || "";
      relist();
    });
  });
  var searchTimer = null;
  $("#inbox-q").addEventListener("input", function (e) {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { query = e.target.value.trim(); relist(); }, 300);
  });
  $("#inbox-mute").addEventListener("click", function () {
    try { localStorage.setItem(muteKey, muted() ? "0" : "1"); } catch (e) {}
    drawMute(); if (!muted()) beep();
  });
  $("#inbox-help").addEventListener("click", function () { $("#shortcut-dialog").showModal(); });
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
  window.addEventListener("beforeunload", function () { announceViewing(false, false); });
  setInterval(function () { tickWaiting(); tickTimers(); drawCollision(); }, 1000);
  // Viewers expire after 50 s unless they announce again, so a crashed tab stops showing.
  viewingTimer = setInterval(function () { if (!document.hidden) announceViewing(true, true); }, 20000);
  tickWaiting();
  drawMute();
  askForNotifications();
  mountPane();
  connect();
})();
