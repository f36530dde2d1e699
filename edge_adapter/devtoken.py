"""Mint development JWTs signed with the project's JWT secret (LSP_JWT_SECRET).

python -m edge_adapter.devtoken admin|owner|developer|service|<user uuid> [--ttl 3600]
"""

import argparse
import time
import uuid

import jwt

from .settings import get_settings

# The users supabase/seed.sql creates.
SEEDED_USERS = {
    "admin": ("00000000-0000-4000-8000-00000000a001", "admin@lightspeedpay.test"),
    "owner": ("00000000-0000-4000-8000-00000000b001", "owner@demo-merchant.test"),
    "merchant": ("00000000-0000-4000-8000-00000000b001", "owner@demo-merchant.test"),
    "developer": ("00000000-0000-4000-8000-00000000b002", "developer@demo-merchant.test"),
}


def mint(subject: str, ttl: int = 3600, secret: str | None = None, **extra: object) -> str:
    """A Supabase-shaped access token for a seeded name, a user id, or 'service'."""
    secret = secret or get_settings().jwt_secret.get_secret_value()
    now = int(time.time())
    claims: dict[str, object] = {"iat": now, "exp": now + ttl, "iss": "lightspeedpay-dev"}
    if subject == "service":
        claims["role"] = "service_role"
    else:
        if subject in SEEDED_USERS:
            user_id, email = SEEDED_USERS[subject]
        else:
            user_id, email = str(uuid.UUID(subject)), None
        claims.update(sub=user_id, role="authenticated", aud="authenticated")
        if email:
            claims["email"] = email
    claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("who", help="admin, owner, developer, service, or a user uuid")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args()
    print(mint(args.who, args.ttl))


if __name__ == "__main__":
    main()
