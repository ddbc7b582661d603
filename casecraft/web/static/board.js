// The alert board: each server-sent alert makes the page fetch its row (the markup lives in one template).
// Its status texts come from the page (data-* of #live-status), in the page's language.
(function () {
  var board = document.getElementById("alert-board");
  if (!board || !window.EventSource) { return; }
  var unit = board.dataset.unit, after = board.dataset.after;
  var body = document.getElementById("alert-rows");
  var status = document.getElementById("live-status");
  var source = new EventSource(board.dataset.stream + "?unit=" + encodeURIComponent(unit) + "&after_id=" + after);
  var pending = Promise.resolve();
  source.addEventListener("open", function () { status.textContent = status.dataset.open; });
  source.addEventListener("error", function () { status.textContent = status.dataset.lost; });
  source.addEventListener("alert", function (event) {
    var id = event.lastEventId;
    // one fetch at a time, so two events never insert the same row twice
    pending = pending.then(function () {
      if (document.getElementById("alert-" + id)) { return; }
      var url = board.dataset.rows + "?unit=" + encodeURIComponent(unit) + "&after_id=" + (Number(id) - 1);
      return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          var t = document.createElement("template");
          t.innerHTML = "<table><tbody>" + html + "</tbody></table>";
          var rows = Array.prototype.slice.call(t.content.querySelectorAll("tr[id]")).reverse();
          rows.forEach(function (row) {
            if (!document.getElementById(row.id)) {
              body.insertBefore(row, body.firstChild);
              if (window.htmx) { htmx.process(row); }
            }
          });
          var empty = document.getElementById("no-alerts"); if (empty) { empty.remove(); }
          status.textContent = status.dataset.new.replace("{id}", id);
        });
    }).catch(function () { status.textContent = status.dataset.failed; });
  });
})();
