"""scripts/postgres: a real server takes the generated password over TCP; a taken port is one line."""

from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_the_server_takes_the_generated_password_and_refuses_others(postgres, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", postgres.env["PGPASSWORD"])
    engine = sa.create_engine(postgres.url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT current_user")).scalar() == "pipeline"
    engine.dispose()
    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        sa.create_engine(postgres.url).connect()


def test_a_taken_port_is_one_line_naming_it(postgres, tmp_path):
    port = postgres.url.rsplit(":", 1)[1].split("/")[0]
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_STATE_DIR": str(tmp_path / "state"), "POSTGRES_PORT": port}
    result = subprocess.run([ROOT / "scripts" / "postgres", "up"], env=env, text=True, capture_output=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is taken by another program: set POSTGRES_PORT to a free port"
    ]
    assert not (tmp_path / "state").exists()
