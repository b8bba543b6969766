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
    reopened: "会话已重新开启", agent: "客服", typing: "客服正在输入…", unsupported: "[暂不支持显示的消息]",
    queue: function (n, m) { return (n ? "您前面还有 " + n + " 位" : "您是下一位") + "，预计等待约 " + m + " 分钟"; },
    closed: function (h) { return "现在是非工作时间" + (h ? "（服务时间 " + h + "）" : "") + "，请留言，我们上班后会尽快联系您。"; },
    holiday: "节假日休息中，请留言，我们上班后会尽快联系您。", nobody: "客服暂时不在，请留言，我们会尽快联系您。",
    done: function (no) { return "留言已收到" + (no ? "（工单号 " + no + "）" : "") + "，我们会尽快联系您。"; },
    pick: "请选择您要咨询的问题：", need: "请填写称呼和留言内容，并留下手机号或邮箱", net: "提交失败，请检查网络后重试"
  };
  var EMOJI = "😀 😁 😂 🤣 😊 😍 😘 😉 😎 🤔 😅 😭 😡 😱 👍 👎 👏 🙏 💪 🤝 👌 ✌️ ❤️ 💔 🎉 🎁 🌹 ☕ 📦 🚚 💰 ✅ ❌ ❓ ⏰ 🔥 💯 😴 🤗 😳".split(" ");
  var KEY = "kefu:" + cfg.channel + ":";
  var $ = function (id) { return document.getElementById(id); };
  var log = $("kf-log"), input = $("kf-input"), form = $("kf-compose");
  var ws = null, cursor = 0, retry = 0, conversationId = null, timer = null, pingTimer = null;
  var lastPong = 0, fatal = false, unread = 0, panelOpen = !cfg.embed, agentReadUpTo = 0, myReadUpTo = 0;
  var seenEvents = {}, bubbles = {}, typingTimer = null, typingSentAt = 0;
  var topic = cfg.topic || "", entries = [], availTimer = null, offlineId = null;

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
    text: function (m, b) { b.textContent = m.body; },
    // The bot's "您是不是想问…", order pickers and 确认/不用了: a button sends its text as
    // the customer's next message; one with an action also announces it (kefu:choice) so
    // other parts of the page (the offline message form) can react.
    choices: function (m, b) {
      b.appendChild(el("div", "kf-choices-text", m.body));
      var list = el("div", "kf-choices");
      ((m.payload || {}).choices || []).forEach(function (c) {
        var btn = el("button", "kf-choice", c.label || c.text); btn.type = "button";
        btn.onclick = function () {
          if (c.action) document.dispatchEvent(new CustomEvent("kefu:choice", { detail: c }));
          if (c.text) submit(c.text);
        };
        list.appendChild(btn);
      });
      b.appendChild(list);
    },
    // After an agent resolves the chat: 1–5 stars and a comment, posted with the signed token
    // the survey carries (the token is the credential; one rating per conversation).
    csat: function (m, b) {
      var p = m.payload || {}, done = store("csat:" + m.id);
      b.appendChild(el("div", "kf-choices-text", m.body));
      var box = el("div", "kf-csat"), stars = el("div", "kf-stars"), note = el("textarea", "kf-csat-note");
      var send = el("button", "kf-choice kf-csat-send", "提交评价"), score = 0, msg = el("div", "kf-csat-msg");
      note.maxLength = 500; note.rows = 2; note.placeholder = "说说您的感受（选填）"; send.type = "button";
      function paint(n) { [].forEach.call(stars.children, function (s, i) { s.classList.toggle("on", i < n); }); }
      function finish(text) { box.textContent = ""; box.appendChild(el("div", "kf-csat-msg", text)); }
      if (done) { finish("感谢您的评价！" + "★★★★★".slice(0, done)); b.appendChild(box); return; }
      for (var i = 1; i <= 5; i++) (function (n) {
        var s = el("button", "kf-star", "★"); s.type = "button"; s.setAttribute("aria-label", n + " 星");
        s.onclick = function () { score = n; paint(n); }; stars.appendChild(s);
      })(i);
      send.onclick = function () {
        if (!score) { msg.textContent = "请先选择星级"; return; }
        send.disabled = true;
        fetch("/api/v1/widget/csat/" + encodeURIComponent(p.token), {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ score: score, comment: note.value })
        }).then(function (r) {
          if (r.ok || r.status === 409) { store("csat:" + m.id, score); finish("感谢您的评价！"); }
          else { send.disabled = false; msg.textContent = r.status === 422 ? "评价已过期" : T.net; }
        }, function () { send.disabled = false; msg.textContent = T.net; });
      };
      box.appendChild(stars); box.appendChild(note); box.appendChild(send); box.appendChild(msg); b.appendChild(box);
    }
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
      $("kf-queue").hidden = true;
      systemLine(T.assigned(ev.data.assignee_name || T.agent));
    } else if (ev.kind === "resolved") {
      $("kf-queue").hidden = true;
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
  // Refused for now (a server hiccup, or too many at once after a reconnect resent the outbox):
  // the message stays in the outbox and goes again by itself, not only when tapped.
  function retryLater(cid) {
    setTimeout(function () {
      var m = outbox().filter(function (x) { return x.client_id === cid; })[0];
      if (m && bubbles[cid] && bubbles[cid].dataset.status === "failed") { setStatus(bubbles[cid], "sending"); transmit(m); }
    }, 4000);
  }

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
    if (topic) q.set("topic", topic);
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
        entries = f.entries || [];
        if (f.availability) avail(f.availability);
        if (!conversationId && !topic && entries.length) menu();
      } else if (f.type === "event") { onEvent(f); }
      else if (f.type === "availability") { avail(f); }
      else if (f.type === "queue") { if (f.conversation_id === conversationId || !conversationId) { var q = $("kf-queue"); q.hidden = false; q.textContent = T.queue(f.ahead, f.eta_minutes); } }
      else if (f.type === "ack") {
        dropFromOutbox(f.client_id); conversationId = f.conversation_id;
        var row = bubbles[f.client_id];
        if (row) { row.dataset.id = f.message_id; setStatus(row, f.message_id <= agentReadUpTo ? "read" : "unread"); }
      } else if (f.type === "typing") { showTyping(f.on); }
      else if (f.type === "ping") { sendFrame({ type: "pong" }); }
      else if (f.type === "error") {
        if (f.client_id && bubbles[f.client_id]) {
          var r = bubbles[f.client_id];
          if (f.code === "internal" || f.code === "rate_limited") { setStatus(r, "failed"); retryLater(f.client_id); }
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

  // Skill-group menu (售前 / 售后): the choice goes to the server before the first message.
  function menu() {
    if ($("kf-menu")) return;
    var box = el("div", "kf-row kf-them"); box.id = "kf-menu";
    box.appendChild(el("div", "kf-bubble", T.pick));
    var list = el("div", "kf-menu");
    entries.forEach(function (e) {
      var b = el("button", null, e.label); b.type = "button";
      b.onclick = function () { topic = e.topic; sendFrame({ type: "topic", topic: topic }); box.remove(); submit(e.label); };
      list.appendChild(b);
    });
    box.appendChild(list); log.appendChild(box); scrollDown(true);
  }

  // Offline: outside chat hours, on a holiday, or nobody of the group at work.
  var off = $("kf-offline");
  function avail(a) {
    var offline = a.mode === "offline";
    off.hidden = !offline || !!offlineId; form.hidden = offline;
    if (offline) {
      $("kf-offline-why").textContent = a.reason === "closed" ? T.closed(a.hours) : (T[a.reason] || T.nobody);
      clearInterval(availTimer);
      availTimer = setInterval(function () { sendFrame({ type: "availability" }); }, 30000);
    } else { clearInterval(availTimer); $("kf-offline-done").hidden = true; }
  }
  off.addEventListener("submit", function (e) {
    e.preventDefault();
    var v = function (n) { return off.elements[n].value.trim(); }, err = $("kf-offline-err");
    if (!v("name") || !v("question") || !(v("phone") || v("email"))) { err.hidden = false; err.textContent = T.need; return; }
    offlineId = offlineId || uid();
    var body = { channel: cfg.channel, visitor_token: store("visitor") || cfg.visitor_token || "", uid: cfg.uid || "", uid_hash: cfg.uid_hash || "",
      client_id: offlineId, name: v("name"), phone: v("phone"), email: v("email"), question: v("question"), topic: topic, send_transcript: off.elements.send_transcript.checked };
    fetch("/api/v1/widget/offline-messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (r) {
        if (!r.ok) {
          var x = r.j.errors && r.j.errors[0], f = x && { name: "称呼", phone: "手机号", email: "邮箱", question: "留言内容" }[x.field];
          err.hidden = false; err.textContent = x ? (f ? f + "：" : "") + x.message_zh.split(" / ")[0] : (r.j.title_zh || T.net);
          offlineId = null; return;
        }
        err.hidden = true; off.hidden = true; off.reset();
        var done = $("kf-offline-done"); done.hidden = false; done.textContent = T.done(r.j.ticket_number);
      })
      .catch(function () { err.hidden = false; err.textContent = T.net; });
  });

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
