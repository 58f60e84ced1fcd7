"""The report on every device, measured in a real headless Chromium (tests/devtools.py).

On the recorded incident (sample_captures/, with CLIENT LIST and connection counts, so
every section and chart is there): at phone width (390 CSS px) chart text and body text
are readable and the page does not scroll sideways; at 1280 px too; addresses never break
inside ``ip:port``; printed (A4), wide tables stay within the page and no section heading
is left alone at the foot of a page. Set MONITORLENS_SHOTS=<dir> to keep the screenshots
and the PDF for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import monitorlens
from devtools import Browser, chromium_binary

ROOT = Path(__file__).resolve().parents[1]
INCIDENT = ROOT / "sample_captures" / "incident"
BINARY = chromium_binary()
pytestmark = pytest.mark.skipif(BINARY is None or shutil.which("pdftotext") is None,
                                reason="needs chromium and pdftotext (apt-get install -y chromium poppler-utils)")

PHONE, DESKTOP = 390, 1280
A4_CONTENT_PX = round((210 - 2 * 12) / 25.4 * 96)  # the report's @page margins: 12 mm left and right
MIN_CHART_PX = {PHONE: 9.0, DESKTOP: 11.0}
MIN_TEXT_PX = 11.0

CHART_TEXT_PX = """(() => {
  let least = Infinity;
  for (const svg of document.querySelectorAll('figure.chart svg')) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      least = Math.min(least, parseFloat(t.getAttribute('font-size') || getComputedStyle(t).fontSize) * scale);
    }
  }
  return least;
})()"""
TEXT_PX = """(() => {
  let least = Infinity;
  for (const el of document.querySelectorAll('p, li, td, th, dd, dt, figcaption, caption')) {
    if (el.getBoundingClientRect().width) least = Math.min(least, parseFloat(getComputedStyle(el).fontSize));
  }
  return least;
})()"""
# Every ip:port in the page's text, and whether it is drawn on more than one line.
BROKEN_ADDRESSES = r"""(() => {
  const broken = [], re = /\d{1,3}(?:\.\d{1,3}){3}:\d+/g;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let seen = 0;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('svg, pre')) continue;
    for (const m of node.data.matchAll(re)) {
      const range = document.createRange();
      range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width).map(r => Math.round(r.top)));
      seen += 1;
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  return {seen, broken};
})()"""
OVERFLOWING_TABLES = """(() => [...document.querySelectorAll('table')]
  .filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map(t => (t.caption ? t.caption.textContent : t.className) + ' ' + Math.round(t.getBoundingClientRect().width)))()"""


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("devices") / "incident.html"
    report = monitorlens.make_report(INCIDENT / "monitor.txt.gz", clients=INCIDENT / "clients.log.gz",
                                     connections=INCIDENT / "connections.csv")
    out.write_text(report.to_html())
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(BINARY, tmp_path_factory.mktemp("profile")) as b:
        yield b


def keep(path: Path) -> None:
    folder = os.environ.get("MONITORLENS_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_readable_at_width(browser: Browser, page: Path, width: int, tmp_path: Path) -> None:
    tab = browser.open(page, width)
    assert browser.evaluate(tab, "innerWidth") == width
    keep(browser.screenshot(tab, tmp_path / f"report-{width}.png"))
    assert browser.evaluate(tab, "document.querySelectorAll('figure.chart svg text').length") > 100
    assert browser.evaluate(tab, CHART_TEXT_PX) >= MIN_CHART_PX[width]
    assert browser.evaluate(tab, TEXT_PX) >= MIN_TEXT_PX
    # The page itself never scrolls sideways: wide tables and charts scroll in their own box.
    assert browser.evaluate(tab, "document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_addresses_never_break_inside(browser: Browser, page: Path, width: int) -> None:
    found = browser.evaluate(browser.open(page, width), BROKEN_ADDRESSES)
    assert found["seen"] > 50 and found["broken"] == []


def test_printed_tables_stay_on_the_page(browser: Browser, page: Path) -> None:
    tab = browser.open(page, A4_CONTENT_PX, media="print")
    assert browser.evaluate(tab, OVERFLOWING_TABLES) == []


def heading_lines(bbox_xhtml: str, headings: set[str]) -> list[tuple[int, str, int, bool]]:
    """``(page, heading, lines below it on that page, last page?)`` for each section heading
    of a PDF, from ``pdftotext -bbox-layout``: lines with a heading's words, and the tallest
    of them (a figure caption may repeat its section's title in smaller type)."""
    doc = ET.fromstring(re.sub(r'\sxmlns="[^"]+"', "", bbox_xhtml, count=1))
    pages = doc.findall(".//page")
    found = []
    for n, pdf_page in enumerate(pages, 1):
        lines = sorted((float(line.get("yMin")), float(line.get("yMax")), " ".join(w.text or "" for w in line.iter("word")))
                       for line in pdf_page.iter("line"))
        for i, (top, bottom, text) in enumerate(lines):
            if text in headings:
                below = sum(1 for other in lines[i + 1:] if other[0] > bottom)
                found.append((bottom - top, n, text, below, n == len(pages)))
    tallest = max((h for h, *_ in found), default=0.0)
    return [(n, text, below, last) for h, n, text, below, last in found if h >= 0.85 * tallest]


def test_printed_headings_are_never_alone_at_a_page_foot(browser: Browser, page: Path, tmp_path: Path) -> None:
    tab = browser.open(page, DESKTOP, media="print")
    headings = set(browser.evaluate(tab, "[...document.querySelectorAll('h2')].map(h => h.textContent.trim())"))
    pdf = browser.pdf(tab, tmp_path / "report.pdf")
    keep(pdf)
    bbox = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    found = heading_lines(bbox, headings)
    assert {text for _, text, _, _ in found} == headings  # every section heading found in the PDF
    # A heading with its intro alone at the foot of a page has one or two lines under it.
    alone = [(n, text, below) for n, text, below, last in found if below < 4 and not last]
    assert alone == []
