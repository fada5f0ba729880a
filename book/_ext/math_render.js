// Typesets the book's TeX into MathJax's CommonHTML when the book is built, so readers' browsers load no MathJax.
// Started once per Sphinx build by math_render.py and spoken to in JSON lines on stdin/stdout:
//   {"tex": "...", "display": true, "page": "book/theory"}  ->  {"html": "<mjx-container ...>"} or {"error": "..."}
//   {"css": "../_static/math/fonts", "formulas": [[tex, display], ...]}  ->  {"css": "..."}
// The stylesheet of a page holds only what its formulas use (MathJax's adaptive CSS), minified, and sizes the
// formulas as the browser's MathJax did: matched to the x-height of the text around them.
// The TeX packages are those the browser's MathJax 3.2.2 had, so the formulas come out as they did; a TeX error
// is reported instead of being drawn in red (no noundefined).
"use strict";

const readline = require("readline");
const {mathjax} = require("mathjax-full/js/mathjax.js");
const {TeX} = require("mathjax-full/js/input/tex.js");
const {CHTML} = require("mathjax-full/js/output/chtml.js");
const {LiteAdaptor} = require("mathjax-full/js/adaptors/liteAdaptor.js");
const {RegisterHTMLHandler} = require("mathjax-full/js/handlers/html.js");
const {AssistiveMmlHandler} = require("mathjax-full/js/a11y/assistive-mml.js");
require("mathjax-full/js/input/tex/AllPackages.js");  // registers every package; the list below picks

// Its `input/tex` component, then the packages it would autoload at a first \cancel, \color, ... that only add
// macros. Not amscd, braket and bussproofs: loaded up front they would change every formula (braket reads `|`
// differently), and the book uses none of them.
const PACKAGES = ["base", "ams", "newcommand", "configmacros", "action", "bbox", "boldsymbol", "cancel", "color",
                  "enclose", "extpfeil", "html", "mhchem", "unicode", "verb"];

// Text MathJax has no glyphs for (the Chinese in \text{...}) is drawn in the reader's own font, so its size is
// known only in the browser. The browser's MathJax measured it; here a CJK character is taken to be as wide as the
// text around the formula is high (1 em of it), which in the formula's em (scaled by ex / x-height, see below) is
// about 1 / 1.2 for common UI fonts (Segoe UI 1.13, San Francisco and Roboto 1.2, DejaVu Sans 1.27). MathJax uses
// this width only to centre such text under or over something (a label under an \underbrace).
const CJK = /[\u1100-\u115F\u2E80-\u303E\u3040-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFFEF]/u;
const CJK_WIDTH = 1 / 1.2;
const OTHER_WIDTH = 0.5;
class TextSizeAdaptor extends LiteAdaptor {
  nodeSize(node) {
    const text = Array.from(this.textContent(node));
    const cjk = text.filter((c) => CJK.test(c)).length;
    return [cjk * CJK_WIDTH + (text.length - cjk) * OTHER_WIDTH, 0];
  }
}
const adaptor = new TextSizeAdaptor();
// the hidden MathML copy that screen readers read, as the browser's a11y/assistive-mml component added it
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
const tex = new TeX({packages: PACKAGES, tags: "ams", formatError: (jax, error) => { throw error; }});
const chtml = new CHTML({adaptiveCSS: true});  // a stylesheet holds only the glyphs its formulas use
const doc = mathjax.document("", {InputJax: tex, OutputJax: chtml});
let page = null;

// The browser's MathJax scaled each formula by the surrounding text's ex over the TeX font's x-height (its
// matchFontHeight); in CSS, 1ex in a font-size is the parent's x-height, so every reader's own font still decides.
// It drew text without glyphs (mjx-utext) at 1 / that scale, i.e. at the size of the text around the formula
// times the script sizes it sits in (--mjx-s, see unscaleText), with its padding (.75em and .2em) in the formula's
// em. --mjx-text (the size around the formula) and --mjx-em (the formula's) are registered lengths, so they
// inherit as pixels.
const MATCH_FONT_HEIGHT = [
  '@property --mjx-text{syntax:"<length>";inherits:true;initial-value:16px}',
  '@property --mjx-em{syntax:"<length>";inherits:true;initial-value:16px}',
  ".math{--mjx-text:1em}",
  `mjx-container[jax="CHTML"]{font-size:calc(1ex / ${chtml.font.params.x_height});--mjx-em:1em}`,
  "mjx-utext{font-size:calc(var(--mjx-s,1) * var(--mjx-text));",
  "padding:calc(.75 * var(--mjx-s,1) * var(--mjx-em)) 0 calc(.2 * var(--mjx-s,1) * var(--mjx-em)) 0}",
].join("");
// the relative font sizes of CHTML's size="s", "ss", ... attributes (script, scriptscript, \large, ...)
const SIZES = Object.fromEntries(Object.entries(CHTML.commonStyles)
  .filter(([selector]) => selector.match(/\[size="\w+"\]$/))
  .map(([selector, style]) => [selector.match(/"(\w+)"/)[1], parseFloat(style["font-size"]) / 100]));

// Each mjx-utext in a script (or \large...) of a typeset formula is told its relative size as --mjx-s.
function unscaleText(container) {
  for (const text of adaptor.tags(container, "mjx-utext")) {
    let size = 1;
    for (let node = adaptor.parent(text); node !== container; node = adaptor.parent(node)) {
      const percent = adaptor.getStyle(node, "font-size");
      size *= (SIZES[adaptor.getAttribute(node, "size")] || 1) * (percent ? parseFloat(percent) / 100 : 1);
    }
    if (Math.abs(size - 1) > 1e-3) adaptor.setStyle(text, "--mjx-s", String(+size.toFixed(3)));
  }
  return container;
}

function stylesheet(fonts, formulas) {
  chtml.clearCache();  // forget the glyphs of earlier pages
  chtml.font.options.fontURL = fonts;  // where the @font-face rules find the fonts
  for (const [texSource, display] of formulas) {
    doc.convert(texSource, {display});
  }
  const css = adaptor.textContent(chtml.styleSheet(doc));
  return css.replace(/\s*\n\s*/g, "") + MATCH_FONT_HEIGHT;
}

function answer(request) {
  if (request.css !== undefined) {
    tex.reset();
    return {css: stylesheet(request.css, request.formulas)};
  }
  if (request.page !== page) {  // equation numbers and \label start afresh on each page, as in a browser
    page = request.page;
    tex.reset();
  }
  try {
    return {html: adaptor.outerHTML(unscaleText(doc.convert(request.tex, {display: request.display})))};
  } catch (error) {
    tex.reset(tex.parseOptions.tags.counter);  // close the failed equation, keep the page's numbering
    return {error: String(error.message || error)};
  }
}

readline.createInterface({input: process.stdin}).on("line", (line) => {
  process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + "\n");
});
