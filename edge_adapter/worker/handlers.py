"""Queue name -> handler. Each capability adds its handler here; a queue without a handler
is not consumed by default."""

from . import gateway_health, payments, settlements, webhook
from .core import Handler

HANDLERS: dict[str, Handler] = {
    "gateway_health": gateway_health.handle,
    "payment": payments.handle,
    "settlement": settlements.handle,
    "webhook": webhook.handle,
}
