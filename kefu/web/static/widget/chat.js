/* Kefu customer chat (H5 page and widget iframe). Vanilla JS, no build step.
 *
 * Nothing typed is lost: a message goes into an outbox in localStorage first, is sent with a
 * client id, and leaves the outbox only when the server acknowledges it (after it is stored).
 * After a reconnect the page resumes from the last event id it saw and resends the outbox;
 * the server drops resends it already stored. Extension point for later message kinds
 * (image, product card, order card): add a renderer to RENDER below.
 */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("kefu-config").textContent);
  var T = {
    sending: "发送中", unread: "未读", read: "已读", failed: "发送失败，点击重发",
    reconnecting: "连接已断开，正在重新连接…", online: "客服在线", offline: "连接中…",
    away: "客服暂时不在，请留言，我们会尽快回复",
    assigned: function (n) { return "客服 " + n + " 为您服务"; },
    resolved: "本次会话已结束，感谢您的咨询。如需帮助，直接发送消息即可。",
    reopened: "会话已重新开启", agent: "客服", typing: "客服正在输入…", unsupported: "[暂不支持显示的消息]"
  };
  var EMOJI = "😀 😁 😂 🤣 😊 😍 😘 😉 😎 🤔 😅 😭 😡 😱 👍 👎 👏 🙏 💪 🤝 👌 ✌️ ❤️ 💔 🎉 🎁 🌹 ☕ 📦 🚚 💰 ✅ ❌ ❓ ⏰ 🔥 💯 😴 🤗 😳".split(" ");
  var KEY = "kefu:" + cfg.channel + ":";
  var $ = function (id) { return document.getElementById(id); };
  var log = $("kf-log"), input = $("kf-input"), form = $("kf-compose");
  var ws = null, cursor = 0, retry = 0, conversationId = null, timer = null, pingTimer = null;
  var lastPong = 0, fatal = false, unread = 0, panelOpen = !cfg.embed, agentReadUpTo = 0, myReadUpTo = 0;
  var seenEvents = {}, bubbles = {}, typingTimer = null, typingSentAt = 0;

  function store(k, v) { try { if (v === undefined) return JSON.parse(localStorage.getItem(KEY + k)); localStorage.setItem(KEY + k, JSON.stringify(v)); } catch (e) { return null; } }
  function outbox() { return store("outbox") || []; }
  function saveOutbox(items) { store("outbox", items); }
  function uid() { return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function hhmm(iso) { var d = iso ? new Date(iso) : new Date(); return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2); }
  function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollDown(force) { if (force || atBottom()) log.scrollTop = log.scrollHeight; }
  function tell(msg) { if (cfg.embed && window.parent !== window) window.parent.postMessage(Object.assign({ kefu: true }, msg), "*"); }

  var lastStamp = 0;
  function stamp(iso) {
    var t = iso ? Date.parse(iso) : Date.now();
    if (t - lastStamp > 5 * 60 * 1000) { log.appendChild(el("div", "kf-time", hhmm(iso))); }
    lastStamp = t;
  }
  function systemLine(text) { log.appendChild(el("div", "kf-system", text)); }

  var RENDER = {
    text: function (m, b) { b.textContent = m.body; }
  };

  function bubble(m, mine, status) {
    var key = m.client_id || ("m" + m.id);
    var row = bubbles[key];
    if (!row) {
      stamp(m.created_at);
      row = el("div", "kf-row " + (mine ? "kf-me" : "kf-them"));
      if (!mine) row.appendChild(el("div", "kf-name", m.sender_name || T.agent));
      var b = el("div", "kf-bubble");
      (RENDER[m.kind] || function (x, y) { y.textContent = x.body || T.unsupported; })(m, b);
      row.appendChild(b);
      if (mine) row.appendChild(el("div", "kf-status"));
      log.appendChild(row);
      bubbles[key] = row;
    }
    if (m.id) row.dataset.id = m.id;
    if (mine) setStatus(row, status);
    return row;
  }
  function setStatus(row, status) {
    var s = row.querySelector(".kf-status"); if (!s) return;
    row.dataset.status = status;
    s.textContent = T[status] || "";
    s.className = "kf-status kf-" + status;
    s.onclick = status === "failed" ? function () { var m = outbox().filter(function (x) { return x.client_id === row.dataset.cid; })[0]; if (m) { setStatus(row, "sending"); transmit(m); } } : null;
  }
  function refreshReceipts() {
    Object.keys(bubbles).forEach(function (k) {
      var row = bubbles[k];
      if (!row.classList.contains("kf-me") || !row.dataset.id) return;
      setStatus(row, +row.dataset.id <= agentReadUpTo ? "read" : "unread");
    });
  }

  function onEvent(ev) {
    if (seenEvents[ev.id]) return;
    seenEvents[ev.id] = true;
    cursor = Math.max(cursor, ev.id);
    conversationId = ev.conversation_id;
    var stick = atBottom();
    if (ev.kind === "message" && ev.message) {
      var m = ev.message, mine = m.sender_kind === "customer";
      var row = bubble(m, mine, "unread");
      if (mine) { row.dataset.cid = m.client_id || ""; dropFromOutbox(m.client_id); setStatus(row, m.id <= agentReadUpTo ? "read" : "unread"); }
      else { showTyping(false); if (m.id > myReadUpTo) noteIncoming(); }
    } else if (ev.kind === "assigned" || ev.kind === "transferred") {
      systemLine(T.assigned(ev.data.assignee_name || T.agent));
    } else if (ev.kind === "resolved") {
      systemLine(T.resolved);
    } else if (ev.kind === "read" && ev.data.by === "agent") {
      agentReadUpTo = Math.max(agentReadUpTo, ev.data.up_to || 0); refreshReceipts();
    }
    scrollDown(stick);
  }

  function noteIncoming() {
    if (panelOpen && document.visibilityState === "visible") { markRead(); return; }
    unread += 1; tell({ type: "unread", count: unread });
    if (!cfg.embed) document.title = "(" + unread + ") " + document.title.replace(/^\(\d+\) /, "");
  }
  var readTimer = null;
  function markRead() {
    unread = 0; tell({ type: "unread", count: 0 });
    document.title = document.title.replace(/^\(\d+\) /, "");
    clearTimeout(readTimer);
    readTimer = setTimeout(function () { sendFrame({ type: "read" }); }, 300);
  }

  function dropFromOutbox(cid) { if (cid) saveOutbox(outbox().filter(function (x) { return x.client_id !== cid; })); }
  function sendFrame(obj) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(obj)); return true; } return false; }
  function transmit(m) { sendFrame({ type: "send", client_id: m.client_id, body: m.body, kind: m.kind || "text" }); }

  function submit(text) {
    text = text.replace(/\s+$/, "");
    if (!text.trim()) return;
    var m = { client_id: uid(), body: text, kind: "text", created_at: new Date().toISOString() };
    saveOutbox(outbox().concat([m]));
    var row = bubble(m, true, "sending"); row.dataset.cid = m.client_id;
    scrollDown(true);
    transmit(m);
  }

  function showTyping(on) {
    var t = $("kf-typing"); t.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { t.hidden = true; }, 6000);
  }
  function banner(text) { var b = $("kf-banner"); b.hidden = !text; b.textContent = text || ""; }

  function url() {
    var q = new URLSearchParams({ channel: cfg.channel, visitor: store("visitor") || cfg.visitor_token || "", entry: cfg.embed ? "widget" : "h5", page: cfg.page || location.href });
    if (cfg.uid) { q.set("uid", cfg.uid); q.set("uid_hash", cfg.uid_hash); }
    if (cfg.name) q.set("name", cfg.name);
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/widget/ws?" + q.toString();
  }

  function connect() {
    if (fatal) return;
    clearTimeout(timer);
    ws = new WebSocket(url());
    ws.onopen = function () {
      retry = 0; lastPong = Date.now();
      sendFrame({ type: "resume", after: cursor });
      outbox().forEach(transmit);
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (Date.now() - lastPong > 60000) { try { ws.close(); } catch (e) {} return; }
        sendFrame({ type: "ping" });
      }, 20000);
    };
    ws.onmessage = function (e) {
      var f; try { f = JSON.parse(e.data); } catch (x) { return; }
      lastPong = Date.now();
      if (f.type === "hello") {
        store("visitor", f.visitor_token); conversationId = f.conversation_id;
        agentReadUpTo = f.agent_read_up_to || 0; myReadUpTo = f.customer_read_up_to || 0;
        banner(""); $("kf-sub-text").textContent = f.agents_online ? T.online : T.away;
        $("kf-sub").className = "kf-sub kf-online" + (f.agents_online ? "" : " kf-away");
      } else if (f.type === "event") { onEvent(f); }
      else if (f.type === "ack") {
        dropFromOutbox(f.client_id); conversationId = f.conversation_id;
        var row = bubbles[f.client_id];
        if (row) { row.dataset.id = f.message_id; setStatus(row, f.message_id <= agentReadUpTo ? "read" : "unread"); }
      } else if (f.type === "typing") { showTyping(f.on); }
      else if (f.type === "ping") { sendFrame({ type: "pong" }); }
      else if (f.type === "error") {
        if (f.client_id && bubbles[f.client_id]) {
          var r = bubbles[f.client_id];
          if (f.code === "internal" || f.code === "rate_limited") { setStatus(r, "failed"); }
          else { dropFromOutbox(f.client_id); setStatus(r, "failed"); r.querySelector(".kf-status").textContent = f.message; r.querySelector(".kf-status").onclick = null; }
        } else if (f.code === "identity_invalid" || f.code === "channel_not_found") { fatal = true; banner(f.message); }
      }
    };
    ws.onclose = function (e) {
      clearInterval(pingTimer);
      $("kf-sub-text").textContent = T.offline; $("kf-sub").className = "kf-sub";
      Object.keys(bubbles).forEach(function (k) { if (bubbles[k].dataset.status === "sending") setStatus(bubbles[k], "sending"); });
      if (e.code >= 4400 && e.code < 4500) { fatal = true; return; }
      banner(T.reconnecting);
      var delay = Math.min(15000, 500 * Math.pow(2, retry++)) + Math.random() * 400;
      timer = setTimeout(connect, delay);
    };
  }

  // Outbox left over from an earlier visit (closed tab, lost network): show and resend.
  outbox().forEach(function (m) { var row = bubble(m, true, "sending"); row.dataset.cid = m.client_id; });

  form.addEventListener("submit", function (e) { e.preventDefault(); submit(input.value); input.value = ""; grow(); input.focus(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !/Mobi/.test(navigator.userAgent)) { e.preventDefault(); form.requestSubmit(); }
  });
  function grow() { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 120) + "px"; }
  input.addEventListener("input", function () {
    grow();
    if (Date.now() - typingSentAt > 2500) { typingSentAt = Date.now(); sendFrame({ type: "typing", on: true }); }
  });
  var pad = $("kf-emoji");
  EMOJI.forEach(function (ch) {
    var b = el("button", null, ch); b.type = "button";
    b.onclick = function () { var s = input.selectionStart || input.value.length; input.value = input.value.slice(0, s) + ch + input.value.slice(s); input.focus(); grow(); };
    pad.appendChild(b);
  });
  $("kf-emoji-btn").onclick = function () { pad.hidden = !pad.hidden; };
  var closeBtn = $("kf-close");
  if (closeBtn) closeBtn.onclick = function () { tell({ type: "close" }); };
  window.addEventListener("message", function (e) {
    if (!e.data || !e.data.kefu) return;
    if (e.data.type === "open") { panelOpen = true; markRead(); scrollDown(true); input.focus(); }
    if (e.data.type === "closed") panelOpen = false;
  });
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible" && panelOpen && unread) markRead(); });
  window.addEventListener("online", function () { if (!ws || ws.readyState > 1) { retry = 0; connect(); } });
  connect();
})();
