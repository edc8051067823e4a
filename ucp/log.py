"""structlog, configured once, JSON lines to stderr (stdout is the MCP stdio channel).

Event names are snake_case; context (session id, server, tool; the HTTP front's
request id) is bound through contextvars so every line of one call carries it,
and registered context providers add more per line (``ucp.observe.tracing`` adds
the trace and span ids of the current span). Secrets never reach a log line:
values of keys that look secret are masked by ``_redact``. Other libraries log
through stdlib ``logging``; their records go through the same processors
(structlog's ``ProcessorFormatter``), so they are JSON, masked and carry the same
context too. Every value that ``expand_env``
substituted for a ``${VAR}`` reference is masked too (``register_secret``): a token expanded
into a command line cannot leak through a spawn error. ``mask_secrets`` applies the same
masking to any text shown to a user (errors in ``ucp doctor``, ``ucp registry check``,
``ucp tools list``).

The log file (``$UCP_HOME/logs/ucp.log``) and each stdio server's stderr log are
``RotatingFile``s: past ``max_bytes`` the file is renamed to ``.1`` (one backup kept),
so a flapping or chatty server cannot fill the disk.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, TextIO


def _import_structlog_without_rich() -> None:
    """Import structlog with ``rich`` hidden: ``structlog.dev`` (which ``import structlog`` always
    loads) imports rich when it can, for console tracebacks UCP never renders (it writes JSON
    lines) — ~90 ms of the ``ucp serve`` start. Hidden only while structlog loads: a later
    ``import rich`` (the CLI's tables) works as usual; ``structlog.dev`` then formats
    exceptions without rich, which nothing here uses."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError meanwhile
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
import structlog  # noqa: E402

_SECRET_KEY = re.compile(r"(authorization|token|secret|password|api[_-]?key|cookie|credential)", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_SECRET_ARG = re.compile(
    r"((?:(?<![\w-])--?[\w-]*(?:api[_-]?key|token|secret|password|passwd)[\w-]*[= ]"
    r"|\b\w*(?:api[_-]?key|token|secret|password|passwd)\w*=)\s*)(?!\*\*\*)[^\s'\",]+",
    re.I,
)
_MIN_SECRET = 6  # shorter values (ports, flags) would mask half of every line
_secrets: set[str] = set()
LOG_FILE_BYTES = 20 * 1024 * 1024
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


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in a log line or in ``mask_secrets`` output."""
    if len(value) >= _MIN_SECRET and len(_secrets) < 10_000:
        _secrets.add(value)


def mask_secrets(text: str) -> str:
    """``text`` with bearer tokens and every registered secret replaced by ``***``."""
    text = _SECRET_ARG.sub(r"\1***", _BEARER.sub(r"\1***", text))
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, BaseException):
        return mask_secrets(repr(value))
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
        self._file = RotatingFile(log_file, LOG_FILE_BYTES) if log_file is not None else None

    def __call__(self, *args: Any) -> _TeeLogger:
        return _TeeLogger(self._stream, self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _TeeLogger:
    def __init__(self, stream: TextIO, file: RotatingFile | None) -> None:
        self._stream = stream
        self._file = file

    def msg(self, message: str) -> None:
        try:
            self._stream.write(message + "\n")
            self._stream.flush()
        except (ValueError, OSError):  # stream closed at shutdown
            pass
        if self._file is not None:
            self._file.write(message + "\n")

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


class RotatingFile:
    """An append-only text file rotated by size: past ``max_bytes`` it becomes ``<name>.1``
    (the previous backup is dropped). Write errors are swallowed: logging never fails a caller."""

    def __init__(self, path: Path, max_bytes: int, *, backups: int = 1) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._fh: TextIO | None = None
        self._size = 0
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8", errors="replace", buffering=1)
            self._size = self._fh.tell()
        except OSError:
            self._fh = None

    def _rotate(self) -> None:
        if self._fh is not None:
            self._fh.close()
        for n in range(self.backups, 0, -1):
            src = self.path if n == 1 else self.path.with_name(f"{self.path.name}.{n - 1}")
            try:
                src.replace(self.path.with_name(f"{self.path.name}.{n}"))
            except OSError:
                pass
        self._open()

    def write(self, text: str) -> None:
        with self._lock:
            if self._fh is None:
                return
            try:
                if self._size + len(text) > self.max_bytes and self._size > 0:
                    self._rotate()
                    if self._fh is None:
                        return
                self._fh.write(text)
                self._size += len(text)
            except (ValueError, OSError):
                pass

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def log_tracebacks() -> bool:
    """Tracebacks of unexpected downstream faults are logged at debug level only."""
    return _level <= logging.DEBUG


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; configures defaults on first use if nobody did."""
    if not _configured:
        configure()
    return structlog.get_logger(name) if name else structlog.get_logger()
