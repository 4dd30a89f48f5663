// Kanban board: drag a card to another column to move the deal. The move posts to the same
// endpoint as each card's "Move to" form (which works without this script), then the board is
// re-read from the server so counts and totals are the server's own.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("#lost-form input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function announce(text) {
    var status = document.getElementById("board-status");
    if (status) status.textContent = text;
  }

  function askLostReason() {
    var dialog = document.getElementById("lost-dialog");
    return new Promise(function (resolve) {
      if (!dialog || typeof dialog.showModal !== "function") {
        resolve(null);
        return;
      }
      var form = document.getElementById("lost-form");
      form.reset();
      dialog.addEventListener(
        "close",
        function () {
          var reason = form.elements.lost_reason.value;
          resolve(dialog.returnValue === "ok" && reason ? { reason: reason, note: form.elements.lost_note.value } : null);
        },
        { once: true }
      );
      dialog.showModal();
    });
  }

  function refreshBoard() {
    return fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("board");
        var board = document.getElementById("board");
        if (fresh && board) board.replaceWith(fresh);
      });
  }

  function move(card, column, lost) {
    var body = new FormData();
    body.append("stage", column.dataset.stage);
    if (lost) {
      body.append("lost_reason", lost.reason);
      body.append("lost_note", lost.note);
    }
    return fetch(card.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var messages = [];
          Object.keys(data.errors || {}).forEach(function (key) { messages = messages.concat(data.errors[key]); });
          announce(messages.join(" "));
          return;
        }
        return refreshBoard().then(function () {
          var title = column.querySelector("h2");
          announce((title ? title.textContent.trim() : "") + " ✓");
        });
      });
    });
  }

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".board-card[data-move-url]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.id);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".board-column.drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
    dragged = null;
  });

  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".board-column");
    if (!column || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".board-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".board-column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    var card = dragged;
    if (card.closest(".board-column") === column) return;
    if (column.dataset.kind === "lost") {
      askLostReason().then(function (lost) {
        if (lost) move(card, column, lost);
      });
    } else {
      move(card, column, null);
    }
  });
})();
