"""Browser tests: Playwright drives Debian's Chromium against a live server."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make browser` (Debian's chromium package).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Save a numbered screenshot per step under artifacts/browser/<test>/.

    When the test fails, every page it photographed is saved once more, with its HTML.
    """
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    counter = iter(range(1, 100))
    pages: list[Any] = []

    def take(page: Any, name: str) -> None:
        if page not in pages:
            pages.append(page)
        # Viewport shots only: a full-page shot resizes the viewport and back, and
        # a click right after it can land on the old layout and be lost.
        page.screenshot(path=str(folder / f"{next(counter):02d}-{name}.png"))

    yield take
    if request.node.stash.get(_FAILED, False):
        for n, page in enumerate(pages, start=1):
            page.screenshot(path=str(folder / f"failure-{n}.png"), full_page=True)
            (folder / f"failure-{n}.html").write_text(page.content())
