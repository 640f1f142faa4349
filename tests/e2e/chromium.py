"""Debian's Chromium, headless, driven through its DevTools protocol: open a page, wait until its
rendered text holds what a test looks for.

The browser is the `chromium` that `scripts/ensure-chromium.sh` installs (`make test` runs it
first). It runs in a session of its own with a throwaway profile, listens for DevTools on a port
it picks itself (written to the profile's DevToolsActivePort file), and is killed with all its
processes when the `with` block ends.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Self

import pytest
from websockets.sync.client import connect

MISSING = "No `chromium` on PATH: run `bash scripts/ensure-chromium.sh` (`make test` does)."


class Chromium:
    """One headless browser with one tab."""

    def __init__(self, start_timeout: float = 60) -> None:
        binary = shutil.which("chromium")
        if binary is None:
            # Fail rather than skip: CI must exercise the UI in a browser.
            pytest.fail(MISSING)
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True)
        # Its chatter goes to a file (a pipe nobody reads would fill and stall it).
        self._log = tempfile.TemporaryFile(mode="w+")
        command = [
            binary,
            "--headless",
            "--disable-gpu",
            "--disable-dev-shm-usage",  # containers give /dev/shm a few MB
            "--no-first-run",
            "--lang=en-US",  # numbers as the tests write them: 1,728
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile.name}",
            "--window-size=1400,2000",
            "about:blank",
        ]
        if os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )
        self._ids = itertools.count(1)
        self._connection = ExitStack()
        try:
            url = self._page_socket_url(start_timeout)
            self._socket = self._connection.enter_context(connect(url, max_size=None))
        except BaseException:
            self.close()
            raise

    def _page_socket_url(self, timeout: float) -> str:
        """The DevTools websocket of the browser's tab, once the browser listens."""
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._process.poll() is not None:
                pytest.fail(f"chromium exited ({self._process.returncode}):\n{self._stderr()}")
            if time.monotonic() > deadline:
                pytest.fail(f"chromium did not open its DevTools port in {timeout:.0f}s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read()[-3000:]

    def _call(self, method: str, **params: object) -> dict:
        """One DevTools command; its result (events that arrive meanwhile are skipped)."""
        call_id = next(self._ids)
        self._socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def open(self, url: str) -> None:
        result = self._call("Page.navigate", url=url)
        if "errorText" in result:
            raise RuntimeError(f"chromium could not open {url}: {result['errorText']}")

    def text(self) -> str:
        """The page's rendered text, as a user sees it (`document.body.innerText`)."""
        result = self._call(
            "Runtime.evaluate",
            expression="document.body ? document.body.innerText : ''",
            returnByValue=True,
        )
        return result["result"].get("value", "")

    def wait_for_text(self, patterns: list[str], timeout: float = 90) -> str:
        """The page's text once every regular expression in `patterns` is found in it (the page
        renders as its data arrives); the test fails with the missing ones and the text after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            missing = [p for p in patterns if not re.search(p, text, re.MULTILINE)]
            if not missing:
                return text
            if time.monotonic() > deadline:
                pytest.fail(
                    f"After {timeout:.0f}s the page lacks {missing}; its text:\n{text[:6000]}"
                )
            time.sleep(0.5)

    def close(self) -> None:
        self._connection.close()
        try:
            os.killpg(self._process.pid, signal.SIGKILL)  # the browser and its helpers
        except ProcessLookupError:
            pass
        self._process.wait(timeout=30)
        self._log.close()
        self._profile.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
