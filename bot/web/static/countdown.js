// A public event page's clock: the countdown to the start ("20 days 14:58:03", "20 дней 14:58:03": the day in
// the page's language by the browser's own CLDR data), and the start in the reader's own time zone when it is not
// the event's. Without a script the page still says when, in the event's zone (and in Moscow time in Russian).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  var node = document.querySelector("[data-countdown]");
  var start = node ? Date.parse(node.getAttribute("data-start")) : NaN;
  if (node && !isNaN(start)) {
    var days = null;
    try {
      days = new Intl.NumberFormat(lang, { style: "unit", unit: "day", unitDisplay: "long" });
    } catch (e) { days = null; }
    var timer = null;
    var tick = function () {
      var left = Math.max(0, Math.floor((start - Date.now()) / 1000));
      var whole = Math.floor(left / 86400);
      var clock = pad(Math.floor(left % 86400 / 3600)) + ":" + pad(Math.floor(left % 3600 / 60)) + ":" + pad(left % 60);
      node.textContent = "(" + (whole ? (days ? days.format(whole) : whole + " d") + " " : "") + clock + ")";
      if (left === 0 && timer !== null) { window.clearInterval(timer); }
    };
    timer = window.setInterval(tick, 1000);
    tick();
  }

  // The reader's own time: shown only when their zone's offset at that moment differs from the event's.
  var mine = document.querySelector("[data-local-time]");
  if (mine && window.Intl && Intl.DateTimeFormat) {
    var at = new Date(mine.getAttribute("data-start"));
    var eventOffset = Number(mine.getAttribute("data-offset"));  // minutes east of UTC at the start
    if (!isNaN(at.getTime()) && -at.getTimezoneOffset() !== eventOffset) {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      var text = new Intl.DateTimeFormat(lang, {
        weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      }).format(at);
      var value = mine.querySelector("[data-value]");
      if (value) { value.textContent = text + (zone ? " (" + zone.replace(/_/g, " ") + ")" : ""); }
      mine.hidden = false;
    }
  }
}());
