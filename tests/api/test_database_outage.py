"""PostgreSQL restarted or stopped under a running API: coded, retryable errors, then recovery.

A real `uvicorn` API process against a PostgreSQL server of the test's own, which the test restarts
and stops. During the outage every answer is SERVICE_UNAVAILABLE with HTTP 503 and Retry-After (never a
traceback), wherever the database was needed: in a resolver, already in authentication (a key
not yet cached, a member token's upsert), or outside GraphQL (console sign-in, inbound webhooks); /healthz still answers (the process is alive) while
/readyz says 503; once the server is back, reads and writes work again without restarting the API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import jwt
import pytest

from tests.processes import PrivatePostgres, api_process

pytestmark = [pytest.mark.slow]

COUNT = {"query": "{ campaigns { totalCount } }"}
VIEWER = {"query": "{ viewer { displayName } }"}
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


def _post(base: str, body: dict, key: str, **headers: str) -> httpx.Response:  # type: ignore[type-arg]
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(f"http://{base}/graphql", json=body, timeout=30, headers=headers)


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "Traceback" not in response.text and "asyncpg" not in response.text


def _recovers(base: str, key: str, within: float = 20.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while True:
        response = _post(base, COUNT, key)
        body = response.json()
        if "errors" not in body:
            return body
        _unavailable(response)
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
        printed = _cli(env, "tenant", "create", "Outage Brand")
        key = re.search(r"sk_\S+", printed).group(0)  # type: ignore[union-attr]
        pk = re.search(r"pk_\S+", printed).group(0)  # type: ignore[union-attr]
        identity = re.search(r"identity secret\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        member = jwt.encode(
            {"sub": "cus_outage", "exp": int(time.time()) + 3600}, identity, "HS256"
        )
        with api_process(env, tmp_path) as base:
            assert _post(base, COUNT, key).json() == {"data": {"campaigns": {"totalCount": 0}}}

            pg.restart()  # every pooled connection is now dead
            assert _recovers(base, key) == {"data": {"campaigns": {"totalCount": 0}}}

            pg.stop()
            for body in (COUNT, CREATE):
                _unavailable(_post(base, body, key))
            # Authentication itself needs the database: a publishable key not cached yet, and
            # the member row behind a member token.
            _unavailable(_post(base, COUNT, "", **{"X-Cosource-Key": pk}))
            _unavailable(_post(base, VIEWER, member, **{"X-Cosource-Key": pk}))
            # Outside GraphQL too: the console's sign-in, an inbound integration webhook.
            with httpx.Client(base_url=f"http://{base}", timeout=30) as browser:
                page = browser.get("/console")
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert csrf, page.text
                form = {"csrf": csrf.group(1), "brand": "outage-brand", "email": "a@b.example"}
                _unavailable(browser.post("/console/login", data={**form, "password": "pw"}))
                _unavailable(browser.post("/integrations/inbound/outage-brand", content=b"{}"))
            # Alive (no reason to restart it), but not ready for traffic.
            assert httpx.get(f"http://{base}/healthz", timeout=30).status_code == 200
            ready = httpx.get(f"http://{base}/readyz", timeout=30)
            assert ready.status_code == 503 and ready.json()["database"].startswith("error")

            pg.start()
            _recovers(base, key)
            created = _post(base, CREATE, key).json()["data"]["createCampaign"]
            assert created == {"campaign": {"slug": "after-the-outage"}, "userErrors": []}
            ready = httpx.get(f"http://{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "database": "ok", "migrations": "ok"}
            viewer = _post(base, VIEWER, member, **{"X-Cosource-Key": pk}).json()
            assert "errors" not in viewer and viewer["data"]["viewer"]["displayName"]
    finally:
        pg.close()
