"""JSON logs, one object per line, with secrets scrubbed from every message."""

import json
import logging
import re
import sys
from datetime import UTC, datetime

from .masking import is_secret_key, mask_card_numbers

# Anything that looks like a bearer token, API key, webhook secret or DSN password.
_SECRET_PATTERNS = [
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), "[jwt]"),
    (re.compile(r"\blsp_(?:test|live)_[A-Za-z0-9_]+"), "lsp_[key]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_[secret]"),
    (re.compile(r"(postgres(?:ql)?://[^:/\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"']+"), r"\1[redacted]"),
]


def scrub(text: str) -> str:
    """Secrets by shape (tokens, keys, DSN passwords), secret-named JSON fields, and card
    numbers by value (edge_adapter/masking.py: the database's masking rule)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    text = _SECRET_FIELD.sub(_redact_field, text)
    return mask_card_numbers(text)


# "name": "value" pairs in a JSON line whose name is a secret by the masking rule.
_SECRET_FIELD = re.compile(r'"([A-Za-z0-9_-]{1,64})": "((?:[^"\\]|\\.)*)"')


def _redact_field(match: re.Match[str]) -> str:
    if is_secret_key(match.group(1)):
        return f'"{match.group(1)}": "[redacted]"'
    return match.group(0)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


def _not_pipeline_noise(record: logging.LogRecord) -> bool:
    """psycopg warns "error ignored terminating <pipeline>" when a failed call aborts the
    statements queued after it in the same pipeline; the call's own error is raised (and
    answered) already, so the warning says nothing new."""
    message = record.getMessage()
    return not (message.startswith("error ignored terminating") and "Pipeline" in message)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    psycopg_logger = logging.getLogger("psycopg")
    if _not_pipeline_noise not in psycopg_logger.filters:
        psycopg_logger.addFilter(_not_pipeline_noise)
    # Our own request log replaces uvicorn's access log (which prints query strings).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def log(logger: logging.Logger, level: int, msg: str, **fields: object) -> None:
    logger.log(level, msg, extra={"fields": fields})
