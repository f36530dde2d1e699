"""Payment-gateway clients, one module per provider behind one interface: the credential
check (base.Check) and the payment methods (payments.Provider, exposed as `client`)."""

import json
from typing import Any

from ..settings import Settings
from . import cashfree, paytm, payu, phonepe, razorpay, sandbox, stripe
from .base import Check, CheckResult, run_check
from .payments import Provider

MODULES = {
    "sandbox": sandbox,
    "razorpay": razorpay,
    "cashfree": cashfree,
    "payu": payu,
    "phonepe": phonepe,
    "paytm": paytm,
    "stripe": stripe,
}
CHECKS: dict[str, Check] = {name: module.check for name, module in MODULES.items()}
PROVIDERS: dict[str, Provider] = {
    name: module.client for name, module in MODULES.items() if hasattr(module, "client")
}


def base_url(settings: Settings, catalogue_urls: dict[str, str], provider: str, env: str) -> str:
    """The catalogue's URL for the environment, unless settings point the provider elsewhere
    (the local fake provider server, in development and tests)."""
    overrides: dict[str, str] = json.loads(settings.provider_base_urls or "{}")
    return overrides.get(provider) or catalogue_urls[env]


async def check_credentials(
    settings: Settings,
    catalogue_urls: dict[str, str],
    provider: str,
    environment: str,
    credentials: dict[str, Any],
) -> CheckResult:
    url = base_url(settings, catalogue_urls, provider, environment)
    creds = {k: str(v) for k, v in credentials.items()}
    return await run_check(CHECKS[provider], url, creds, settings.gateway_check_timeout_s)
