"""PostgreSQL restarted or stopped under a running API: coded, retryable errors, then recovery.

A real `uvicorn` API process against a PostgreSQL server of the test's own, which the test restarts
and stops. During the outage every answer is SERVICE_UNAVAILABLE (never a traceback) and /healthz
says 503; once the server is back, reads and writes work again without restarting the API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.processes import PrivatePostgres, api_process

pytestmark = [pytest.mark.slow]

COUNT = {"query": "{ campaigns { totalCount } }"}
CREATE = {
    "query": 'mutation { createCampaign(input: {title: "After the outage"}) { campaign { slug } userErrors { code } } }'
}


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def _post(base: str, body: dict, key: str) -> httpx.Response:  # type: ignore[type-arg]
    return httpx.post(
        f"http://{base}/graphql", json=body, timeout=30, headers={"Authorization": f"Bearer {key}"}
    )


def _recovers(base: str, key: str, within: float = 20.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while True:
        body = _post(base, COUNT, key).json()
        if "errors" not in body:
            return body
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
        assert time.monotonic() < deadline, "the API did not recover"
        time.sleep(0.3)


def test_restart_and_outage(tmp_path) -> None:
    if not PrivatePostgres.available():
        pytest.skip("needs PostgreSQL's initdb and runuser (CI has both)")
    pg = PrivatePostgres().start()
    try:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(pg.port),
                "-U",
                "postgres",
                "cosource",
            ],
            check=True,
            timeout=60,
        )
        env = {
            "COSOURCE_DATABASE_URL": pg.admin_url.rsplit("/", 1)[0] + "/cosource",
            "COSOURCE_REDIS_URL": "",
            "COSOURCE_DB_POOL_MAX": "4",
        }
        _cli(env, "migrate")
        key = re.search(r"sk_\S+", _cli(env, "tenant", "create", "Outage Brand")).group(0)  # type: ignore[union-attr]
        with api_process(env, tmp_path) as base:
            assert _post(base, COUNT, key).json() == {"data": {"campaigns": {"totalCount": 0}}}

            pg.restart()  # every pooled connection is now dead
            assert _recovers(base, key) == {"data": {"campaigns": {"totalCount": 0}}}

            pg.stop()
            for body in (COUNT, CREATE):
                response = _post(base, body, key)
                assert response.status_code == 200
                error = response.json()["errors"][0]
                assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
                assert "Traceback" not in response.text and "asyncpg" not in response.text
            health = httpx.get(f"http://{base}/healthz", timeout=30)
            assert health.status_code == 503 and health.json()["database"].startswith("error")

            pg.start()
            _recovers(base, key)
            created = _post(base, CREATE, key).json()["data"]["createCampaign"]
            assert created == {"campaign": {"slug": "after-the-outage"}, "userErrors": []}
            assert httpx.get(f"http://{base}/healthz", timeout=10).status_code == 200
    finally:
        pg.close()
