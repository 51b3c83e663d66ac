// The recipe builder (partials/recipe.html): "+ Add step" shows an operation's section at
// the end of the list, ↑ and ↓ move it, × hides it again. A hidden section's fieldset is
// disabled, so only the shown steps are sent, in the order they stand in the list.
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("announcer");
    if (live) live.textContent = text;
  }

  function shown(item) {
    return item && !item.hidden;
  }

  function sibling(item, forward) {
    var next = forward ? item.nextElementSibling : item.previousElementSibling;
    while (next && !shown(next)) next = forward ? next.nextElementSibling : next.previousElementSibling;
    return next;
  }

  function menuItem(op) {
    return document.querySelector('[data-add-item="' + op + '"]');
  }

  function add(op) {
    var list = document.getElementById("steps");
    var item = list && list.querySelector('.op[data-op="' + op + '"]');
    if (!item) return;
    list.appendChild(item);  // a new step runs last
    item.hidden = false;
    item.querySelector(".op-fields").disabled = false;
    var entry = menuItem(op);
    if (entry) entry.hidden = true;
    var menu = document.getElementById("add-step");
    if (menu) menu.open = false;
    var first = item.querySelector(".op-controls input, .op-controls select") ||
      item.querySelector("[data-remove]");
    if (first) first.focus();
    announce(op + " added as step " + position(item) + ".");
  }

  function position(item) {
    var count = 0;
    for (var node = item; node; node = node.previousElementSibling) if (shown(node)) count += 1;
    return count;
  }

  function remove(item) {
    item.hidden = true;
    item.querySelector(".op-fields").disabled = true;
    var entry = menuItem(item.dataset.op);
    if (entry) entry.hidden = false;
    var summary = document.querySelector("#add-step > summary");
    if (summary) summary.focus();
    announce(item.dataset.op + " removed.");
  }

  function move(item, forward) {
    var other = sibling(item, forward);
    if (!other) return;
    if (forward) other.after(item); else other.before(item);
    announce(item.dataset.op + " is now step " + position(item) + ".");
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target && target.closest("[data-add], [data-move], [data-remove]");
    if (!button) return;
    if (button.dataset.add) {
      add(button.dataset.add);
      return;
    }
    var item = button.closest(".op");
    if (!item) return;
    if (button.hasAttribute("data-remove")) remove(item);
    else {
      move(item, button.dataset.move === "down");
      button.focus();
    }
  });
})();

// "Copy as curl" / "Copy recipe JSON": the server answers both texts; copy the one asked
// for (the clipboard may refuse, e.g. over plain HTTP: the text stays there to select).
document.addEventListener("htmx:afterSwap", function (event) {
  "use strict";
  var target = event.detail && event.detail.target;
  if (!target || target.id !== "export") return;
  var wanted = target.querySelector("[data-wanted]");
  var status = target.querySelector("[data-export-status]");
  if (!wanted || !status) return;
  var what = wanted.dataset.exportText === "curl" ? "The curl command" : "The recipe JSON";
  function say(text) { status.textContent = text; }
  if (!navigator.clipboard || !window.isSecureContext) {
    say(what + " is below: select it to copy.");
    return;
  }
  navigator.clipboard.writeText(wanted.textContent).then(function () {
    say(what + " is copied.");
  }, function () {
    say(what + " is below: select it to copy.");
  });
});

// Enter in the preset's name saves the preset (it would otherwise send the images).
document.addEventListener("keydown", function (event) {
  "use strict";
  var target = event.target;
  if (event.key !== "Enter" || !(target instanceof HTMLInputElement) || target.id !== "preset-name") return;
  event.preventDefault();
  var save = document.getElementById("save-preset");
  if (save) save.click();
});
