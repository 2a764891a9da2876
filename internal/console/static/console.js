// The console's one script: it keeps the overview current. The page opens one event stream;
// the server feeds every stream from one shared poll, so open pages add no load on the broker.
// Each event is the overview's live part, rendered and escaped by the server's template.
(function () {
  "use strict";
  var el = document.getElementById("overview");
  if (!el || !window.EventSource) {
    return;
  }
  var source = new EventSource(el.getAttribute("data-live"));
  source.addEventListener("overview", function (e) {
    el.innerHTML = e.data;
  });
  source.onerror = function () {
    var state = document.getElementById("live-state");
    if (state) {
      state.textContent = "Live updates paused: reconnecting.";
    }
  };
})();
