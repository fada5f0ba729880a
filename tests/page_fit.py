"""What "fits a phone" means for a page, measured in Chromium (shared by the grader's pages and the service's)."""

from __future__ import annotations

from typing import Any

#: Phone widths (CSS px) every page must fit, with a phone's own layout rules (viewport meta, touch).
PHONES = (320, 360, 390)

#: The layout viewport's width, how far the document scrolls sideways, every element that reaches past the screen's
#: right edge without a box of its own that scrolls it (a wide table may scroll inside itself), and every control
#: smaller than 24 x 24 px (WCAG 2.2's minimum target size).
FIT_JS = """() => {
  const width = window.innerWidth;
  const scrolls = (e) => { for (let a = e.parentElement; a; a = a.parentElement) {
    const x = getComputedStyle(a).overflowX; if ((x === 'auto' || x === 'scroll') && a !== document.documentElement
      && a !== document.body) return true; } return false; };
  const off = [...document.body.querySelectorAll('*')].filter(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 1 && !scrolls(e); })
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' +
                     Math.round(e.getBoundingClientRect().right));
  const small = [...document.querySelectorAll('nav a, button, input, select, summary')].filter(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && (r.width < 24 || r.height < 24); })
    .map(e => `${e.tagName.toLowerCase()}#${e.id} ${Math.round(e.getBoundingClientRect().width)}x` +
              `${Math.round(e.getBoundingClientRect().height)}`);
  return {width: width, scroll: document.documentElement.scrollWidth - width, off: off, small: small};
}"""


def fit_problems(browser: Any, url: str, headers: dict[str, str] | None = None) -> list[str]:
    """What does not fit on each phone width at `url` (empty when all fits)."""
    problems = []
    for width in PHONES:
        context = browser.new_context(viewport={"width": width, "height": 800}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2, extra_http_headers=headers or {})
        page = context.new_page()
        page.goto(url, wait_until="load")
        seen = page.evaluate(FIT_JS)
        context.close()
        if seen["width"] != width:  # a page without <meta name=viewport> is laid out 980 px wide, then shrunk
            problems.append(f"{width} px: laid out {seen['width']} px wide (no viewport meta?)")
        elif seen["scroll"] > 0 or seen["off"]:
            problems.append(f"{width} px: scrolls sideways by {seen['scroll']} px; past the edge: {seen['off']}")
        if seen["small"]:
            problems.append(f"{width} px: controls smaller than 24 x 24 px to tap: {seen['small']}")
    return problems
