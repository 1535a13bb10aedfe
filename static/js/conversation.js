// The conversation page: the thread opens at its newest message and keeps its
// place when older ones load; the live part refreshes itself (htmx polling) and
// the page posts the read marker; the window countdown; the composer shows only
// the chosen template's inputs with a live preview. Without JavaScript the
// page still works: every template's inputs show, "Load older" is a link and
// "Mark as read" a button.
(function () {
  "use strict";

  // --- Template inputs and the live preview --------------------------------
  var select = document.getElementById("template-select");
  function renderPreview(fieldset) {
    var preview = fieldset.querySelector(".template-preview");
    if (!preview) { return; }
    var values = {};
    fieldset.querySelectorAll("input.template-param").forEach(function (input) {
      values[input.dataset.number] = input.value.trim() || input.placeholder || "";
    });
    preview.textContent = preview.dataset.body.replace(/\{\{\s*(\d+)\s*\}\}/g, function (all, n) {
      return values[n] ? values[n] : all;
    });
  }
  function syncTemplates() {
    if (!select) { return; }
    document.querySelectorAll(".template-params").forEach(function (fieldset) {
      var chosen = fieldset.dataset.template === select.value;
      fieldset.hidden = !chosen;
      fieldset.querySelectorAll("input").forEach(function (input) {
        input.disabled = !chosen;
        input.required = chosen;
      });
      renderPreview(fieldset);
    });
  }
  if (select) {
    select.addEventListener("change", syncTemplates);
    document.querySelectorAll(".template-params").forEach(function (fieldset) {
      fieldset.addEventListener("input", function () { renderPreview(fieldset); });
    });
    syncTemplates();
  }
  document.addEventListener("click", function (event) {
    var fix = event.target.closest(".send-as-template");
    if (fix && select) {
      event.preventDefault();
      select.scrollIntoView({ block: "center" });
      select.focus();
    }
  });

  // --- Countdown to the window's close -------------------------------------
  function countdown() {
    document.querySelectorAll(".countdown[data-closes-at]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.dataset.closesAt) - Date.now()) / 60000);
      if (isNaN(left)) { return; }
      if (left < 0) {
        el.textContent = el.dataset.textClosed;
      } else if (left < 60) {
        el.textContent = el.dataset.textMinutes.replace("%(m)s", left);
      } else {
        el.textContent = el.dataset.textOpen
          .replace("%(h)s", Math.floor(left / 60)).replace("%(m)s", left % 60);
      }
    });
  }
  countdown();
  window.setInterval(countdown, 15000);

  // --- The thread: newest at the bottom, older pages above -----------------
  var scroller = document.getElementById("thread");
  if (!scroller) { return; }
  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  }
  scroller.scrollTop = scroller.scrollHeight;
  var stick = true;
  var anchor = null;
  var anchorTop = 0;
  document.body.addEventListener("htmx:beforeSwap", function () {
    stick = atBottom();
    // The first message on screen, to keep it in place whatever goes in above.
    anchor = scroller.querySelector(".bubble");
    anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    if (anchor && anchor.isConnected && !stick) {
      scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
    }
  });
  var shownNewest = (document.getElementById("thread-live") || {dataset: {}}).dataset.newest;
  document.body.addEventListener("htmx:afterSettle", function () {
    var live = document.getElementById("thread-live");
    if (live && live.dataset.newest !== shownNewest) {
      // New messages arrived: follow them if the reader was at the bottom.
      shownNewest = live.dataset.newest;
      if (stick) { scroller.scrollTop = scroller.scrollHeight; }
    }
    markRead();
    countdown();
  });

  // --- Read marker: posted while the page is visible -----------------------
  var readForm = document.getElementById("read-form");
  var posted = parseInt(scroller.dataset.readUpto || "0", 10);
  if (readForm) { readForm.hidden = true; }
  function markRead() {
    var live = document.getElementById("thread-live");
    if (!readForm || !live || document.visibilityState !== "visible") { return; }
    var newest = parseInt(live.dataset.newest || "0", 10);
    if (!newest || newest <= posted) { return; }
    var data = new FormData(readForm);
    data.set("up_to", String(newest));
    fetch(readForm.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.ok) { posted = Math.max(posted, newest); }
    });
  }
  document.addEventListener("visibilitychange", markRead);
  markRead();
})();
