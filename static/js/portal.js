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

  // List tables (django-tables2 renders them in .table-responsive) become one
  // card per row on phones (app.css): each cell is labelled with its column.
  document.querySelectorAll(".table-responsive > table.table, table.table-stack")
    .forEach(function (table) {
      var heads = Array.prototype.map.call(
        table.querySelectorAll("thead th"),
        function (th) { return th.textContent.trim(); }
      );
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (i > 0 && heads[i] && !cell.hasAttribute("colspan")
              && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", heads[i]);
          }
        });
      });
      table.classList.add("table-stack");
    });

  // A table wider than its card scrolls inside it (app.css); the card then takes
  // the keyboard focus, so it can be scrolled with the arrow keys too.
  var scrollers = document.querySelectorAll(".table-responsive, .card");
  function markScrollable() {
    scrollers.forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.classList.add("scrolls");
      } else if (box.classList.contains("scrolls")) {
        box.removeAttribute("tabindex");
        box.classList.remove("scrolls");
      }
    });
  }
  markScrollable();
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(markScrollable, 150);
  });
})();
