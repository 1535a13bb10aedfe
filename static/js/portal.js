// Every page of the portal. The Content-Security-Policy allows no inline script
// or event handler attribute, so page behaviour lives in static files like this.
(function () {
  // A select marked data-autosubmit submits its form when changed (the language
  // switch); without JavaScript its form has a button.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
})();
