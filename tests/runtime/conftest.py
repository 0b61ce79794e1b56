"""Fixtures the runtime tests share with the webhook tests (settings, the arq worker stack)."""

from tests.webhooks.conftest import webhook_settings  # noqa: F401
from tests.webhooks.test_worker import arq_stack  # noqa: F401
