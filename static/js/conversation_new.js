// New conversation: show only the chosen template's inputs; without JavaScript
// all stay visible and the server reads those of the chosen template.
(function () {
  var select = document.getElementById("start-template");
  if (!select) { return; }
  function sync() {
    document.querySelectorAll(".start-template-params").forEach(function (fieldset) {
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
