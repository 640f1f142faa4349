"""A throwaway PostgreSQL server for the tests: `postgres_uri` (one server per test session)
and `postgres_catalog_env` (pyiceberg's catalog `cascade` on a fresh database per test).

The server comes from the PostgreSQL programs installed on this machine, which
`scripts/ensure-postgres.sh` installs (`make test` runs it first). It listens on 127.0.0.1 on a
free port with trust authentication, keeps its files and socket in a temporary folder, and is
stopped and removed at the end of the session. A test module uses these fixtures with
`pytest_plugins = ["tests.e2e.postgres"]`.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from tests.helpers import free_port

# The OS user that runs the server when the tests run as root (initdb refuses root), and the
# database superuser in every case.
POSTGRES_USER = "postgres"
MISSING = (
    "PostgreSQL server programs (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on "
    "PATH: run `bash scripts/ensure-postgres.sh` (`make test` does)."
)


def server_bin() -> Path | None:
    """The folder with initdb and pg_ctl: Debian's newest version, else the ones on PATH."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda folder: [int(part) for part in folder.parent.name.split(".") if part.isdigit()],
        reverse=True,
    )
    for folder in debian:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    return Path(initdb).parent if initdb and pg_ctl else None


def create_database(uri: str, name: str) -> str:
    """Creates the database `name` on the server `uri` points at; returns the new one's URI."""
    # CREATE DATABASE cannot run inside a transaction block.
    engine = sqlalchemy.create_engine(uri, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return engine.url.set(database=name).render_as_string(hide_password=False)


class _Server:
    """initdb/pg_ctl on a data folder inside `folder`, run as the right OS user."""

    def __init__(self, bin_dir: Path, folder: Path):
        self.bin_dir = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(POSTGRES_USER)
            except KeyError:
                pytest.fail(f"No OS user {POSTGRES_USER!r} to run PostgreSQL as. {MISSING}")
            shutil.chown(folder, POSTGRES_USER, POSTGRES_USER)
            self.as_owner = ["runuser", "-u", POSTGRES_USER, "--"]

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        # cwd: the server's user may not be allowed into the directory pytest runs from.
        done = subprocess.run(
            [*self.as_owner, str(self.bin_dir / program), *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            pytest.fail(f"{program} {' '.join(args)} failed:\n{done.stdout}{done.stderr}{log}")
        return done

    def init(self) -> None:
        # --no-sync and fsync=off below: a test cluster need not survive a power cut.
        self.run(
            "initdb",
            *("-D", str(self.data), "-U", POSTGRES_USER, "--auth=trust"),
            *("--encoding=UTF8", "--no-locale", "--no-sync"),
        )

    def start(self, port: int) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {self.folder} -c fsync=off"
        self.run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log), "-o", options)

    def stop(self) -> None:
        # fast: disconnects the catalogs' pooled connections instead of waiting for them.
        self.run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    """A SQLAlchemy URI of the database `cascade` on a PostgreSQL server started for the
    session: `postgresql+psycopg2://postgres@127.0.0.1:PORT/cascade`."""
    bin_dir = server_bin()
    if bin_dir is None:
        # Fail rather than skip: CI must exercise the PostgreSQL catalog.
        pytest.fail(MISSING)
    # Not pytest's tmp_path: its parent folders are private to the user running pytest, so
    # the `postgres` user could not reach the data folder.
    folder = Path(tempfile.mkdtemp(prefix="cascade-pg-"))
    server = _Server(bin_dir, folder)
    try:
        server.init()
        port = free_port()
        server.start(port)
        try:
            server_uri = f"postgresql+psycopg2://{POSTGRES_USER}@127.0.0.1:{port}/postgres"
            yield create_database(server_uri, "cascade")
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def postgres_catalog_env(
    postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Configures pyiceberg's catalog `cascade` through its standard environment variables
    only, as a deployment would: a SqlCatalog on a fresh PostgreSQL database (one per test, so
    tests sharing the server never see each other's tables) and a local warehouse."""
    uri = create_database(postgres_uri, f"cascade_test_{next(_databases)}")
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    env = {
        "PYICEBERG_CATALOG__CASCADE__TYPE": "sql",
        "PYICEBERG_CATALOG__CASCADE__URI": uri,
        "PYICEBERG_CATALOG__CASCADE__WAREHOUSE": warehouse.as_uri(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
