"""The published matrix page in a real browser (headless Chromium): each model's own routes in view at 1600 px."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Debian's chromium and sets this, so a missing browser fails the check there instead of skipping it.
REQUIRED = os.environ.get("PARITY_REQUIRE_BROWSER") == "1"
WIDTH = 1600
# Appended to a copy of the page: the browser lays it out, then writes what it measured into the DOM it dumps.
MEASURE = """<script>
window.addEventListener('load', function () {
  var tables = Array.from(document.querySelectorAll("table[id^='zoo-']")).map(function (table) {
    var rows = Array.from(table.rows).slice(1).map(function (row) {
      var filled = Array.from(row.cells).slice(1).filter(function (cell) { return cell.textContent.trim(); });
      return {model: row.cells[0].textContent, cells: filled.length,
              right: filled.length ? filled[filled.length - 1].getBoundingClientRect().right : 0};
    });
    return {id: table.id, right: table.getBoundingClientRect().right, rows: rows};
  });
  var out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = JSON.stringify({viewport: window.innerWidth, tables: tables});
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--window-size={WIDTH},1200"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="no chromium here (CI installs it)")
def test_every_models_routes_are_in_view_without_scrolling_sideways(tmp_path: Path) -> None:
    page = CHECKOUT / "reports" / "matrix.html"
    measured_page = tmp_path / "matrix.html"
    measured_page.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    dumped = chromium(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", measured_page.as_uri())
    found = re.search(r"<pre id=\"measured\">(.*?)</pre>", dumped.stdout, re.S)
    assert found, dumped.stderr[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert {table["id"] for table in measured["tables"]} >= {"zoo-torch", "zoo-keras"}
    for table in measured["tables"]:
        assert table["rows"], table["id"]
        for row in table["rows"]:
            # Every model has its own routes' cells, and the last of them is within the window.
            assert row["cells"] > 0 and row["right"] <= measured["viewport"], (table["id"], row)
    shot = tmp_path / "matrix.png"
    chromium(f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
