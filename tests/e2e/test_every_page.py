"""Every portal page in Chromium, as the user who sees it (tests/e2e/portal_pages.py):
nothing scrolls sideways at 390 × 844 (a phone) nor at 1366 × 900 (a laptop), in
English and in Spanish (longer words); axe-core finds no serious or critical
WCAG 2.1 AA violation, and every focusable element shows a focus ring. Screenshots: screenshots/pages/<language>-<width>-<page>.png.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.portal_pages import (
    JSON_PREFIX,
    NOT_PAGES,
    PAGES,
    all_pages,
    login,
    open_page,
    portal_url_names,
    portal_world,
)

WIDTHS = {390: 844, 1366: 900}
# WCAG 2.0 and 2.1, levels A and AA, plus axe's best practices (landmarks,
# headings); only serious and critical findings fail the test.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
FAILING_IMPACTS = {"serious", "critical"}
# After one Tab (the browser then shows focus as for the keyboard), each visible
# focusable element of the page in turn: the ones whose focus shows no ring.
FOCUS_UNSEEN = """() => {
  const unseen = [];
  const focusable = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, '
    + '[tabindex]:not([tabindex="-1"])');
  for (const e of focusable) {
    if (e.disabled || !e.getClientRects().length
        || getComputedStyle(e).visibility === "hidden") continue;
    e.focus();
    if (document.activeElement !== e) continue;
    const s = getComputedStyle(e);
    // an outline: Bootstrap's box-shadow rings fade in, so they are not read
    const ring = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
    if (!ring) unseen.push(e.tagName.toLowerCase() + " "
      + (e.innerText || e.name || e.id || "").trim().slice(0, 30));
  }
  return unseen;
}"""


def test_every_portal_url_is_in_the_catalogue():
    """A page added to the URL conf is swept too, or this names it."""
    missing = [
        f"{name} ({route})"
        for name, route in portal_url_names().items()
        if name not in PAGES
        and name not in NOT_PAGES
        and not route.startswith(JSON_PREFIX)
    ]
    assert not missing, (
        "Pages missing from tests/e2e/portal_pages.py (add them to PAGES with the "
        f"user who sees them and the data they need, or to NOT_PAGES): {missing}"
    )
    stale = [n for n in [*PAGES, *NOT_PAGES] if n not in portal_url_names()]
    assert not stale, f"No longer in the URL conf: {stale}"


def _sessions(browser, base, pw, language, **context_options):
    """One browser context per user, logged in, in ``language``."""
    contexts = {}
    for who, user in pw.users.items():
        context = browser.new_context(
            locale="es-ES" if language == "es" else "en-US", **context_options
        )
        context.add_cookies(
            [{"name": "django_language", "value": language, "url": base}]
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        if user is not None:
            login(page, base, user.email)
        contexts[who] = (context, page)
    return contexts


def _by_user(pages):
    # Anonymous last: the lockout page locks out one made-up address only.
    order = ["admin", "agent", "reader", "anonymous"]
    return sorted(pages, key=lambda p: order.index(p.who))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "es"])
def test_no_portal_page_scrolls_sideways(
    browser, live_server, client, settings, language
):
    pw = portal_world(client, settings)
    base = live_server.url
    out = SCREENSHOTS / "pages"
    out.mkdir(parents=True, exist_ok=True)
    sessions = _sessions(browser, base, pw, language)
    wide = []
    try:
        for entry in _by_user(all_pages()):
            page = sessions[entry.who][1]
            for width, height in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": height})
                open_page(page, base, pw, entry, language)
                assert page.locator("html").get_attribute("lang") == language
                scroll = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                if scroll[0] > scroll[1]:
                    # what sticks out, to say where to look
                    culprits = page.evaluate(
                        """w => [...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right > w + 1)
                        .slice(-3).map(e => e.tagName.toLowerCase()
                          + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
                          + ' ' + Math.round(e.getBoundingClientRect().right))""",
                        width,
                    )
                    wide.append((entry.label, width, scroll[0], culprits))
                page.screenshot(
                    path=str(out / f"{language}-{width}-{entry.label}.png"),
                    full_page=True,
                )
    finally:
        for context, _ in sessions.values():
            context.close()
    assert not wide, (
        "Sideways scroll (page, viewport, document width, what sticks out):\n"
        + "\n".join(map(str, wide))
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_no_portal_page_has_a_serious_accessibility_violation_or_unseen_focus(
    browser, live_server, client, settings
):
    pw = portal_world(client, settings)
    base = live_server.url
    axe = Axe()
    # axe is injected by Playwright; bypass_csp lets its script run under the
    # portal's strict policy (this context only: the pages are unchanged).
    sessions = _sessions(browser, base, pw, "en", bypass_csp=True)
    found = []
    try:
        for entry in _by_user(all_pages()):
            page = sessions[entry.who][1]
            for width, height in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": height})
                open_page(page, base, pw, entry, "en")
                results = axe.run(page, options=AXE_OPTIONS)
                for violation in results.response["violations"]:
                    if violation["impact"] in FAILING_IMPACTS:
                        found.append(
                            f"{entry.label} @{width}: {violation['id']} "
                            f"({violation['impact']}) "
                            + "; ".join(
                                " ".join(n["target"]) + " " + n["failureSummary"][:160]
                                for n in violation["nodes"][:4]
                            )
                        )
                # after axe: focusing starts the buttons' colour transitions
                page.keyboard.press("Tab")
                unseen = page.evaluate(FOCUS_UNSEEN)
                if unseen:
                    found.append(f"{entry.label} @{width}: no focus ring on {unseen}")
    finally:
        for context, _ in sessions.values():
            context.close()
    assert not found, "\n".join(found)
