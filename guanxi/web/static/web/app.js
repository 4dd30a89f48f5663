// Guanxi web UI: select-all checkboxes and the bulk bar. Works after htmx swaps (delegated events).
(function () {
  "use strict";

  function bulkForm(el) { return el.closest("form.bulk-form"); }

  function refresh(form) {
    if (!form) return;
    var boxes = form.querySelectorAll("input[name=ids]");
    var checked = form.querySelectorAll("input[name=ids]:checked").length;
    var all = form.querySelector("input.select-all");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    var count = form.querySelector(".selected-count");
    if (count) count.textContent = checked ? checked + " " + count.dataset.label : "";
    var action = form.querySelector("select[name=action]");
    if (action) {
      form.querySelectorAll("[data-for-actions]").forEach(function (el) {
        el.hidden = el.dataset.forActions.split(" ").indexOf(action.value) < 0;
      });
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement || target instanceof HTMLSelectElement)) return;
    // A changed filter select applies at once (htmx swaps just the results).
    var filters = target.closest("form.filters");
    if (filters && target instanceof HTMLSelectElement) {
      filters.requestSubmit();
      return;
    }
    var form = bulkForm(target);
    if (!form) return;
    if (target.classList.contains("select-all")) {
      form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = target.checked; });
    }
    refresh(form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Live progress of a background job (imports, exports): poll its JSON until it ends, then
  // reload so the server renders the outcome. A reload mid-job simply resumes polling.
  function pollJob(box) {
    if (box.dataset.polling || box.dataset.finished === "1") return;
    box.dataset.polling = "1";
    var bar = box.querySelector("progress");
    var status = box.querySelector(".job-status");
    var count = box.querySelector(".job-count");
    function tick() {
      if (!document.body.contains(box)) return;
      fetch(box.dataset.jobUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { window.setTimeout(tick, 3000); return; }
          if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
          if (status) status.textContent = data.status_label;
          if (count) count.textContent = data.processed + " / " + data.total;
          if (data.finished) { window.location.reload(); return; }
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 500);
  }

  function init() {
    document.querySelectorAll("form.bulk-form").forEach(refresh);
    document.querySelectorAll("[data-job-url]").forEach(pollJob);
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
