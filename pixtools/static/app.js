// PixTools page behaviour that htmx does not cover: previews of chosen files, drag and
// drop, slider read-outs, the before/after comparison, upload progress, result
// placeholders and the formats "Best format" may choose from. Everything here
// is an enhancement: without it the form still posts and the page still renders.
(function () {
  "use strict";

  var previewUrls = [];

  function fileInput() {
    return document.getElementById("file");
  }

  function formatBytes(size) {
    if (size < 1000) return size + " B";
    if (size < 1e6) return (size / 1e3).toFixed(1) + " KB";
    return (size / 1e6).toFixed(1) + " MB";
  }

  function setFiles(files) {
    var input = fileInput();
    if (!input) return;
    var transfer = new DataTransfer();
    files.forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
    renderPreviews();
  }

  function renderPreviews() {
    var input = fileInput();
    var list = document.getElementById("previews");
    var submit = document.getElementById("submit");
    if (!input || !list) return;
    // Released a moment later: a preview still loading would otherwise report an error.
    var stale = previewUrls;
    previewUrls = [];
    list.replaceChildren();
    setTimeout(function () { stale.forEach(function (url) { URL.revokeObjectURL(url); }); }, 5000);
    var files = Array.prototype.slice.call(input.files || []);
    files.forEach(function (file, index) {
      var item = document.createElement("li");
      item.className = "preview";
      var image = document.createElement("img");
      image.alt = "";
      image.addEventListener("error", function () { item.classList.add("is-broken"); });
      var url = URL.createObjectURL(file);
      previewUrls.push(url);
      image.src = url;
      var name = document.createElement("span");
      name.className = "preview-name";
      name.textContent = file.name;
      var size = document.createElement("span");
      size.className = "preview-size";
      size.textContent = formatBytes(file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "preview-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.addEventListener("click", function () {
        setFiles(files.filter(function (_, i) { return i !== index; }));
        fileInput().focus();
      });
      item.append(image, name, size, remove);
      list.append(item);
    });
    if (submit) {
      submit.textContent = files.length > 1 ? "Process " + files.length + " images"
        : files.length === 1 ? "Process 1 image" : "Process images";
    }
  }

  function setupDropzone() {
    var zone = document.getElementById("dropzone");
    if (!zone) return;
    var depth = 0;
    zone.addEventListener("dragenter", function (event) {
      event.preventDefault();
      depth += 1;
      zone.classList.add("is-dragover");
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (depth === 0) zone.classList.remove("is-dragover");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("is-dragover");
      droppedFiles(event.dataTransfer || {}).then(addFiles);
    });
  }

  function addFiles(files) {
    if (!files.length) return;
    var current = Array.prototype.slice.call(fileInput().files || []);
    setFiles(current.concat(files));
  }

  // A dropped folder (and the folders in it) gives its images; files give themselves.
  function droppedFiles(transfer) {
    var items = Array.prototype.slice.call(transfer.items || []);
    var entries = items.map(function (item) {
      return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    });
    if (!entries.some(function (entry) { return entry && entry.isDirectory; })) {
      return Promise.resolve(Array.prototype.slice.call(transfer.files || []));
    }
    return Promise.all(entries.filter(Boolean).map(entryFiles)).then(function (lists) {
      return [].concat.apply([], lists);
    });
  }

  function entryFiles(entry) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) {
          resolve(/^image\//.test(file.type) || /\.(jpe?g|png|webp|avif|gif|tiff?|bmp|hei[cf])$/i.test(file.name) ? [file] : []);
        }, function () { resolve([]); });
      });
    }
    var reader = entry.createReader();
    var found = [];
    // readEntries answers a batch at a time, and an empty batch at the end.
    return new Promise(function (resolve) {
      function next() {
        reader.readEntries(function (batch) {
          if (!batch.length) {
            Promise.all(found.map(entryFiles)).then(function (lists) { resolve([].concat.apply([], lists)); });
            return;
          }
          found = found.concat(batch);
          next();
        }, function () { resolve([]); });
      }
      next();
    });
  }

  // An image pasted anywhere on the page (outside a text field) joins the chosen files.
  document.addEventListener("paste", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.type !== "file" || target instanceof HTMLTextAreaElement) return;
    var files = Array.prototype.slice.call((event.clipboardData || {}).files || [])
      .filter(function (file) { return /^image\//.test(file.type); });
    if (!files.length || !fileInput()) return;
    event.preventDefault();
    addFiles(files.map(function (file, index) {
      // Pasted screenshots are all called "image.png": number them.
      var name = file.name && file.name !== "image.png" ? file.name : "pasted-" + (index + 1) + ".png";
      return new File([file], name, { type: file.type });
    }));
  });

  function onInput(event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.id === "file") {
      renderPreviews();
      return;
    }
    if (target.dataset.output) {
      var output = document.getElementById(target.dataset.output);
      if (output) output.textContent = target.value;
    }
    // A slider with a word (noise level: Auto): moving it sets a value, the word goes off.
    var box = target.dataset.keywordBox && document.getElementById(target.dataset.keywordBox);
    if (box) box.checked = false;
    var slider = target.dataset.keywordFor && document.getElementById(target.dataset.keywordFor);
    if (slider) {
      var shown = document.getElementById(slider.dataset.output);
      if (shown) shown.textContent = target.checked ? target.value : slider.value;
    }
    var format = target.closest(".format");
    if (format && target.name === "format") format.classList.toggle("is-on", target.checked);
  }

  document.addEventListener("input", onInput);
  document.addEventListener("change", onInput);

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-dismiss]");
    if (button) {
      var card = button.closest(".card");
      if (card) card.remove();
    }
  });

  // The server says when the chosen files were handled (accepted or refused): clear them.
  document.addEventListener("pixtools:files-sent", function () {
    setFiles([]);
    hideUploadProgress();
  });

  function hideUploadProgress() {
    var bar = document.getElementById("upload-progress");
    if (!bar) return;
    bar.hidden = true;
    bar.value = 0;
  }

  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = document.getElementById("upload-progress");
    var detail = event.detail || {};
    if (!bar || !detail.lengthComputable || detail.loaded >= detail.total) return;
    bar.hidden = false;
    bar.value = Math.round((detail.loaded / detail.total) * 100);
  });

  document.addEventListener("htmx:afterRequest", hideUploadProgress);

  // The server failed or could not be reached: say so by the button, keep the files.
  function reportFailure(event, text) {
    var status = document.getElementById("form-status");
    if (!status || !event.target || event.target.id !== "upload-form") return;
    status.textContent = text;
    status.hidden = false;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var code = event.detail && event.detail.xhr ? event.detail.xhr.status : "";
    reportFailure(event, "The server could not handle this upload (error " + code +
      "). Your files are still chosen: try again in a moment.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    reportFailure(event, "PixTools could not be reached. Check that it is running, then try again.");
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var status = document.getElementById("form-status");
    if (status && event.target && event.target.id === "upload-form") status.hidden = true;
  });

  // New cards go to the top of the list, which on a phone is far below the form: bring
  // the first one into view (a card already in view is left where it is).
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "jobs") return;
    var card = target.querySelector(".batch, .card");
    if (!card) return;
    var box = card.getBoundingClientRect();
    if (box.top >= 0 && box.top < window.innerHeight - 80) return;
    var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    card.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
  });

  // After the server sends the form back with errors, move focus to the first one.
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.detail && event.detail.target;
    // An outerHTML swap replaced the target: look the new form part up by its id.
    var target = swapped && swapped.id === "recipe" ? document.getElementById("recipe") : null;
    if (!target) return;
    var invalid = target.querySelector('[aria-invalid="true"]');
    if (invalid) {
      var details = invalid.closest("details");
      if (details) details.open = true;
      invalid.focus();
    } else {
      var message = target.querySelector(".field-error");
      if (message) {
        message.setAttribute("tabindex", "-1");
        message.focus();
      }
    }
  });

  // Placeholders: the dominant colour at once, the ThumbHash (an <img> under the result)
  // until the result has loaded. Colours are set through the style object, which the
  // page's Content-Security-Policy allows (inline style attributes it does not).
  function markLoaded(frame) {
    frame.classList.add("is-loaded");
    frame.style.backgroundColor = "";
  }

  function settlePlaceholders() {
    document.querySelectorAll("[data-placeholder]:not(.is-loaded)").forEach(function (frame) {
      var result = frame.querySelector("img[data-result]");
      if (result && result.complete && result.naturalWidth > 0) {
        markLoaded(frame);
      } else if (frame.dataset.colour) {
        frame.style.backgroundColor = frame.dataset.colour;
      }
    });
  }

  document.addEventListener("load", function (event) {
    var image = event.target;
    if (!(image instanceof HTMLImageElement) || !image.hasAttribute("data-result")) return;
    var frame = image.closest("[data-placeholder]");
    if (frame) markLoaded(frame);
  }, true);

  // "Best format" offers the formats this browser shows: each is probed by decoding a
  // one-pixel image (JPEG every browser shows). Until then the server's guess from the
  // page request's Accept header stands.
  var PROBES = {
    avif: "data:image/avif;base64,AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAAAAAAAAAAAAAAAAAAAAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAAAKAAAAChpaW5mAAAAAAABAAAAGmluZmUCAAAAAAEAAGF2MDFDb2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAAAAQAAAAEAAAAQcGl4aQAAAAADCAgIAAAADGF2MUOBAAwAAAAAE2NvbHJuY2x4AAEADQAGgAAAABdpcG1hAAAAAAAAAAEAAQQBAoMEAAAAMG1kYXQSAAoIGAAGiAhoNCAyGhlHh4Yhh5555oAAAJBAyRxhSytNj1FFTqSg",
    webp: "data:image/webp;base64,UklGRjgAAABXRUJQVlA4ICwAAACQAQCdASoBAAEAAsBMJaACdLoAA5gA/u5DH+5sc4twV/9tD/9aH/60P+lAAA=="
  };
  var shownFormats = null;

  function applyFormats() {
    var field = document.querySelector("input[data-candidates]");
    if (!field || !shownFormats) return;
    field.value = shownFormats.join(", ");
    var text = document.querySelector("[data-candidates-text]");
    if (text) text.textContent = shownFormats.map(function (f) { return f.toUpperCase(); }).join(", ");
  }

  function probeFormats() {
    var names = Object.keys(PROBES);
    var shown = {};
    var pending = names.length;
    names.forEach(function (name) {
      var image = new Image();
      function settle(ok) {
        shown[name] = ok;
        pending -= 1;
        if (pending) return;
        shownFormats = names.filter(function (n) { return shown[n]; }).concat(["jpeg"]);
        applyFormats();
      }
      image.onload = function () { settle(image.width > 0); };
      image.onerror = function () { settle(false); };
      image.src = PROBES[name];
    });
  }

  document.addEventListener("htmx:afterSettle", function () {
    settlePlaceholders();
    applyFormats();  // the recipe part may have been sent back with errors
  });

  function start() {
    setupDropzone();
    settlePlaceholders();
    probeFormats();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
