"""Shared set-up for the benchmark scripts: their own databases, Django configured per process.

Benchmarks never touch `./var` or the `guanxi` PostgreSQL database: SQLite files live in
$GUANXI_BENCH_DIR (default: <tmp>/guanxi-bench) and PostgreSQL databases are named `guanxi_bench*`.
"""

import math
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("GUANXI_BENCH_DIR") or Path(tempfile.gettempdir()) / "guanxi-bench")
DEFAULT_PG_URL = "postgres://guanxi:guanxi@127.0.0.1:5432/guanxi"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pg_base_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG_URL


def pg_url(name: str) -> str:
    if not name.startswith("guanxi_bench"):
        raise ValueError(f"benchmarks only use databases named guanxi_bench*, not {name}")
    parts = urlsplit(pg_base_url())
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _pg_admin() -> Any:
    import psycopg

    parts = urlsplit(pg_base_url())
    url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)


def pg_exists(name: str) -> bool:
    pg_url(name)
    with _pg_admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def pg_recreate(name: str) -> None:
    """Drop and create a benchmark database (only ever one named guanxi_bench*)."""
    pg_url(name)
    import psycopg
    from psycopg import sql

    with _pg_admin() as conn:
        for attempt in range(60):
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                break
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                # An autovacuum worker (owned by the superuser) may still be busy after a big load.
                if attempt == 59:
                    raise
                time.sleep(1)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def pg_create_if_missing(name: str) -> bool:
    if pg_exists(name):
        return False
    pg_recreate(name)
    return True


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def setup_django(default_url: str, extra: dict[str, str] | None = None) -> None:
    """Production settings (`guanxi.settings.base`) on the given databases; call once per process."""
    os.environ["DATABASE_URL"] = default_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "guanxi.settings.base"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ.setdefault("GUANXI_DATA_DIR", str(BENCH_DIR / "data"))
    (BENCH_DIR / "data").mkdir(parents=True, exist_ok=True)
    import dj_database_url
    import django
    from django.conf import settings

    default = settings.DATABASES["default"]
    for alias, url in (extra or {}).items():
        config = dj_database_url.parse(url, conn_max_age=default.get("CONN_MAX_AGE", 0))
        if "OPTIONS" in default and config["ENGINE"] == default["ENGINE"]:
            config["OPTIONS"] = dict(default["OPTIONS"])
        settings.DATABASES[alias] = config
    django.setup()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 50 samples is the 48th smallest)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cores = os.cpu_count()
    return f"{cores} cores, {platform.machine()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
