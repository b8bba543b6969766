/* Kefu chat widget loader.
 *   <script src="https://kefu.example.com/widget.js" data-channel="tmall-flagship"></script>
 * Optional: data-color, data-position (right|left), data-greeting, and for a
 * signed-in shopper data-user-id + data-user-hash (HMAC-SHA256 computed by the shop's
 * backend) + data-user-name; data-topic (an entry such as presales) picks the skill group;
 * data-product (JSON {"id","title","price","image","url"}) offers the customer to send the
 * product of this page as a card. The chat itself is the H5 page in an iframe; this file only
 * draws the launcher (in a shadow root, so the shop's CSS cannot break it) and the panel.
 * API: window.KefuChat.open() / .close() / .toggle().
 */
(function () {
  "use strict";
  if (window.KefuChat) return;
  var script = document.currentScript || document.querySelector("script[data-channel][src*='widget.js']");
  if (!script) return;
  var d = script.dataset;
  var base = (d.base || script.src.replace(/\/widget\.js(\?.*)?$/, "")).replace(/\/$/, "");
  var color = /^#[0-9a-fA-F]{3,8}$/.test(d.color || "") ? d.color : "#1677ff";
  var left = d.position === "left";
  var q = new URLSearchParams({ embed: "1", page: location.href });
  if (d.color) q.set("color", color);
  if (d.greeting) q.set("greeting", d.greeting);
  if (d.userId) { q.set("uid", d.userId); q.set("uid_hash", d.userHash || ""); }
  if (d.userName) q.set("name", d.userName);
  if (d.topic) q.set("topic", d.topic);
  if (d.product) q.set("product", d.product); // JSON: {"id","title","price","image","url"}
  var src = base + "/chat/" + encodeURIComponent(d.channel) + "?" + q.toString();
  var origin = new URL(base, location.href).origin;

  var host = document.createElement("div");
  host.id = "kefu-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var side = left ? "left" : "right";
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    ".btn{position:fixed;bottom:24px;" + side + ":24px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;background:" + color + ";color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.18);display:grid;place-items:center;transition:transform .15s}" +
    ".btn:hover{transform:scale(1.06)}.btn svg{width:28px;height:28px}" +
    ".badge{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#f53f3f;color:#fff;font:600 12px/20px sans-serif;text-align:center;box-shadow:0 0 0 2px #fff}" +
    ".panel{position:fixed;bottom:92px;" + side + ":24px;z-index:2147483000;width:380px;height:600px;max-height:calc(100vh - 120px);border-radius:14px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.2);background:#fff;opacity:0;transform:translateY(12px);pointer-events:none;transition:opacity .18s,transform .18s}" +
    ".panel.open{opacity:1;transform:none;pointer-events:auto}" +
    ".panel iframe{border:0;width:100%;height:100%;display:block}" +
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0;bottom:0;" + side + ":0}}" +
    "</style>" +
    "<div class='panel' part='panel'><iframe title='在线客服' allow='clipboard-write'></iframe></div>" +
    "<button class='btn' part='button' aria-label='联系客服' title='联系客服'>" +
    "<svg viewBox='0 0 24 24' fill='none' stroke='currentColor' stroke-width='2' stroke-linecap='round' stroke-linejoin='round'><path d='M21 12a8 8 0 0 1-11.6 7.1L4 20l1.1-4.6A8 8 0 1 1 21 12z'/></svg>" +
    "<span class='badge' hidden>0</span></button>";
  var panel = root.querySelector(".panel"), frame = root.querySelector("iframe");
  var btn = root.querySelector(".btn"), badge = root.querySelector(".badge");
  var isOpen = false;
  frame.src = src; // loaded at once so the unread badge works while the panel is closed

  function post(type) { if (frame.contentWindow) frame.contentWindow.postMessage({ kefu: true, type: type }, origin); }
  function open() { isOpen = true; panel.classList.add("open"); badge.hidden = true; post("open"); }
  function close() { isOpen = false; panel.classList.remove("open"); post("closed"); }
  btn.addEventListener("click", function () { isOpen ? close() : open(); });
  window.addEventListener("message", function (e) {
    if (e.origin !== origin || !e.data || !e.data.kefu) return;
    if (e.data.type === "close") close();
    if (e.data.type === "unread") {
      var n = e.data.count | 0;
      badge.textContent = n > 99 ? "99+" : String(n);
      badge.hidden = isOpen || n === 0;
    }
  });
  (document.body || document.documentElement).appendChild(host);
  window.KefuChat = { open: open, close: close, toggle: function () { isOpen ? close() : open(); } };
})();
