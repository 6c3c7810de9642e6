"""Time to first paint of the Overview in Chromium, for `python -m breachdash bench`.

A real `streamlit run` on 127.0.0.1 against the given database; Playwright drives Debian's
Chromium. Measured: from the sign-in click (which navigates to the Overview) until the headline
figure is visible. Median of `repeat` fresh browser sessions, after one warm-up.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from breachdash.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "STREAMLIT_SERVER_PORT": str(port),
           "STREAMLIT_SERVER_ADDRESS": "127.0.0.1", "STREAMLIT_SERVER_HEADLESS": "true",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("streamlit did not start for the first-paint measurement")


def overview_first_paint_seconds(database_url: str, *, email: str, password: str, headline: str,
                                 repeat: int = 3) -> float | None:
    """Median seconds from signing in to `headline` (a metric label) being visible; None when
    Playwright or Chromium is not installed here."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(CHROMIUM):
        return None
    process, url = _start_server(database_url)
    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for run in range(repeat + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(url)
                page.get_by_role("textbox", name="Email").fill(email)
                page.get_by_role("textbox", name="Password").fill(password)
                start = time.perf_counter()
                page.get_by_role("button", name="Sign in").click()
                page.get_by_test_id("stMetricLabel").filter(has_text=headline).first.wait_for(timeout=120_000)
                if run:  # the first session warms the server's caches
                    times.append(time.perf_counter() - start)
                context.close()
            browser.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return statistics.median(times)
