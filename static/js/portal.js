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

  // Tables laid out as cards on phones keep what they are for screen readers:
  // some browsers drop a table's semantics once its rows are not table rows.
  document.querySelectorAll("table.table-stack, table.invoice-lines, table.credit-notes")
    .forEach(function (table) {
      table.setAttribute("role", "table");
      table.querySelectorAll("thead, tbody, tfoot").forEach(function (group) {
        group.setAttribute("role", "rowgroup");
      });
      table.querySelectorAll("tr").forEach(function (row) {
        row.setAttribute("role", "row");
        Array.prototype.forEach.call(row.children, function (cell) {
          var header = cell.tagName === "TH";
          cell.setAttribute("role", !header ? "cell"
            : cell.closest("thead") ? "columnheader" : "rowheader");
        });
      });
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
