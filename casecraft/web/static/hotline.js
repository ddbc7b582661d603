// The hotline upload with its progress: the file is sent with XHR (upload progress), the result replaces <main>.
// Its status texts come from the page (data-* of #hotline-status), in the page's language.
(function () {
  function bind() {
    var form = document.getElementById("hotline-form");
    if (!form || !window.FormData || !window.DOMParser) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = document.getElementById("hotline-progress"), status = document.getElementById("hotline-status");
      bar.hidden = false; bar.max = 100; bar.value = 0;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(e.loaded * 100 / e.total);
          status.textContent = status.dataset.uploading.replace("{percent}", bar.value + "%");
        }
      });
      xhr.upload.addEventListener("load", function () { bar.removeAttribute("value"); status.textContent = status.dataset.importing; });
      xhr.addEventListener("load", function () {
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = doc.querySelector("main");
        if (main) { document.querySelector("main").replaceWith(main); bind(); }
        else { status.textContent = status.dataset.failed.replace("{status}", xhr.status); }
      });
      xhr.addEventListener("error", function () { status.textContent = status.dataset.network; });
      xhr.send(new FormData(form));
    });
  }
  bind();
})();
