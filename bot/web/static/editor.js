// The event editor: while the organiser types, post the form to the preview endpoint (the same checks as
// saving, nothing saved) and swap in the previews, each field's problems and the "still as in …" marks.
(function () {
  "use strict";
  var form = document.getElementById("event-form");
  var target = document.getElementById("previews");
  if (!form || !target || !window.fetch || !window.FormData) { return; }
  var state = document.getElementById("preview-state");
  var file = form.querySelector('input[type="file"][name="cover.file"]');
  var url = form.getAttribute("data-preview");
  var timer = null;
  var asked = 0;  // the number of the latest request: an older answer arriving late is dropped

  function say(text) { if (state) { state.textContent = text; } }

  function show(answer) {
    // A form that describes no event yet keeps the previews already drawn (marked as not current).
    if (answer.drawn !== false || !target.querySelector(".preview-group")) {
      target.innerHTML = answer.previews;
      target.removeAttribute("data-stale");
    } else {
      target.setAttribute("data-stale", "true");
    }
    var lists = form.querySelectorAll("ul.field-errors");
    for (var i = 0; i < lists.length; i++) {
      lists[i].textContent = "";
      lists[i].parentNode.classList.remove("has-errors");
    }
    Object.keys(answer.errors).forEach(function (id) {
      var list = document.getElementById(id + "-errors");
      if (!list) { return; }
      answer.errors[id].forEach(function (message) {
        var item = document.createElement("li");
        item.textContent = message;
        list.appendChild(item);
      });
      list.parentNode.classList.add("has-errors");
    });
    var badges = form.querySelectorAll("[data-repeats]");
    for (var j = 0; j < badges.length; j++) {
      var name = badges[j].getAttribute("data-repeats");
      var repeats = answer.repeats.indexOf(name) !== -1;
      badges[j].hidden = !repeats;
      var block = form.querySelector('[data-field="' + name + '"]');
      if (block) { block.classList.toggle("repeats", repeats); }
    }
    if (answer.cover_url && file && file.value) {
      // The upload was checked and kept: the form now names it, so it is not sent again.
      form.elements["cover.url"].value = answer.cover_url;
      file.value = "";
    }
    var told = document.getElementById("told");
    if (told) {
      // What saving would do now ("the announcement goes out now: its time … has passed") and warnings.
      [["ul.notes", answer.notes || []], ["ul.warnings", answer.warnings || []]].forEach(function (pair) {
        var list = told.querySelector(pair[0]);
        list.textContent = "";
        pair[1].forEach(function (line) {
          var item = document.createElement("li");
          item.textContent = line;
          list.appendChild(item);
        });
      });
      told.hidden = !(answer.notes || []).length && !(answer.warnings || []).length;
    }
    target.setAttribute("data-updated", String(asked));
    say(answer.ok ? "As the form is now, not saved yet." :
      answer.problems.length + " problem(s) in the form: the previews show what can be drawn.");
  }

  function send() {
    var data = new FormData(form);
    data.delete("op");
    if (file && !file.value) { data.delete("cover.file"); }
    var mine = ++asked;
    say("Updating the previews…");
    fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("the preview answered " + response.status); }
        return response.json();
      })
      .then(function (answer) { if (mine === asked) { show(answer); } })
      .catch(function (error) { if (mine === asked) { say("The previews could not be updated: " + error.message); } });
  }

  function later() {
    if (timer !== null) { window.clearTimeout(timer); }
    timer = window.setTimeout(send, 350);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
}());
