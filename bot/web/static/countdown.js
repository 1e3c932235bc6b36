// The countdown on a public event page: days, hours, minutes and seconds to the start.
(function () {
  "use strict";
  var node = document.querySelector("[data-countdown]");
  if (!node) { return; }
  var start = Date.parse(node.getAttribute("data-start"));
  if (isNaN(start)) { return; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var left = Math.max(0, Math.floor((start - Date.now()) / 1000));
    var days = Math.floor(left / 86400);
    var text = pad(Math.floor(left % 86400 / 3600)) + ":" + pad(Math.floor(left % 3600 / 60)) + ":" + pad(left % 60);
    node.textContent = "(" + (days ? days + "d " : "") + text + ")";
    if (left === 0) { window.clearInterval(timer); }
  }
  var timer = window.setInterval(tick, 1000);
  tick();
}());
