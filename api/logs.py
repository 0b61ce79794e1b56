"""Process logging: one JSON object per line (structlog), each carrying the request id.

`cosource serve`, `worker` and `demo` install it (and hand it to uvicorn, so every server process
logs alike). Records from any library go through the same formatter; ``extra={...}`` fields become
JSON keys. ``COSOURCE_LOG_FORMAT=console`` gives readable lines for development. Nothing logs
keys, tokens, secrets or request bodies. See docs/architecture.md, "Observability".
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import orjson
import structlog
from structlog.types import EventDict, WrappedLogger

from engine import request_ids
from engine.settings import Settings, get_settings


def _request_id(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    request_id = request_ids.current()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _json(event: EventDict, **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


def _shared() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _request_id,
    ]


def dict_config(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if settings.log_format == "console"
        else structlog.processors.JSONRenderer(serializer=_json)
    )
    level = "DEBUG" if settings.debug else settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "cosource": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": _shared(),
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "cosource",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # Our access log (api.access) replaces uvicorn's; its error log goes through ours.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure(settings: Settings | None = None) -> dict[str, Any]:
    """Install the configuration in this process; returns it for uvicorn's worker processes."""
    config = dict_config(settings)
    logging.config.dictConfig(config)
    structlog.configure(
        processors=[*_shared(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return config
