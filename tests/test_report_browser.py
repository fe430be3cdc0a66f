"""report.html opened in headless Chromium: it loads cleanly, shows its verdict and every plot.

Three checks, each able to fail: the page's own inline script must set ``data-report-check="ok"``
on ``<html>`` (it does only when the verdict is present and every image decoded and has a size
on the page); the page must write nothing to the console (no exception, no log); and the DOM
must hold the verdict text and one non-empty ``data:`` PNG per plot. A deliberately broken copy
of the page is run through the same checks to prove they catch what they claim to. A screenshot
is kept in the test's temporary folder.

Chromium is looked for once, on PATH and then where Debian's ``chromium`` package (the one
``.ci/run`` installs) puts it. Without it the tests skip on a laptop but fail in CI
(``CI=true``): a CI run that never opened the report must not pass as one that did.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from support import FIXTURE_TIMELINES, IN_CI, WrittenReport

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
"""Where Debian's chromium package installs the browser, should PATH not include it."""
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")



def find_chromium() -> Path | None:
    """The browser to run: ``chromium`` on PATH, else Debian's location, else None."""
    on_path = shutil.which("chromium")
    if on_path:
        return Path(on_path)
    return DEBIAN_CHROMIUM if DEBIAN_CHROMIUM.is_file() else None


CHROMIUM = find_chromium()


@pytest.fixture(autouse=True)
def browser_present() -> None:
    """Skip without a browser, except in CI, where its absence fails the run."""
    if CHROMIUM is None:
        message = (f"chromium is neither on PATH nor at {DEBIAN_CHROMIUM}: install Debian's "
                   "chromium package (apt-get install -y chromium) to run the browser test")
        if IN_CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)


def chromium(page: Path, work: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``page`` with its own profile folder under ``work``."""
    assert CHROMIUM is not None
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


def page_problems(page: Path, work: Path) -> tuple[list[str], str]:
    """What is wrong with the loaded page (empty when nothing is), and its DOM."""
    shown = chromium(page, work, "--enable-logging=stderr", "--v=0", "--dump-dom")
    problems = []
    marker = re.search(r'<html[^>]*data-report-check="([^"]*)"', shown.stdout)
    if not marker:
        problems.append("the page's check script never ran")
    elif marker.group(1) != "ok":
        problems.append(f"the page's check script says: {marker.group(1)}")
    console = [line for line in shown.stderr.splitlines() if ":CONSOLE" in line]
    problems += [f"console: {line}" for line in console]
    return problems, shown.stdout


@pytest.fixture
def written(plots_report: WrittenReport) -> Path:
    assert plots_report.status == 0
    return plots_report.folder


def test_report_loads_without_errors_and_shows_verdict_and_plots(written: Path,
                                                                 tmp_path: Path) -> None:
    problems, dom = page_problems(written / "report.html", tmp_path)
    assert problems == []
    assert "kv LOST 2 acknowledged writes" in dom and "Harness gates: held (3 of 3)" in dom
    assert re.search(r'<section id="verdict" class="verdict">', dom)
    plots = json.loads((written / "summary.json").read_text())["plots"]
    sources = re.findall(r'<img [^>]*src="([^"]*)"', dom)
    assert len(sources) == len(plots) == 5 + len(FIXTURE_TIMELINES)
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert len(source) > len("data:image/png;base64,") + 1000


def test_screenshot_of_the_report(written: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(written / "report.html", tmp_path, f"--screenshot={shot}", "--window-size=1280,4000")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 4000)
    assert shot.stat().st_size > 50_000, "a blank page compresses to almost nothing"


def test_the_checks_catch_a_broken_image_and_a_script_error(written: Path,
                                                           tmp_path: Path) -> None:
    page = (written / "report.html").read_text()
    broken = re.sub(r'src="data:image/png;base64,[^"]*"', 'src="data:image/png;base64,AAAA"',
                    page, count=1)
    broken = broken.replace("</body>", "<script>noSuchFunction();</script></body>")
    copy = tmp_path / "broken.html"
    copy.write_text(broken)
    problems, _ = page_problems(copy, tmp_path)
    # The first image on the page is the first screen's erased answer.
    assert any("broken kv: an acknowledged answer erased by a stale ICE candidate update"
               in problem for problem in problems)
    assert any("Uncaught ReferenceError" in problem for problem in problems)
