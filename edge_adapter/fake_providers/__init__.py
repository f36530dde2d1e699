"""A fake of every payment provider's API, for development and tests only.

The real gateways are outside our system; this package stands in for them as a real HTTP
server on 127.0.0.1, speaking each provider's real paths, auth, payloads and signatures.
It is kept apart from the real clients (`edge_adapter.gateways`), which never import it.

    python -m edge_adapter.fake_providers [--port 54330]

One module per provider registers its routes under /<provider>. Shared behaviour (fault
modes, call counts, the per-payment charge ledger, outbound webhooks) is in `state.py`;
the control endpoints tests drive (`/_control`, `/_reset`, `/_calls`, ...) are in `app.py`.
"""

from .credentials import FAKE_CREDENTIALS, overrides

__all__ = ["FAKE_CREDENTIALS", "overrides"]
