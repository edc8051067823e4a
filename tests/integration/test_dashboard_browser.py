"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against `ucp serve` with
real downstreams (mcp-server-time and the toy server). A person's view is asserted: a graph node per
downstream with the right health after one is killed, catalog search ranks the expected tool first,
the call chart counts the calls made. Screenshots are taken every run; with UCP_UPDATE_SCREENSHOTS=1
they replace docs/img/dashboard-{light,dark}.png (shown in the README)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from tests.helpers import PY, ROOT, SERVERS, background, free_port

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_IMG = ROOT / "docs" / "img"


@pytest.fixture
def ucp(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    home.mkdir()
    marker = tmp_path / "toy-started-once"
    # the toy server starts once; once killed it cannot start again (stays down)
    wrapper = (
        f'if [ -e "{marker}" ]; then exit 1; fi; touch "{marker}"; exec "{PY}" "{SERVERS / "toy_server.py"}"'
    )
    (home / "ucp.toml").write_text(
        "builtins = true\n"
        "[pool]\nbackoff_initial = 0.2\nbackoff_max = 0.5\n"
        "[servers.time]\n"
        f'command = "{PY}"\nargs = ["-m", "mcp_server_time"]\n'
        "[servers.toy]\n"
        f'command = "/bin/sh"\nargs = ["-c", \'{wrapper}\']\n'  # a TOML literal string
    )
    port = free_port()
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "PYTHONUNBUFFERED": "1"}
    with background(
        [PY, "-m", "ucp", "serve", "--transport", "http", "--port", str(port), "--no-dense"],
        port=port,
        env=env,
        timeout=60,
    ):
        yield f"http://127.0.0.1:{port}", home


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_dashboard_shows_graph_health_search_and_calls(ucp: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = ucp
    service_port = free_port()
    with (
        httpx2.Client(base_url=base, timeout=60) as http,
        background(
            [
                PY,
                str(SERVERS / "utcp_service.py"),
                "--port",
                str(service_port),
                "--ucp",
                base,
                "--name",
                "weather",
            ],
            port=service_port,
        ),
    ):
        made = make_calls(http)
        shots = tmp_path / "img"
        see_the_dashboard(base, made, shots)  # the service stays registered while it runs
    if os.environ.get("UCP_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copyfile(png, DOCS_IMG / png.name)


def make_calls(http: httpx2.Client) -> int:
    wait_for(lambda: http.get("/healthz").json()["servers"]["healthy"] == 4, 60)  # time, toy, cloud, weather
    session = http.post("/api/v1/sessions", json={"client_name": "browser-test"}).json()["id"]
    found = http.get(
        "/api/v1/tools/search", params={"query": "current time in a timezone", "session_id": session}
    )
    assert found.json()["results"][0]["name"] == "time__get_current_time"
    calls = [("time__get_current_time", {"timezone": "Europe/Paris"})] * 3 + [
        ("toy__echo", {"text": "hi"})
    ] * 2
    for name, args in calls:
        r = http.post("/api/v1/tools/call", json={"name": name, "arguments": args, "session_id": session})
        assert r.status_code == 200 and not r.json()["is_error"], r.text
    # a built-in cloud tool's recommendation, with its estimated saving, for the savings panel
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    hours = [(t0 + timedelta(hours=i)).isoformat() for i in range(24 * 14)]
    rightsize = {
        "current_instance_type": "m5.2xlarge",
        "cpu": [{"timestamp": t, "value": 8 + i % 5} for i, t in enumerate(hours)],
        "memory": [{"timestamp": t, "value": 10.0} for t in hours],
    }
    r = http.post("/api/v1/tools/call", json={"name": "cloud__rightsize_vm", "arguments": rightsize})
    assert r.status_code == 200 and not r.json()["is_error"], r.text
    assert r.json()["structured_content"]["saving_usd_month"] > 0
    http.post("/api/v1/tools/call", json={"name": "toy__crash", "arguments": {}, "session_id": session})
    wait_for(
        lambda: (
            {s["name"]: s["state"] for s in http.get("/api/v1/dashboard/overview").json()["servers"]}["toy"]
            == "failed"
        )
    )
    return len(calls) + 2


def see_the_dashboard(base: str, made: int, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1500}, color_scheme="light")
            page.goto(f"{base}/ui")
            # the service graph: one node per downstream, with the health a person reads on it
            expect(page.locator('#graph-legend li[data-node="time"][data-health="up"]')).to_be_visible(
                timeout=20000
            )
            expect(page.locator('#graph-legend li[data-node="toy"][data-health="down"]')).to_be_visible()
            labels = page.evaluate("ucp.cy.nodes().map(n => n.data('label')).sort()")
            assert labels == ["UCP", "cloud", "time", "toy", "weather"]
            expect(page.locator('#graph-legend li[data-node="weather"]')).to_contain_text("self-registered")
            expect(page.locator("#savings-total")).to_contain_text("/ month")
            expect(page.locator("#savings")).to_contain_text("rightsize_vm")
            colours = page.evaluate(
                "Object.fromEntries(ucp.cy.nodes().map(n => [n.data('label'), n.style('background-color')]))"
            )
            assert colours["time"] != colours["toy"]
            # the call chart counts the calls made
            expect(page.locator("#calls-total")).to_have_attribute("data-calls", str(made), timeout=15000)
            expect(page.locator("#calls-total")).to_contain_text(f"{made} calls in the last hour")
            expect(page.locator("#calls-table")).to_contain_text("time__get_current_time")
            # catalog search with the score breakdown
            page.fill("#search-input", "current time in a timezone")
            page.click("#search-form button")
            first = page.locator("#search-results tbody tr").first
            expect(first.locator("td").nth(1)).to_have_text("time__get_current_time", timeout=10000)
            expect(page.locator("#search-mode")).to_contain_text("bm25")
            # router performance: the search above was followed by a call of its first result
            expect(page.locator("#router-stats")).to_contain_text("hit@1", timeout=15000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "dashboard-light.png"), full_page=True)
            dark = browser.new_page(viewport={"width": 1440, "height": 1500}, color_scheme="dark")
            dark.goto(f"{base}/ui/")
            expect(dark.locator('#graph-legend li[data-node="toy"]')).to_be_visible(timeout=20000)
            bg = dark.evaluate("getComputedStyle(document.body).backgroundColor")
            assert bg == "rgb(15, 18, 22)"  # the dark palette
            dark.wait_for_timeout(800)
            dark.screenshot(path=str(shots / "dashboard-dark.png"), full_page=True)
        finally:
            browser.close()
    assert (shots / "dashboard-light.png").stat().st_size > 10_000
