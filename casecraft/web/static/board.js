// The alert board: each server-sent alert makes htmx fetch its row (the markup lives in one template).
(function () {
  var board = document.getElementById("alert-board");
  if (!board || !window.EventSource) { return; }
  var unit = board.dataset.unit, after = board.dataset.after;
  var source = new EventSource(board.dataset.stream + "?unit=" + encodeURIComponent(unit) + "&after_id=" + after);
  var status = document.getElementById("live-status");
  source.addEventListener("open", function () { status.textContent = "实时连接已建立"; });
  source.addEventListener("error", function () { status.textContent = "连接中断，正在重连…"; });
  source.addEventListener("alert", function (event) {
    if (document.getElementById("alert-" + event.lastEventId)) { return; }
    var before = Number(event.lastEventId) - 1;
    htmx.ajax("GET", board.dataset.rows + "?unit=" + encodeURIComponent(unit) + "&after_id=" + before,
              { target: "#alert-rows", swap: "afterbegin" }).then(function () {
      var rows = document.querySelectorAll("#alert-rows tr[id]"), seen = {};
      rows.forEach(function (r) { if (seen[r.id]) { r.remove(); } seen[r.id] = true; });
      var empty = document.getElementById("no-alerts"); if (empty) { empty.remove(); }
      status.textContent = "收到新告警 #" + event.lastEventId;
    });
  });
})();
