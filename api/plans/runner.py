"""Compiled plans: hot read operations, and a member's action on an idea
(api/plans/actions.py), answered without graphql-core's executor.

A document becomes eligible once the normal executor answered it without errors (so parsing,
validation and every document limit already passed for exactly this text). Then a plan is built
once per (document hash, operation name, role) and reused; a document the compiler does not
support is remembered as such and keeps running normally. See docs/architecture.md, "Read path".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any

import orjson
from graphql import GraphQLSchema, parse
from prometheus_client import Counter
from tortoise.models import Model

from api.plans.compiler import Env, Plan, StepAside, Unsupported, compile_plan
from engine import visibility
from engine.db import is_unavailable
from engine.models import Idea

log = logging.getLogger("cosource.api")

PlanKey = tuple[str, str | None, visibility.Role]
PLANNED = Counter(
    "cosource_read_plan_requests_total",
    "Requests of a compiled document: answered by its plan, or handed back to the executor.",
    ["outcome"],
)
_COMPILED = PLANNED.labels("compiled")
_STEPPED_ASIDE = PLANNED.labels("stepped_aside")
_UNSUPPORTED = object()
# How long requests for a document the executor is answering for the first time wait for that
# answer (and its plan) before running the executor themselves.
LEARN_WAIT = 1.0
# The longest document text whose hash is remembered (ReadPlans.key).
_DIGESTED = 4096


class ReadPlans:
    def __init__(self, schema: GraphQLSchema, maxsize: int = 1000) -> None:
        self.schema = schema
        self.maxsize = maxsize
        self._plans: OrderedDict[PlanKey, object] = OrderedDict()
        self._digests: dict[str, str] = {}
        # Counted so tests can tell a compiled answer from a normal one.
        self.hits = 0
        self.fallbacks = 0
        # Documents whose first answer the executor is computing: (until, set when answered).
        self._learning: dict[PlanKey, tuple[float, asyncio.Event]] = {}
        # Documents answered lately without a plan (errors): their requests do not wait.
        self._unplanned: dict[PlanKey, float] = {}

    def key(self, query: str, operation_name: Any, role: visibility.Role) -> PlanKey:
        name = operation_name if isinstance(operation_name, str) and operation_name else None
        # A document's hash, once per distinct text (every request of a plan sends the same);
        # only short texts are kept, so the memory stays small whatever callers send.
        digest = self._digests.get(query)
        if digest is None:
            digest = hashlib.sha256(query.encode()).hexdigest()
            if len(query) <= _DIGESTED:
                if len(self._digests) >= self.maxsize:
                    self._digests.clear()
                self._digests[query] = digest
        return digest, name, role

    def known(self, key: PlanKey) -> bool:
        return key in self._plans

    def compiled(self, key: PlanKey) -> Plan | None:
        """The plan of ``key`` when one was compiled (not while unknown or unsupported)."""
        plan = self._plans.get(key)
        return plan if isinstance(plan, Plan) else None

    async def _first_answer(self, key: PlanKey) -> object | None:
        """A document not planned yet: the first request runs the executor (None at once); those
        arriving while it does wait for its answer and take the plan it led to, instead of each
        running the executor and compiling the same plan (a widget's first page views come
        together). :meth:`settle` ends the wait; :data:`LEARN_WAIT` bounds it."""
        now = time.monotonic()
        pending = self._learning.get(key)
        if pending is None or pending[0] <= now:
            if self._unplanned.get(key, 0.0) > now:
                return None
            self._learning[key] = (now + LEARN_WAIT, asyncio.Event())
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(pending[0] - now):
                await pending[1].wait()
        return self._plans.get(key)

    def settle(self, key: PlanKey) -> None:
        """The executor answered a request of ``key`` (after :meth:`learn`, when it did)."""
        pending = self._learning.pop(key, None)
        if pending is not None:
            pending[1].set()
        if key not in self._plans:
            if len(self._unplanned) > self.maxsize:
                self._unplanned.clear()
            self._unplanned[key] = time.monotonic() + LEARN_WAIT

    def learn(self, key: PlanKey, query: str, audience: visibility.Audience) -> None:
        """Called after the normal executor answered ``query`` without errors."""
        try:
            plan: object = compile_plan(
                self.schema, parse(query), key[1], audience, _postgres(Idea)
            )
        except Unsupported:
            plan = _UNSUPPORTED
        self._plans[key] = plan
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)

    async def run(
        self,
        key: PlanKey,
        variables: Any,
        tenant_id: int,
        audience: visibility.Audience,
        *,
        mutations: bool = False,
    ) -> bytes | None:
        """The response body, or None when the normal executor must answer. ``mutations``: the
        request may run a mutation (a POST; the executor refuses them over GET)."""
        plan = self._plans.get(key)
        if plan is None:
            plan = await self._first_answer(key)
        if not isinstance(plan, Plan) or (plan.mutation and not mutations):
            return None
        # Plans compiled for one member serve every member of the same role: only the role
        # shapes the SQL, the member id is a parameter.
        env = Env(tenant_id, audience.member_id)
        try:
            data = await plan.run(variables, env, Idea._meta.db)
        except StepAside:
            self.fallbacks += 1
            _STEPPED_ASIDE.inc()
            return None
        except Exception as exc:
            if is_unavailable(exc):
                # The database went away (or a conflict outlasted its retries): the caller
                # answers SERVICE_UNAVAILABLE (api.view), as the executor would. Running the
                # operation again on this request would meet the same outage, and a member
                # action would do so inside the first attempt's broken transaction.
                raise
            # The normal executor reports it with its usual code. A member action raising
            # anything but a DomainError wrote nothing (its unit of work rolled back), so the
            # executor running it again answers as if the plan had never been tried
            # (api/plans/actions.py).
            log.debug("compiled plan failed; running the operation normally", exc_info=True)
            self.fallbacks += 1
            _STEPPED_ASIDE.inc()
            return None
        self.hits += 1
        _COMPILED.inc()
        return orjson.dumps({"data": data})


def _postgres(model: type[Model]) -> bool:
    return bool(model._meta.db.capabilities.dialect == "postgres")
