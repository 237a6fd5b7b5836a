"""`tui-rl serve` in a real headless Chromium, driven over the Chrome DevTools Protocol (aiohttp's
websocket client, already there for textual-serve): the page shows the Setup screen, `s` typed
into the page starts a run, and the frame count on the page advances.

The page draws with xterm.js on a canvas, so its text is read from xterm's own screen buffer: a
script added before the page loads keeps the ``Terminal`` that textual-serve's page creates.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import PATIENCE_S, stop_trainers
from test_e2e_tmux import shown_frames

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

#: keeps the xterm.js Terminal the page makes (assigned as ``this.terminal``) as window.__tuiTerminal
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && typeof value.write === "function") window.__tuiTerminal = value;
  },
});
"""
#: the terminal's visible rows as text, or null before the terminal exists
SCREEN_TEXT = """(() => {
  const t = window.__tuiTerminal;
  if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) { const line = b.getLine(b.viewportY + y); rows.push(line ? line.translateToString(true) : ""); }
  return rows.join("\\n");
})()"""


def needs(program: str, extra: str) -> None:
    """Skip without ``program`` (a module or an executable), but fail under CI, where it must be
    there. (The same as conftest's ``needs`` from the workloads work, until that lands.)"""
    if shutil.which(program) or importlib.util.find_spec(program):
        return
    message = f"needs {program} ({extra})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process ended with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class DevTools:
    """One page of Chromium over the DevTools protocol."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.last_id = 0

    async def send(self, method: str, **params) -> dict:
        self.last_id += 1
        await self.ws.send_json({"id": self.last_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=PATIENCE_S)
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def screen(self) -> str:
        result = await self.send("Runtime.evaluate", expression=SCREEN_TEXT, returnByValue=True)
        return result["result"].get("value") or ""

    async def wait_for(self, predicate, what: str, timeout: float = PATIENCE_S) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = await self.screen()
            if predicate(shown):
                return shown
            await asyncio.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; the page shows:\n{shown}")

    async def type_key(self, key: str) -> None:
        await self.send("Runtime.evaluate", expression="window.__tuiTerminal.focus()")
        for kind in ("keyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "",
                            code=f"Key{key.upper()}", windowsVirtualKeyCode=ord(key.upper()))


@pytest.fixture
def served(tmp_path):
    """`tui-rl serve` on a free port, on the default preset, runs in tmp_path/runs."""
    needs("textual_serve", "tui-rl[serve]")
    port = free_port()
    runs = tmp_path / "runs"
    server = subprocess.Popen(
        [sys.executable, "-m", "tui_rl.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--runs-dir", str(runs)],
        cwd=tmp_path, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(server)
        stop_trainers(runs)


@pytest.fixture
def chromium(tmp_path):
    """Headless Chromium with its DevTools port; yields that port."""
    needs("chromium", "the chromium Debian package")
    profile = tmp_path / "chromium-profile"
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
         "--window-size=1280,800", "about:blank"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + PATIENCE_S
        while not (active.is_file() and active.read_text().strip()):
            assert browser.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.2)
        yield int(active.read_text().split()[0])
    finally:
        stop(browser)


async def test_the_browser_shows_setup_starts_a_run_and_the_frames_advance(served, chromium):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{chromium}/json/list") as answer:
            pages = [t for t in json.loads(await answer.text()) if t["type"] == "page"]
        async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = DevTools(ws)
            await page.send("Page.enable")
            await page.send("Page.addScriptToEvaluateOnNewDocument", source=KEEP_TERMINAL)
            await page.send("Page.navigate", url=served)

            setup = await page.wait_for(lambda s: "Environment" in s and "Hyperparameters" in s, "the Setup screen")
            assert "Start" in setup
            await page.type_key("s")
            first = await page.wait_for(lambda s: (shown_frames(s) or 0) > 0, "the run to start")
            later = await page.wait_for(lambda s: (shown_frames(s) or 0) > shown_frames(first), "more frames")
            assert "RUNNING" in later
