"""The run command, as `make run` starts it: a real process serving real HTTP."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  -- a loopback URL we built
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _start(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["GUANXI_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(  # noqa: S603  -- our own manage.py with fixed arguments
        [sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(process: subprocess.Popen[str], url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"serve exited early with {process.returncode}:\n{output}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail("serve did not answer in time")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_serve_migrates_serves_and_keeps_its_data(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(tmp_path, port, "--no-demo")
    try:
        _wait_ready(process, f"{base}/login/")
        status, body = _get(f"{base}/login/")
        assert status == 200
        assert 'name="csrfmiddlewaretoken"' in body
        status, body = _get(f"{base}/api/openapi.json")
        assert status == 200
        assert json.loads(body)["openapi"].startswith("3.")
    finally:
        output = _stop(process)
    assert f"Guanxi is running at {base}/" in output
    assert "demo login: admin / guanxi-demo" in output
    assert (tmp_path / "guanxi.sqlite3").exists()
    secret = (tmp_path / "secret_key").read_text()

    # A second start finds the same database and secret.
    process = _start(tmp_path, port, "--no-demo")
    try:
        _wait_ready(process, f"{base}/login/")
    finally:
        _stop(process)
    assert (tmp_path / "secret_key").read_text() == secret
