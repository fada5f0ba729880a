// The search page (both editions): each page is listed once, at its best match, and a page whose own title holds
// every query word comes first, the shortest such title first ("clipping" -> "Gradient clipping"). Loaded with
// defer, so it runs after Sphinx's searchtools.js and before the search starts (on DOMContentLoaded).
"use strict";

(() => {
  if (typeof Search === "undefined" || typeof Scorer === "undefined") return;
  const query = (new URLSearchParams(window.location.search).get("q") || "").toLowerCase().trim();
  const words = query.split(/\s+/).filter(Boolean);

  // A page's own title (not a section's) that contains all the query words earns a boost above any other match.
  const pageTitle = (docname) => {
    const index = Search._index;
    const i = index ? index.docnames.indexOf(docname) : -1;
    return i < 0 ? "" : String(index.titles[i]).toLowerCase();
  };
  const baseScore = Scorer.score;
  Scorer.score = (result) => {
    const score = baseScore ? baseScore(result) : result[4];
    const title = pageTitle(result[0]);
    if (!words.length || !words.every((w) => title.includes(w))) return score;
    return score + 1000 + Math.round(100 * query.length / Math.max(title.length, 1));
  };

  // Results come lowest score first (the display pops from the end): keep the last, best entry of each page.
  const performSearch = Search._performSearch;
  Search._performSearch = (...args) => {
    const seen = new Set();
    return performSearch(...args).reverse().filter((result) => {
      if (seen.has(result[0])) return false;
      seen.add(result[0]);
      return true;
    }).reverse();
  };
})();
