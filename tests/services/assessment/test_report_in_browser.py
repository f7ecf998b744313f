"""The HTML report in a real browser (Debian's headless Chromium through Playwright)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from services.assessment.deployment import in_process_deployment
from services.assessment.registry import registered_probes
from services.assessment.report import render_html
from services.assessment.runner import run_assessment

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


# the page, not the probes, is under test here (test_assessment_api runs every probe): the fast
# platform probes give verified, failed and not-implemented clauses to render
REPORT_PROBES = [p for p in registered_probes() if p.name.split(".")[0] in ("iam", "quotas", "audit", "kms")]


@pytest.fixture(scope="module")
def chromium() -> str:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (make browser installs it)"
    return CHROMIUM


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    async def assess() -> str:
        async with in_process_deployment(tmp_path_factory.mktemp("deployment")) as (client, key):
            return render_html(await run_assessment(client=client, admin_key=key, probes=REPORT_PROBES))

    return asyncio.run(assess())


async def test_report_shows_level_and_chapter_bars(report_html: str, chromium: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.set_content(report_html)
            badges = page.locator(".badges .badge")
            assert await badges.count() == 2
            for index in range(2):
                assert await badges.nth(index).is_visible()
            badge_text = " ".join(await badges.all_inner_texts())
            assert "0" in badge_text or "1" in badge_text
            bars = page.locator(".chapter-bar")
            assert await bars.count() >= 10
            first_bar_box = await bars.first.bounding_box()
            assert first_bar_box is not None and first_bar_box["width"] > 100
            verified = page.locator("#clause-table .status.verified")
            assert await verified.count() >= 1
            assert await page.locator("#blocking").is_visible()
            screenshot = await page.screenshot(full_page=False)
            assert len(screenshot) > 10_000
        finally:
            await browser.close()


def test_report_is_self_contained(report_html: str) -> None:
    for external in ("http://", "https://", "<script src", '<link rel="stylesheet"'):
        assert external not in report_html.replace("http://stic.in-process", ""), external
