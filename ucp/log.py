"""structlog, configured once, JSON lines to stderr (stdout is the MCP stdio channel).

Event names are snake_case; context (session id, server, tool; the HTTP front's
request id) is bound through contextvars so every line of one call carries it,
and registered context providers add more per line (``ucp.observe.tracing`` adds
the trace and span ids of the current span). Secrets never reach a log line:
values of keys that look secret are masked by ``_redact``. Other libraries log
through stdlib ``logging``; their records go through the same processors
(structlog's ``ProcessorFormatter``), so they are JSON, masked and carry the same
context too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(r"(authorization|token|secret|password|api[_-]?key|cookie|credential)", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_configured = False
_level = logging.INFO
_factory: _TeeLoggerFactory | None = None
_providers: list[Callable[[], dict[str, Any] | None]] = []


def add_context_provider(provider: Callable[[], dict[str, Any] | None]) -> None:
    """Fields ``provider()`` returns are added to every log line (when not already bound)."""
    if provider not in _providers:
        _providers.append(provider)


def _provided(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for provider in _providers:
        try:
            fields = provider()
        except Exception:
            continue
        for key, value in (fields or {}).items():
            event_dict.setdefault(key, value)
    return event_dict


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _BEARER.sub(r"\1***", value)
    return value


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        value = event_dict[key]
        if _SECRET_KEY.search(key) and key != "event":
            event_dict[key] = "***"
        elif isinstance(value, dict):
            event_dict[key] = {
                k: ("***" if _SECRET_KEY.search(str(k)) else _mask(v)) for k, v in value.items()
            }
        else:
            event_dict[key] = _mask(value)
    return event_dict


def redact(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` with the values of secret-looking keys masked (what log lines get)."""
    return dict(_redact(None, "", dict(mapping)))


def configure(
    level: str = "info", *, stream: TextIO | None = None, json: bool = True, log_file: Path | None = None
) -> None:
    """Configure structlog and the stdlib root logger. Idempotent; the last call wins."""
    global _configured, _level, _factory
    out = stream if stream is not None else sys.stderr
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    _level = numeric
    if _factory is not None:
        _factory.close()
    _factory = _TeeLoggerFactory(out, log_file)
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _provided,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_factory,
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through stdlib logging: route them to stderr too, quieter.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _redact],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING))
    _configured = True


class _TeeLoggerFactory:
    """Writes each line to the stream and, when configured, appends it to a log file
    (opened once, line-buffered)."""

    def __init__(self, stream: TextIO, log_file: Path | None) -> None:
        self._stream = stream
        self._file: TextIO | None = None
        if log_file is not None:
            try:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                self._file = log_file.open("a", encoding="utf-8", buffering=1)
            except OSError:
                self._file = None

    def __call__(self, *args: Any) -> _TeeLogger:
        return _TeeLogger(self._stream, self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _TeeLogger:
    def __init__(self, stream: TextIO, file: TextIO | None) -> None:
        self._stream = stream
        self._file = file

    def msg(self, message: str) -> None:
        try:
            self._stream.write(message + "\n")
            self._stream.flush()
        except (ValueError, OSError):  # stream closed at shutdown
            pass
        if self._file is not None:
            try:
                self._file.write(message + "\n")
            except (ValueError, OSError):
                pass

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def log_tracebacks() -> bool:
    """Tracebacks of unexpected downstream faults are logged at debug level only."""
    return _level <= logging.DEBUG


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; configures defaults on first use if nobody did."""
    if not _configured:
        configure()
    return structlog.get_logger(name) if name else structlog.get_logger()
