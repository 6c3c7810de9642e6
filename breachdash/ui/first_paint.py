"""Time to first paint of the Overview in Chromium, for `python -m breachdash bench`; and the
server start (start_server/stop_server) and Chromium settings that bench-load and the e2e
tests share.

A real `streamlit run` on 127.0.0.1 against the given database; Playwright drives Debian's
Chromium. Measured: from the sign-in click (which navigates to the Overview) until the headline
figure is visible: the first session after the server starts (cold) and the median of `repeat`
fresh browser sessions after it (warm).
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from breachdash.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, *, log_path: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free port of 127.0.0.1 against `database_url`, local accounts
    (a secrets.toml [auth] section is ignored), file watcher off; returns once /_stcore/health
    answers. Its output goes to `log_path` (default: discarded). Stop it with stop_server."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "BREACHDASH_AUTH_MODE": "local",
           "STREAMLIT_SERVER_PORT": str(port), "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
           "STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", **(extra_env or {})}
    log = log_path.open("w") if log_path else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py"], cwd=PROJECT_ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    if log_path:
        log.close()  # the child keeps its own handle
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    stop_server(process)
    detail = f"; its output is in {log_path}" if log_path else ""
    raise RuntimeError(f"streamlit did not start (exit code {process.returncode}){detail}")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class FirstPaint:
    """Seconds from the sign-in click to the headline: the first session of a freshly started
    server (cold: its imports, first reads and figures) and the median of the later ones (warm)."""
    cold: float
    warm: float


def overview_first_paint_seconds(database_url: str, *, email: str, password: str, headline: str,
                                 repeat: int = 3) -> FirstPaint | None:
    """From signing in to `headline` (a metric label) being visible, cold and warm (FirstPaint);
    None when Playwright or Chromium is not installed here."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(CHROMIUM):
        return None
    process, url = start_server(database_url)
    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for _run in range(repeat + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(url)
                page.get_by_role("textbox", name="Email").fill(email)
                page.get_by_role("textbox", name="Password").fill(password)
                start = time.perf_counter()
                page.get_by_role("button", name="Sign in").click()
                page.get_by_test_id("stMetricLabel").filter(has_text=headline).first.wait_for(timeout=120_000)
                times.append(time.perf_counter() - start)
                context.close()
            browser.close()
    finally:
        stop_server(process)
    return FirstPaint(cold=times[0], warm=statistics.median(times[1:]))
