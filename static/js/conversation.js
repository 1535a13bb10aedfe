// Show only the chosen template's inputs; without JavaScript all stay visible.
(function () {
  var select = document.getElementById("template-select");
  if (!select) { return; }
  function sync() {
    document.querySelectorAll(".template-params").forEach(function (fieldset) {
      var chosen = fieldset.dataset.template === select.value;
      fieldset.hidden = !chosen;
      fieldset.querySelectorAll("input").forEach(function (input) {
        input.disabled = !chosen;
        input.required = chosen;
      });
    });
  }
  select.addEventListener("change", sync);
  sync();
})();
