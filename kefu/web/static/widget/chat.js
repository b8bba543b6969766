/* Kefu customer chat (H5 page and widget iframe). Vanilla JS, no build step.
 *
 * Nothing typed is lost: a message goes into an outbox in localStorage first, is sent with a
 * client id, and leaves the outbox only when the server acknowledges it (after it is stored).
 * After a reconnect the page resumes from the last event id it saw and resends the outbox;
 * the server drops resends it already stored. Each message kind (text, image, product and
 * order cards, bot choices, CSAT) has a renderer in RENDER below.
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
    group_closed: function (h) { return "该组已下班" + (h ? "（服务时间 " + h + "）" : "") + "，您的消息已收到，上班后会第一时间回复您。"; },
    holiday: "节假日休息中，请留言，我们上班后会尽快联系您。", nobody: "客服暂时不在，请留言，我们会尽快联系您。",
    done: function (no) { return "留言已收到" + (no ? "（工单号 " + no + "）" : "") + "，我们会尽快联系您。"; },
    imgType: "只能发送 JPEG、PNG 或 WebP 图片", imgBig: "图片太大，请压缩后再发送", orders: "请选择要咨询的订单：", noOrders: "暂无订单",
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
    // Pictures: the thumbnail in the bubble, the full picture over the chat on a tap.
    image: function (m, b) {
      var p = m.payload || {}, img = el("img", "kf-img"), k = Math.min(1, 200 / Math.max(p.width || 1, p.height || 1));
      img.src = p.thumb_url || p.preview || ""; img.alt = p.name || "图片";
      if (p.width) { img.width = Math.round(p.width * k); img.height = Math.round(p.height * k); }
      img.onclick = function () { viewer(p.url || p.preview); };
      b.classList.add("kf-media"); b.appendChild(img);
    },
    product: function (m, b) { card(b, m.payload || {}, 1); },
    order: function (m, b) { card(b, m.payload || {}); },
    text: function (m, b) { b.textContent = m.body; if ((m.payload || {}).rate) rateBar(m, b); },
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

  // Under a bot's FAQ answer: 有帮助 / 没帮助, posted with the signed token the answer carries
  // (the token is the credential); the customer may change their mind, the last choice counts.
  function rateBar(m, b) {
    var bar = el("div", "kf-rate"), btns = [];
    function paint(v) { btns.forEach(function (x) { x[1].classList.toggle("on", x[0] === v); }); }
    [[1, "👍 有帮助"], [-1, "👎 没帮助"]].forEach(function (o) {
      var btn = el("button", "kf-rate-btn", o[1]); btn.type = "button";
      btn.onclick = function () {
        fetch("/api/v1/widget/bot-rating/" + encodeURIComponent(m.payload.rate), {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ helpful: o[0] > 0 })
        }).then(function (r) { if (r.ok) { store("rate:" + m.id, o[0]); paint(o[0]); } }, function () {});
      };
      btns.push([o[0], btn]); bar.appendChild(btn);
    });
    paint(store("rate:" + m.id)); b.appendChild(bar);
  }

  // Product (from the shop's page) and order (built by the server from its database) cards.
  function card(b, p, product) {
    b.classList.add("kf-card");
    if (product) {
      if (/^https?:/i.test(p.image || "")) { var i = el("img", "kf-card-img"); i.src = p.image; i.alt = ""; i.referrerPolicy = "no-referrer"; b.appendChild(i); }
      var t = el("a", "kf-card-title", p.title);
      if (/^https?:/i.test(p.url || "")) { t.href = p.url; t.target = "_blank"; t.rel = "noopener noreferrer"; }
      b.appendChild(t);
      if (p.price) b.appendChild(el("div", "kf-card-price", "¥" + p.price));
    } else {
      b.appendChild(el("div", "kf-card-head", "订单 " + (p.order_no || "")));
      b.appendChild(el("div", "kf-card-title", p.items || ""));
      b.appendChild(el("div", "kf-card-meta", (p.status_label || "") + " · ¥" + (p.amount || "")));
    }
  }
  function viewer(src) {
    if (!src) return;
    var v = el("div", "kf-viewer"), i = el("img"); i.src = src; i.alt = "";
    v.onclick = function () { v.remove(); }; v.appendChild(i); document.body.appendChild(v);
  }
  function sendCard(kind, extra, payload, body) {
    var m = Object.assign({ client_id: uid(), kind: kind, body: body, payload: payload, created_at: new Date().toISOString() }, extra);
    saveOutbox(outbox().concat([m]));
    var row = bubble(m, true, "sending"); row.dataset.cid = m.client_id;
    scrollDown(true); transmit(m);
  }
  // A picture goes over HTTP, not the socket; it is kept in memory (not the outbox: too big)
  // until stored, so 发送失败 can be tapped to try again.
  var files = {};
  function sendImage(file) {
    if (!file) return;
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) { systemLine(T.imgType); return; }
    if (file.size > cfg.upload_max) { systemLine(T.imgBig); return; }
    var m = { client_id: uid(), kind: "image", body: "[图片]", created_at: new Date().toISOString(), payload: { preview: URL.createObjectURL(file), name: file.name } };
    files[m.client_id] = file;
    bubble(m, true, "sending").dataset.cid = m.client_id; scrollDown(true);
    upload(m.client_id);
  }
  function upload(cid) {
    var row = bubbles[cid], fd = new FormData(), f = identityParams();
    f.client_id = cid; f.name = cfg.name || ""; f.entry = cfg.embed ? "widget" : "h5"; f.page = cfg.page || location.href;
    if (conversationId) f.conversation_id = conversationId;
    Object.keys(f).forEach(function (k) { fd.append(k, f[k]); });
    fd.append("file", files[cid]);
    setStatus(row, "sending");
    fetch("/api/v1/widget/images", { method: "POST", body: fd }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); }).then(function (r) {
      if (!r.ok) {
        setStatus(row, "failed");
        if (r.j.status === 422 || r.j.status === 403) { delete files[cid]; var st = row.querySelector(".kf-status"); st.textContent = r.j.title_zh; st.onclick = null; }
        return;
      }
      delete files[cid]; row.dataset.id = r.j.message_id; setStatus(row, r.j.message_id <= agentReadUpTo ? "read" : "unread");
      // The picture opened the conversation: the socket starts following it.
      if (conversationId !== r.j.conversation_id) { conversationId = r.j.conversation_id; sendFrame({ type: "follow" }); }
    }, function () { setStatus(row, "failed"); });
  }
  function identityParams() {
    var f = { channel: cfg.channel, visitor: store("visitor") || cfg.visitor_token || "" };
    if (cfg.uid) { f.uid = cfg.uid; f.uid_hash = cfg.uid_hash; }
    return f;
  }

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
    s.onclick = status === "failed" ? function () { if (files[row.dataset.cid]) return upload(row.dataset.cid); var m = outbox().filter(function (x) { return x.client_id === row.dataset.cid; })[0]; if (m) { setStatus(row, "sending"); transmit(m); } } : null;
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
  function transmit(m) { sendFrame({ type: "send", client_id: m.client_id, body: m.body, kind: m.kind || "text", product: m.product, order_no: m.order_no }); }
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
      else if (f.type === "queue") { if (f.conversation_id === conversationId || !conversationId) { var q = $("kf-queue"); q.hidden = false; q.textContent = groupNote || T.queue(f.ahead, f.eta_minutes); } }
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
  var groupNote = "";
  function avail(a) {
    var offline = a.mode === "offline";
    // The chosen group is closed but the shop is open: write now, the group answers when it opens.
    groupNote = !offline && a.reason === "group_closed" ? T.group_closed(a.hours) : "";
    if (groupNote) { $("kf-queue").hidden = false; $("kf-queue").textContent = groupNote; }
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
  var fileInput = $("kf-file");
  $("kf-image-btn").onclick = function () { fileInput.click(); };
  fileInput.onchange = function () { [].forEach.call(fileInput.files, sendImage); fileInput.value = ""; };
  // The product the shop's page is showing (widget option `product`): offered, sent on a tap.
  if (cfg.product) {
    var offer = $("kf-product"), pc = el("div", "kf-bubble"), sb = el("button", "kf-send", "发送商品");
    card(pc, cfg.product, 1); sb.type = "button"; offer.hidden = false;
    sb.onclick = function () { offer.hidden = true; sendCard("product", { product: cfg.product }, cfg.product, "[商品] " + cfg.product.title); };
    offer.appendChild(pc); offer.appendChild(sb);
  }
  // 选择订单: a signed-in shopper's recent orders; the server builds the card from the number.
  var picker = $("kf-orders"), orderBtn = $("kf-order-btn");
  if (cfg.uid) orderBtn.hidden = false;
  orderBtn.onclick = function () {
    picker.hidden = !picker.hidden;
    if (!picker.hidden) fetch("/api/v1/widget/orders?" + new URLSearchParams(identityParams())).then(function (r) { return r.json(); }).then(function (j) {
      picker.textContent = ""; picker.appendChild(el("div", "kf-orders-head", (j.items || []).length ? T.orders : (j.title_zh || T.noOrders)));
      (j.items || []).forEach(function (o) {
        var b = el("button", "kf-order kf-bubble"); b.type = "button"; card(b, o);
        b.onclick = function () { picker.hidden = true; sendCard("order", { order_no: o.order_no }, o, "[订单] " + o.order_no); };
        picker.appendChild(b);
      });
    }, function () { picker.textContent = T.net; });
  };
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
