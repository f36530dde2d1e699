"""Queue name -> handler. Each capability adds its handler here (payment, webhook,
settlement, gateway_health); a queue without a handler is not consumed by default."""

from .core import Handler

HANDLERS: dict[str, Handler] = {}
