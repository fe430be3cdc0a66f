"""A throwaway PostgreSQL cluster: initdb into a folder, serve on a free loopback port, remove.

The comparison starts one for the postgres backends when it is given no ``--dsn``, and the tests
and benchmarks start their own, so nothing needs setting up beyond installing PostgreSQL
(:data:`INSTALL_HINT`). Only the installed binaries are used (``initdb``, ``pg_ctl``, ``psql``):
on ``PATH``, else where Debian's package puts them (``/usr/lib/postgresql/<version>/bin``).

- It listens on 127.0.0.1 only, with no Unix socket (whose path length is limited), and its one
  role, ``harness``, has a random password: the DSN carries it, so it is passed to servers in
  the environment, never on a command line (``ps`` would show it).
- PostgreSQL refuses to run as root. Run as root, the cluster runs as the ``postgres`` user
  (Debian's package creates it), else as ``nobody``; its folder is then owned by that user, who
  must be able to reach it: a folder that user cannot reach is replaced by a temporary one, and
  the log says where.
- It is started in a session of its own, so a Ctrl-C in the terminal reaches the harness, which
  stops it in order, rather than the database under a run that is still being stopped.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

INSTALL_HINT = ("PostgreSQL is not installed: install it with `apt-get install -y postgresql` "
                "(Debian, Ubuntu; `brew install postgresql` on macOS), or give --dsn")
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
ROLE = "harness"
START_TIMEOUT_S = 60
PORT_ATTEMPTS = 3
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine; the message says how to install them."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


class ClusterError(RuntimeError):
    """The cluster could not be created, started or used; the message holds PostgreSQL's words."""


def find_binaries() -> Path | None:
    """The folder holding ``pg_ctl``: on ``PATH``, else Debian's newest version, else None."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    versions = sorted(DEBIAN_BINARIES.glob("*/bin/pg_ctl"),
                      key=lambda path: _version_key(path.parent.parent.name))
    return versions[-1].parent if versions else None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def service_user() -> str | None:
    """Who the cluster runs as: None (ourselves) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ClusterError("running as root, and neither a postgres nor a nobody user exists to "
                       "run PostgreSQL as (it refuses root)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """One cluster under ``folder`` (created; removed by :meth:`stop`); a context manager.

    ``durable=False`` turns fsync off, for tests: what they check is behaviour, not a power cut.
    """

    def __init__(self, folder: Path, *, durable: bool = True, max_connections: int = 200
                 ) -> None:
        binaries = find_binaries()
        if binaries is None:
            raise PostgresMissing()
        self.binaries = binaries
        self.user = service_user()
        self.folder = folder.resolve()
        self.durable = durable
        self.max_connections = max_connections
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self._made_folder = False
        self._started = False

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "postgres.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresCluster:
        """initdb, then start on a free port (another if the chosen one was taken meanwhile)."""
        self._prepare_folder()
        try:
            self._initdb()
            for attempt in range(1, PORT_ATTEMPTS + 1):
                self.port = free_port()
                if self._pg_ctl_start():
                    break
                if attempt == PORT_ATTEMPTS or "could not bind" not in self._log_tail():
                    raise ClusterError(f"PostgreSQL did not start:\n{self._log_tail()}")
            self._started = True
            log.info("PostgreSQL %s serves 127.0.0.1:%d from %s", self.binaries.parent.name,
                     self.port, self.data)
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare_folder(self) -> None:
        if self.user is not None and not self._reachable(self.folder.parent):
            temporary = Path(tempfile.mkdtemp(prefix="pgcluster-"))
            log.info("%s is not reachable by the %s user that PostgreSQL runs as: the cluster "
                     "lives in %s instead", self.folder, self.user, temporary)
            self.folder = temporary
        else:
            self.folder.mkdir(parents=True, exist_ok=False)
        self._made_folder = True
        if self.user is not None:
            shutil.chown(self.folder, self.user)
            os.chmod(self.folder, 0o700)

    def _reachable(self, folder: Path) -> bool:
        """Whether the service user can enter ``folder`` (asked as that user: exact)."""
        folder.mkdir(parents=True, exist_ok=True)
        return subprocess.run(self._as_user("test", "-x", str(folder)),
                              stdin=subprocess.DEVNULL).returncode == 0

    def _as_user(self, *command: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *command] if self.user else list(command)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._as_user(*command), cwd=self.folder, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=START_TIMEOUT_S,
                              start_new_session=True)

    def _initdb(self) -> None:
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        if self.user is not None:
            shutil.chown(password_file, self.user)
        password_file.chmod(0o600)
        try:
            done = self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", ROLE,
                             f"--pwfile={password_file}", "--auth=scram-sha-256", "-E", "UTF8",
                             "--no-locale", "--no-sync")
        finally:
            password_file.unlink()
        if done.returncode != 0:
            raise ClusterError(f"initdb failed:\n{done.stdout}{done.stderr}")

    def _pg_ctl_start(self) -> bool:
        options = [f"-c port={self.port}", "-c listen_addresses=127.0.0.1",
                   "-c unix_socket_directories=''", f"-c max_connections={self.max_connections}"]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        done = self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l",
                         str(self.log_file), "-w", "-t", str(START_TIMEOUT_S), "-o",
                         " ".join(options), "start")
        return done.returncode == 0

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the cluster's role; raises :class:`ClusterError` with psql's words."""
        done = subprocess.run(
            [str(self.binaries / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.dsn(database), "-c", sql],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        if done.returncode != 0:
            raise ClusterError(f"psql failed on {sql!r}: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its DSN."""
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _ only")
        self.psql(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _ only")
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop PostgreSQL (fast: open connections are cut) and remove the folder; idempotent."""
        if self._started or (self.data / "postmaster.pid").exists():
            done = self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                             "-w", "-t", "30", "stop")
            if done.returncode != 0:
                self._kill_postmaster()
            self._started = False
        if self._made_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._made_folder = False

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        log.warning("pg_ctl could not stop PostgreSQL (pid %d): killing it", pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
