"""Headless system Chromium driven through Playwright, for the report's real-browser test.

Playwright's own browser downloads are never used (there may be no network): the browser is
the system Chromium, found on PATH or named by ``EVALGATE_CHROMIUM``. Nothing here imports
Playwright at module level, so that the test can skip when it is not installed.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Route

NAMES = ("chromium", "chromium-browser", "google-chrome")

ARGS = ["--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-default-apps", "--mute-audio", "--disable-dev-shm-usage",
        # the network is off: every host resolves to nothing, no proxy is reachable
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]


def chromium() -> str | None:
    """The Chromium binary: ``EVALGATE_CHROMIUM`` if it names one, else the first of
    chromium, chromium-browser, google-chrome on PATH."""
    override = os.environ.get("EVALGATE_CHROMIUM")
    if override:
        found = shutil.which(override)
        if found:
            return found
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def playwright_missing() -> str | None:
    """Why Playwright cannot be used here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"needs playwright (pip install 'playwright>=1.40'; no browser download): {exc}"
    return None


def skip_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    missing = playwright_missing()
    if missing:
        return missing
    if chromium() is None:
        return (f"needs a Chromium binary: none of {', '.join(NAMES)} is on PATH and "
                "EVALGATE_CHROMIUM names none (apt-get install chromium)")
    return None


def launch(playwright: Any, binary: str) -> Browser:
    """The system Chromium, headless, network off."""
    browser: Browser = playwright.chromium.launch(executable_path=binary, headless=True,
                                                  args=ARGS)
    return browser


@dataclass
class Visit:
    """One report loaded in its own browser context, and everything the page did."""

    url: str
    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)  # every request the page made
    blocked: list[str] = field(default_factory=list)   # those refused: not the report itself
    failed: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)   # console messages of any level
    errors: list[str] = field(default_factory=list)    # uncaught exceptions

    def close(self) -> None:
        self.context.close()


def open_report(browser: Browser, report: Path, width: int, height: int = 1000) -> Visit:
    """Load ``report`` at a viewport of ``width`` × ``height`` CSS pixels: every request
    whose URL is not the report's own file:// URL is recorded and aborted."""
    url = report.resolve().as_uri()
    context = browser.new_context(viewport={"width": width, "height": height},
                                  service_workers="block")
    page = context.new_page()
    visit = Visit(url=url, context=context, page=page)

    def route(r: Route) -> None:
        if r.request.url == url:
            r.continue_()
        else:
            visit.blocked.append(r.request.url)
            r.abort()

    def on_request(request: Request) -> None:
        visit.requests.append(request.url)

    def on_failed(request: Request) -> None:
        visit.failed.append(f"{request.url}: {request.failure}")

    def on_console(message: ConsoleMessage) -> None:
        visit.console.append(f"{message.type}: {message.text} ({message.location})")

    def on_error(error: Exception) -> None:
        visit.errors.append(str(error))

    context.route("**/*", route)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.goto(url, wait_until="load")
    return visit


#: every element (and the root) whose box reaches past the viewport's right edge
OVERFLOW_JS = """() => {
  const view = window.innerWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    [...el.classList].map((c) => '.' + c).join('');
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.documentElement && parts.length < 4;
         e = e.parentElement) parts.unshift(name(e));
    return parts.join(' > ');
  };
  // inside a box that scrolls (or clips) sideways, an element may be wider than the page:
  // the reader scrolls that box, not the page; the box itself is checked like any other
  const scrolled = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      if (getComputedStyle(e).overflowX !== 'visible') return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.querySelectorAll('body, body *')) {
    if (scrolled(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > view + 0.5) {
      const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
      wide.push(`${path(el)}: right ${box.right.toFixed(1)} px, width ` +
                `${box.width.toFixed(1)} px ${JSON.stringify(text)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: view, wide};
}"""


#: each place where a line of a matched element's text starts inside a word: a break not
#: after a space, ``::``, ``/``, ``_``, ``,`` or ``.`` (the places the report marks with <wbr>)
MIDWORD_JS = """(selector) => {
  const bad = [];
  for (const el of document.querySelectorAll(selector)) {
    const text = el.textContent;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let offset = 0, top = null;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getClientRects()[0];
        if (!box) continue;
        if (top !== null && box.top > top + 2) {
          const before = text.slice(0, offset + i);
          if (!/(::|\\/|_|,|\\.|\\s)$/.test(before)) {
            bad.push(`${text} (line starts at ${offset + i})`);
          }
        }
        top = box.top;
      }
      offset += node.length;
    }
  }
  return bad;
}"""


def midword_breaks(page: Page, selector: str) -> list[str]:
    """The texts of ``selector``'s elements that wrap inside a word, each with where."""
    found: list[str] = page.evaluate(MIDWORD_JS, selector)
    return found


def overflow(page: Page) -> dict[str, Any]:
    """``scrollWidth`` of the document, ``innerWidth`` of the window, and ``wide``: each
    element whose bounding box's right edge is past the viewport, described."""
    found: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    return found


@dataclass(frozen=True)
class Pixels:
    """What a screenshot shows: its size, how many pixels carry ink (some channel below 200,
    i.e. not white or near-white), and how many distinct RGB colours it holds."""

    width: int
    height: int
    inked: int
    colors: int
    decoder: str


def pillow_pixels(png: bytes) -> Pixels:
    """Decode with Pillow (ImportError when it is not installed)."""
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    darkest = ImageChops.darker(ImageChops.darker(red, green), blue)
    inked = sum(darkest.histogram()[:200])
    colors = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
    return Pixels(rgb.width, rgb.height, inked, len(colors), "pillow")


#: decodes a PNG (base64) in the browser and counts what its pixels hold
DECODE_JS = """async (b64) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + b64;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const colors = new Set();
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    if (r < 200 || g < 200 || b < 200) inked++;
    colors.add((r << 16) | (g << 8) | b);
  }
  return {width: canvas.width, height: canvas.height, inked, colors: colors.size};
}"""


def browser_pixels(png: bytes, browser: Browser) -> Pixels:
    """Decode in Chromium itself (no extra package): the PNG as a data: image drawn on a
    canvas in a blank page of its own, its pixels read back with getImageData."""
    page = browser.new_page()
    try:
        found = page.evaluate(DECODE_JS, base64.b64encode(png).decode("ascii"))
    finally:
        page.close()
    return Pixels(found["width"], found["height"], found["inked"], found["colors"], "chromium")


def screenshot_pixels(png: bytes, browser: Browser) -> Pixels:
    """The screenshot's pixels: decoded by Pillow where it is installed, else by Chromium."""
    try:
        return pillow_pixels(png)
    except ImportError:
        return browser_pixels(png, browser)
