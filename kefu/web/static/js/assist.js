/* Agent assist in the inbox sidebar (templates/bot/_assist.html).
 *
 * Asks GET /api/v1/bot/conversations/{id}/assist when a conversation pane is mounted and
 * whenever a customer message arrives in it (inbox.js raises "kefu:pane" and
 * "kefu:customer-message"), and draws the bot's top FAQ answers and the best canned replies.
 * "插入" puts the text into the composer at the caret; the agent still decides to send it.
 */
(function () {
  "use strict";
  var seq = 0, timer = null, openKey = "kefu.assist.open";

  function $(sel, ctx) { return (ctx || document).querySelector(sel); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function fmt(s, vars) { return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] != null ? vars[k] : ""; }); }
  function panel() { return document.getElementById("assist-panel"); }
  function texts() { var t = $("#assist-i18n"); return t ? JSON.parse(t.textContent) : {}; }

  function insert(text) {
    var input = document.getElementById("chat-input"); if (!input) return;
    var start = input.selectionStart != null ? input.selectionStart : input.value.length;
    var end = input.selectionEnd != null ? input.selectionEnd : start;
    if (document.activeElement !== input && !input.value.trim()) { start = 0; end = input.value.length; }
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    var caret = start + text.length;
    input.focus(); input.setSelectionRange(caret, caret);
    // The composer's listeners (typing indicator) hear it as if the agent typed.
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function item(T, title, body, score, shortcut) {
    var li = el("li", "assist-item"), top = el("div", "assist-item-top");
    top.appendChild(el("span", "assist-title", (shortcut ? "/" + shortcut + " " : "") + title)).title = title;
    top.appendChild(el("span", "assist-score", fmt(T.confidence, { n: Math.round(score * 100) })));
    var button = el("button", "btn btn-secondary btn-sm assist-insert", T.insert);
    button.type = "button"; button.title = T.insert_title;
    // mousedown keeps the composer's caret where the agent left it.
    button.addEventListener("mousedown", function (e) { e.preventDefault(); });
    button.addEventListener("click", function () { insert(body); button.textContent = T.inserted; setTimeout(function () { button.textContent = T.insert; }, 1500); });
    top.appendChild(button);
    li.appendChild(top);
    li.appendChild(el("div", "assist-text", body)).title = body;
    return li;
  }

  function draw(p, data) {
    var T = texts();
    var answers = $("[data-assist=answers]", p), canned = $("[data-assist=canned]", p), about = $("[data-assist-for]", p);
    answers.innerHTML = ""; canned.innerHTML = "";
    $("[data-assist-state]", p).textContent = "";
    if (!data.message_id) {
      about.hidden = false; about.textContent = T.no_message;
      $("[data-assist-group=answers]", p).hidden = true; $("[data-assist-group=canned]", p).hidden = true;
      return;
    }
    $("[data-assist-group=answers]", p).hidden = false; $("[data-assist-group=canned]", p).hidden = false;
    about.hidden = false; about.textContent = fmt(T.for, { text: data.message }); about.title = data.message;
    p.dataset.message = data.message_id;
    data.answers.forEach(function (a) { answers.appendChild(item(T, a.question, a.answer, a.confidence)); });
    if (!data.answers.length) answers.appendChild(el("li", "assist-empty", T.none_answers));
    data.canned.forEach(function (c) { canned.appendChild(item(T, c.title, c.text, c.confidence, c.shortcut)); });
    if (!data.canned.length) canned.appendChild(el("li", "assist-empty", T.none_canned));
  }

  function load() {
    var p = panel(); if (!p) return;
    var mine = ++seq;
    fetch("/api/v1/bot/conversations/" + p.dataset.conversation + "/assist", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (mine !== seq || panel() !== p) return; // another chat opened, or a newer message asked
        if (!data) { $("[data-assist-state]", p).textContent = texts().failed; return; }
        draw(p, data);
      })
      .catch(function () { if (mine === seq && panel() === p) $("[data-assist-state]", p).textContent = texts().failed; });
  }
  function soon() { clearTimeout(timer); timer = setTimeout(load, 150); }

  function remember(p) {
    if (p.dataset.bound) return; p.dataset.bound = "1";
    try { if (localStorage.getItem(openKey) === "0") p.open = false; } catch (e) {}
    p.addEventListener("toggle", function () { try { localStorage.setItem(openKey, p.open ? "1" : "0"); } catch (e) {} });
  }

  document.addEventListener("kefu:pane", function () { var p = panel(); if (p) { remember(p); soon(); } });
  document.addEventListener("kefu:customer-message", function (e) {
    var p = panel(), ev = e.detail || {};
    if (p && ev.conversation_id === +p.dataset.conversation) soon();
  });
  if (panel()) { remember(panel()); soon(); }
})();
