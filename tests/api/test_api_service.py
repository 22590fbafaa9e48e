"""The API as a service: where it may bind, TLS, and `tradedeck serve` as a
real process that stops cleanly on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from engine.security.principal import Role
from engine.security.service import Security
from engine.server.service import ApiService, RefusedToStart, is_loopback
from tests.conftest import EngineFactory

TRADEDECK = Path(sys.executable).with_name("tradedeck")


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.10")


async def test_binding_beyond_loopback_without_credentials_refuses(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    engine = await engine_factory(run_loops=False)
    settings = engine.settings.server.model_copy(update={"host": "0.0.0.0", "port": 0})
    service = ApiService(engine, settings, secret_path=tmp_path / "secret")
    with pytest.raises(RefusedToStart, match="no API key or user exists"):
        await service.start()
    assert service.handle is None


async def test_binding_beyond_loopback_with_a_key_serves(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    engine = await engine_factory(run_loops=False)
    security = await Security.open(
        engine.store, engine.settings.server, secret_path=tmp_path / "secret", clock=engine.clock
    )
    _, key = await security.create_key(role=Role.VIEWER, name="ops")
    await security.close()
    settings = engine.settings.server.model_copy(update={"host": "0.0.0.0", "port": 0})
    service = ApiService(engine, settings, secret_path=tmp_path / "secret")
    await service.start()
    try:
        assert service.handle is not None
        url = f"http://127.0.0.1:{service.handle.port}"
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as client:
            response = await client.get("/api/v1/workers")
        assert response.status_code == 200
        assert response.json()["total"] == len(engine.settings.accounts)
    finally:
        await service.stop()


async def test_tls_needs_both_files(engine_factory: EngineFactory, tmp_path: Path) -> None:
    engine = await engine_factory(run_loops=False)
    settings = engine.settings.server.model_copy(
        update={"port": 0, "tls_cert": tmp_path / "cert.pem"}
    )
    with pytest.raises(RefusedToStart, match="both"):
        await ApiService(engine, settings, secret_path=tmp_path / "secret").start()


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with openssl."""
    assert shutil.which("openssl"), "the TLS test makes its certificate with openssl"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_from_certificate_and_key_settings(
    engine_factory: EngineFactory, tmp_path: Path, self_signed: tuple[Path, Path]
) -> None:
    cert, key = self_signed
    engine = await engine_factory(run_loops=False)
    settings = engine.settings.server.model_copy(
        update={"port": 0, "tls_cert": cert, "tls_key": key}
    )
    service = ApiService(engine, settings, secret_path=tmp_path / "secret")
    await service.start()
    try:
        assert service.url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=trust) as client:
            response = await client.get(f"{service.url}/health")
        assert response.json()["status"] == "ok"
    finally:
        await service.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_tradedeck_serve_runs_headless_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    key = subprocess.run(
        [TRADEDECK, "keys", "create", "--role", "viewer", "--db", str(db)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert key.startswith("tdk_")
    port = _free_port()
    process = subprocess.Popen(
        [TRADEDECK, "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                workers = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/workers", headers={"X-API-Key": key}
                )
                if workers.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "tradedeck serve did not come up"
            time.sleep(0.2)
        assert workers.json()["total"] == 4
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}/api/v1" in err
    assert "Traceback" not in err and out == ""
    assert (tmp_path / "tradedeck.log").exists()
