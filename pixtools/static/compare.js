// The split view of an output against its original (partials/compare.html): the divider
// is a range input over the frame; zoom ("Fit", "1:1", +, −) and pan apply one transform
// to both layers, so the two sides always show the same part of the picture.
(function () {
  "use strict";

  var MAX_ZOOM = 16;

  function state(figure) {
    if (!figure.__compare) figure.__compare = { zoom: 1, x: 0, y: 0 };
    return figure.__compare;
  }

  // How much the original is scaled down to fit the frame: "1:1" undoes exactly that.
  function fitScale(figure) {
    var frame = figure.querySelector(".compare-frame");
    var width = Number(figure.dataset.width) || 1;
    var height = Number(figure.dataset.height) || 1;
    return Math.min(frame.clientWidth / width, frame.clientHeight / height);
  }

  function clampPan(figure, s) {
    var frame = figure.querySelector(".compare-frame");
    var fit = fitScale(figure);
    var spareX = Math.max(0, (Number(figure.dataset.width) * fit * s.zoom - frame.clientWidth) / 2);
    var spareY = Math.max(0, (Number(figure.dataset.height) * fit * s.zoom - frame.clientHeight) / 2);
    s.x = Math.max(-spareX, Math.min(spareX, s.x));
    s.y = Math.max(-spareY, Math.min(spareY, s.y));
  }

  function render(figure) {
    var s = state(figure);
    clampPan(figure, s);
    var transform = s.zoom === 1 ? "" :
      "translate(" + s.x + "px, " + s.y + "px) scale(" + s.zoom + ")";
    figure.querySelectorAll(".compare-layer img").forEach(function (image) {
      image.style.transform = transform;
    });
    var actual = Math.abs(s.zoom * fitScale(figure) - 1) < 0.01;
    figure.querySelectorAll("[data-zoom]").forEach(function (button) {
      var kind = button.dataset.zoom;
      if (kind === "fit") button.setAttribute("aria-pressed", String(s.zoom === 1));
      if (kind === "1") button.setAttribute("aria-pressed", String(actual));
    });
    var level = figure.querySelector("[data-zoom-level]");
    if (level) level.textContent = s.zoom === 1 ? "fit" : Math.round(s.zoom * fitScale(figure) * 100) + "%";
    figure.classList.toggle("is-zoomed", s.zoom > 1);
  }

  function zoom(figure, kind) {
    var s = state(figure);
    if (kind === "fit") s.zoom = 1;
    else if (kind === "1") s.zoom = Math.max(1, 1 / fitScale(figure));
    else if (kind === "in") s.zoom = Math.min(MAX_ZOOM, s.zoom * 2);
    else if (kind === "out") s.zoom = Math.max(1, s.zoom / 2);
    if (s.zoom === 1) { s.x = 0; s.y = 0; }
    render(figure);
  }

  function split(range) {
    var figure = range.closest("[data-compare]");
    if (figure) figure.style.setProperty("--split", range.value + "%");
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.hasAttribute("data-compare-range")) split(target);
  });

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-zoom]");
    var figure = button && button.closest("[data-compare]");
    if (figure) zoom(figure, button.dataset.zoom);
  });

  // Dragging the divider's handle moves it to the pointer (the native drag would lose the
  // pointer, as the rest of the range lets events through); dragging the picture pans both
  // sides while zoomed in.
  var drag = null;
  document.addEventListener("pointerdown", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var frame = target.closest(".compare-frame");
    var figure = frame && frame.closest("[data-compare]");
    if (!figure) return;
    var s = state(figure);
    var range = figure.querySelector("[data-compare-range]");
    var box = frame.getBoundingClientRect();
    var line = box.left + box.width * Number(range.value) / 100;
    // The handle, or anywhere near the line: a finger is not as precise as a mouse.
    if (target === range || Math.abs(event.clientX - line) < 24) {
      drag = { figure: figure, range: range };
      range.focus();
    } else if (s.zoom > 1) {
      drag = { figure: figure, x: event.clientX - s.x, y: event.clientY - s.y };
    } else {
      return;
    }
    frame.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    if (drag.range) {
      var box = drag.figure.querySelector(".compare-frame").getBoundingClientRect();
      var share = (event.clientX - box.left) / Math.max(1, box.width);
      drag.range.value = String(Math.round(Math.max(0, Math.min(1, share)) * 100));
      split(drag.range);
      return;
    }
    var s = state(drag.figure);
    s.x = event.clientX - drag.x;
    s.y = event.clientY - drag.y;
    render(drag.figure);
  });
  function endDrag() { drag = null; }
  document.addEventListener("pointerup", endDrag);
  document.addEventListener("pointercancel", endDrag);

  // The frame's size follows the window: keep each zoomed view inside its picture.
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-compare].is-zoomed").forEach(render);
  });
})();
