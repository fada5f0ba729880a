// Pages that fit the reader's screen (issue 20 §3): tables that become cards on a phone, figures that open full
// size on a click, and a language switch that keeps the reader's section. Loaded on every page, both editions.
"use strict";

// Each cell of a multi-column table carries its column's header, so on a phone (fit.css) every row reads as a
// card: "verdict: wrong", "evidence: ...", nothing hidden off the right edge.
function labelTableCells() {
  for (const table of document.querySelectorAll(".bd-article table")) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.innerText.trim());
    if (heads.length < 4) continue;  // two or three narrow columns fit a phone as they are
    table.classList.add("table-cards");
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => { if (heads[i]) cell.dataset.label = heads[i]; });
    }
  }
}

// A click on a figure shows it at full size over the page (vector figures stay sharp); a click or Escape closes it.
function enableFigureZoom() {
  const close = () => document.querySelector(".figure-zoom")?.remove();
  document.addEventListener("click", (event) => {
    const img = event.target.closest("figure img, div.cell_output img");
    if (!img || img.closest(".figure-zoom")) { if (event.target.closest(".figure-zoom")) close(); return; }
    const overlay = document.createElement("div");
    overlay.className = "figure-zoom";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-label", img.alt || "figure");
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt;
    overlay.appendChild(big);
    document.body.appendChild(overlay);
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
}

// The twin page in the other edition has the same section ids: switching language keeps the #anchor.
function keepAnchorOnLanguageSwitch() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.language-switch-link");
    if (link && window.location.hash) link.href = link.href.split("#")[0] + window.location.hash;
  }, true);
}

// An inline formula cannot break across lines: one wider than its line gets its own scrolling box (fit.css).
// The formulas were typeset when the book was built (book/_ext/static_math.py): their sizes are final at "load".
function boxWideInlineMath() {
  window.addEventListener("load", () => {
    for (const math of document.querySelectorAll('mjx-container:not([display="true"])')) {
      if (math.getBoundingClientRect().width > math.parentElement.getBoundingClientRect().width) {
        math.classList.add("math-wide");
      }
    }
  });
}

// sphinx-book-theme puts an "On this page" button in the article header, but pydata-sphinx-theme listens on the
// page's first .secondary-toggle only (in the hidden navbar), so the visible one did nothing: forward its clicks.
function forwardContentsButton() {
  const first = document.querySelector(".secondary-toggle");
  for (const button of document.querySelectorAll(".bd-header-article .secondary-toggle")) {
    if (first && button !== first) {
      button.addEventListener("click", (event) => { event.preventDefault(); first.click(); });
    }
  }
}

labelTableCells();
forwardContentsButton();
boxWideInlineMath();
enableFigureZoom();
keepAnchorOnLanguageSwitch();
