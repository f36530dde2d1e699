"""What every process does first: say which mode it runs in, and in production refuse any
development secret or setting (Settings.development_leftovers)."""

import logging

from . import jsonlog
from .settings import Settings


class UnsafeSettings(SystemExit):
    """Raised instead of starting: the message names every development leftover."""


def check_mode(settings: Settings, process: str) -> None:
    logger = logging.getLogger(f"edge_adapter.{process}")
    leftovers = settings.development_leftovers()
    jsonlog.log(
        logger,
        logging.WARNING if leftovers else logging.INFO,
        f"{process} starting in {settings.env} mode",
        env=settings.env,
        development_settings=leftovers,
    )
    if settings.env == "production" and leftovers:
        raise UnsafeSettings(
            f"{process}: refusing to start in production with development settings: "
            + "; ".join(leftovers)
            + " (set LSP_ENV=development for local use)"
        )
