"""Runs a command with the example's fixture servers up, on the project's Dagster instance.

    python -m examples.with_fixtures COMMAND [ARG...]

The Nightscout and GitHub fixture servers start on free ports on 127.0.0.1, and the command runs
with NIGHTSCOUT_BASE_URL and GITHUB_API_BASE_URL pointing at them, so every process Dagster
starts for it (webserver, daemon, code servers, runs) loads from them. DAGSTER_HOME is the
project's Dagster instance, `.cascade/dagster`, unless it is set already: `make demo`, the UI
(`make ui`) and the command line all record their runs there. The servers stop when the command
exits, and its exit status is this one's. Ctrl-C stops the command as it stops Dagster's own.

    python -m examples.with_fixtures .venv/bin/dagster dev -m generated.definitions
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from examples.fixtures.github_server import GitHubFixtureServer
from examples.fixtures.nightscout_server import NightscoutFixtureServer

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Next to the embedded catalog (.cascade/catalog.db), and ignored by git with it.
PROJECT_DAGSTER_HOME = PROJECT_DIR / ".cascade" / "dagster"


def project_dagster_home() -> Path:
    """DAGSTER_HOME, set to the project's instance when it is not set; the folder exists
    afterwards. Dagster keeps the instance's runs, events and check results there, in SQLite."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    config = PROJECT_DAGSTER_HOME / "dagster.yaml"
    if home == PROJECT_DAGSTER_HOME and not config.exists():
        # Dagster's defaults; without the file, every command warns that it is missing.
        config.write_text(
            "# The project's Dagster instance, with Dagster's default settings:\n"
            "# https://docs.dagster.io/deployment/oss/dagster-yaml\n",
            encoding="utf-8",
        )
    return home


@contextmanager
def fixture_servers() -> Iterator[dict[str, str]]:
    """Both fixture servers, running, with the environment variables the example ingestions
    read pointing at them (set in os.environ, so child processes inherit them)."""
    with NightscoutFixtureServer() as nightscout, GitHubFixtureServer() as github:
        urls = {"NIGHTSCOUT_BASE_URL": nightscout.url, "GITHUB_API_BASE_URL": github.url}
        os.environ.update(urls)
        yield urls


def main(argv: list[str] | None = None) -> int:
    command = sys.argv[1:] if argv is None else argv
    if not command or command[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 0 if command else 2
    home = project_dagster_home()
    with fixture_servers() as urls:
        for name, url in urls.items():
            print(f"with_fixtures: {name}={url}", file=sys.stderr)
        print(f"with_fixtures: DAGSTER_HOME={home}", file=sys.stderr, flush=True)
        # The command starts with Ctrl-C's default action even when this process was started
        # with it ignored (as a shell starts a background job), so that it can be stopped.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        child = subprocess.Popen(command)
        # Ctrl-C reaches the command as well (one process group): let it shut down and wait
        # for it. A SIGTERM sent to this process alone is passed on.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda signum, _frame: child.send_signal(signum))
        returncode = child.wait()
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main())
