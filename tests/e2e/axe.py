"""axe-core in a page under test: vendored (``vendor/README.md``), injected as an init script
(the DevTools protocol adds it before the page's own scripts, outside the page's Content-
Security-Policy, which refuses the inline script ``page.add_script_tag`` would add)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


async def with_axe(page: Page) -> Page:
    """Make ``page`` load axe-core into every document it opens from now on."""
    await page.add_init_script(path=AXE)
    return page


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, { resultTypes: ['violations'] })"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
