/* Kefu shell behaviour: CSRF for HTMX and fetch, language switch, copy buttons, confirmations.
   Loaded on every page by layout/base.html before htmx and Alpine. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every HTMX request carries the session's CSRF token (checked by kefu.accounts.deps).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // For hand-written fetch() calls: kefu.fetch(url, {method: "POST", body: ...}).
  window.kefu = {
    csrfToken: csrfToken,
    fetch: function (url, options) {
      options = options || {};
      options.headers = Object.assign({ "X-CSRF-Token": csrfToken() }, options.headers || {});
      options.credentials = "same-origin";
      return window.fetch(url, options);
    },
    setLocale: function (locale) {
      var year = 365 * 24 * 3600;
      document.cookie = "kefu_locale=" + encodeURIComponent(locale) + "; path=/; max-age=" + year + "; samesite=lax";
      window.location.reload();
    },
  };

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var lang = target.closest("[data-locale]");
    if (lang) {
      event.preventDefault();
      window.kefu.setLocale(lang.getAttribute("data-locale"));
      return;
    }
    var copy = target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) return;
      var text = source.value !== undefined ? source.value : source.textContent;
      var done = function () {
        var label = copy.getAttribute("data-copied") || "✓";
        var old = copy.textContent;
        copy.textContent = label;
        setTimeout(function () { copy.textContent = old; }, 1600);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text.trim()).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      }
    }
  });

  // <form data-confirm="确定要……吗？"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    }
  }, true);
})();
