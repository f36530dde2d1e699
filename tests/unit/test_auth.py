import asyncio
import time

import jwt
import pytest

from edge_adapter.auth import AuthError, JwtVerifier
from edge_adapter.settings import Settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256-signing"


@pytest.fixture
def verifier() -> JwtVerifier:
    return JwtVerifier(Settings(jwt_secret=SECRET))


def token(secret: str = SECRET, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "00000000-0000-4000-8000-000000000001",
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, secret, algorithm="HS256")


async def reason(verifier: JwtVerifier, header: str | None) -> str:
    with pytest.raises(AuthError) as exc:
        await verifier.verify(header)
    return exc.value.reason


async def test_a_valid_user_token_yields_the_callers_role_and_claims(verifier: JwtVerifier):
    caller = await verifier.verify(f"Bearer {token()}")
    assert caller.role == "authenticated"
    assert caller.user_id == "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Basic dXNlcjpwYXNz", "malformed_token"),
        ("Bearer ", "malformed_token"),
        ("Bearer not-a-jwt", "malformed_token"),
    ],
)
async def test_missing_or_malformed_headers_are_refused(verifier, header, expected):
    assert await reason(verifier, header) == expected


async def test_expired_tokens_are_refused(verifier):
    assert await reason(verifier, f"Bearer {token(exp=int(time.time()) - 10)}") == "token_expired"


async def test_tokens_not_yet_valid_are_refused(verifier):
    bad = token(nbf=int(time.time()) + 600)
    assert await reason(verifier, f"Bearer {bad}") == "token_not_yet_valid"


async def test_a_token_signed_with_another_secret_is_refused(verifier):
    forged = token(secret="another-secret-that-is-also-long-enough-for-hs256")
    assert await reason(verifier, f"Bearer {forged}") == "bad_signature"


async def test_a_token_for_another_audience_is_refused(verifier):
    assert await reason(verifier, f"Bearer {token(aud='some-other-app')}") == "wrong_audience"


async def test_a_user_token_without_an_audience_is_refused(verifier):
    assert await reason(verifier, f"Bearer {token(aud=None)}") == "wrong_audience"


async def test_a_token_without_exp_is_refused(verifier):
    assert await reason(verifier, f"Bearer {token(exp=None)}") == "missing_claim"


async def test_anon_tokens_cannot_use_the_api(verifier):
    assert await reason(verifier, f"Bearer {token(role='anon')}") == "unsupported_role"


async def test_a_user_token_must_name_its_user(verifier):
    assert await reason(verifier, f"Bearer {token(sub=None)}") == "missing_claim"


async def test_the_service_key_needs_no_audience(verifier):
    caller = await verifier.verify(f"Bearer {token(role='service_role', aud=None, sub=None)}")
    assert caller.role == "service_role"


async def test_alg_none_is_refused(verifier):
    unsigned = jwt.encode({"role": "service_role", "exp": int(time.time()) + 60}, None, "none")
    assert await reason(verifier, f"Bearer {unsigned}") == "unsupported_algorithm"


async def test_asymmetric_tokens_without_a_jwks_url_are_refused(verifier):
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    rs = jwt.encode(
        {"sub": "x", "role": "authenticated", "aud": "authenticated", "exp": now + 60},
        key,
        algorithm="RS256",
    )
    assert await reason(verifier, f"Bearer {rs}") == "unsupported_algorithm"


async def test_a_remembered_token_still_expires():
    verifier = JwtVerifier(Settings(jwt_secret=SECRET, jwt_leeway_s=0))
    short = token(exp=int(time.time()) + 1)
    assert (await verifier.verify(f"Bearer {short}")).role == "authenticated"
    assert (await verifier.verify(f"Bearer {short}")).role == "authenticated"  # from memory
    await asyncio.sleep(2.1)
    assert await reason(verifier, f"Bearer {short}") == "token_expired"


async def test_only_the_exact_token_that_verified_is_remembered(verifier):
    good = token()
    await verifier.verify(f"Bearer {good}")
    head, _, signature = good.split(".")
    # The remembered token's signature on an elevated payload does not verify.
    elevated = token(role="service_role").split(".")[1]
    assert await reason(verifier, f"Bearer {head}.{elevated}.{signature}") == "bad_signature"
