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
    # Two whole seconds ahead: with +1, a slow machine could pass the truncated exp before
    # the first verify (the full suite saw it once).
    exp = int(time.time()) + 2
    short = token(exp=exp)
    assert (await verifier.verify(f"Bearer {short}")).role == "authenticated"
    assert (await verifier.verify(f"Bearer {short}")).role == "authenticated"  # from memory
    await asyncio.sleep(exp - time.time() + 0.1)
    assert await reason(verifier, f"Bearer {short}") == "token_expired"


async def test_only_the_exact_token_that_verified_is_remembered(verifier):
    good = token()
    await verifier.verify(f"Bearer {good}")
    head, _, signature = good.split(".")
    # The remembered token's signature on an elevated payload does not verify.
    elevated = token(role="service_role").split(".")[1]
    assert await reason(verifier, f"Bearer {head}.{elevated}.{signature}") == "bad_signature"


# Claim types are checked strictly: whatever the database or the adapter reads has the type it
# expects, so an odd token is a 401 with a stable reason, never a 500 or a database error.
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"role": ["authenticated"]}, "invalid_claim"),
        ({"role": {"authenticated": 1}}, "invalid_claim"),
        ({"role": 1}, "invalid_claim"),
        ({"role": "postgres"}, "unsupported_role"),
        ({"role": "supabase_admin"}, "unsupported_role"),
        ({"aud": {"authenticated": 1}}, "invalid_claim"),
        ({"aud": ["authenticated", 1]}, "invalid_claim"),
        ({"aud": 1}, "invalid_claim"),
        ({"aud": []}, "wrong_audience"),
        ({"sub": "not-a-uuid"}, "invalid_claim"),
        ({"sub": "00000000-0000-4000-8000-000000000001'; drop table x; --"}, "invalid_claim"),
        ({"sub": "urn:uuid:00000000-0000-4000-8000-000000000001"}, "invalid_claim"),
        ({"sub": "{00000000-0000-4000-8000-000000000001}"}, "invalid_claim"),
        ({"sub": 42}, "invalid_claim"),
        ({"sub": ["00000000-0000-4000-8000-000000000001"]}, "invalid_claim"),
        ({"sub": ""}, "missing_claim"),
        ({"exp": "99999999999"}, "invalid_claim"),
        ({"exp": True}, "invalid_claim"),
        ({"exp": [99999999999]}, "invalid_claim"),
        ({"nbf": "0"}, "invalid_claim"),
        ({"nbf": {"t": 0}}, "invalid_claim"),
        ({"iat": "now"}, "invalid_claim"),
        ({"iat": False}, "invalid_claim"),
        ({"email": ["owner@demo-merchant.test"]}, "invalid_claim"),
        ({"email": 7}, "invalid_claim"),
    ],
)
async def test_claims_of_the_wrong_type_are_refused(verifier, overrides, expected):
    assert await reason(verifier, f"Bearer {token(**overrides)}") == expected


@pytest.mark.parametrize("claim", ["email", "iat", "nbf", "aud", "role"])
async def test_a_null_claim_counts_as_present(verifier, claim):
    # token() drops None values, so encode by hand: a JSON null is not a string or a number.
    now = int(time.time())
    claims = {
        "sub": "00000000-0000-4000-8000-000000000001",
        "role": "authenticated",
        "aud": "authenticated",
        "exp": now + 300,
        claim: None,
    }
    raw = jwt.encode(claims, SECRET, algorithm="HS256")
    # PyJWT counts a required claim that is null as missing; a user token needs its audience.
    expected = {"aud": "wrong_audience", "role": "missing_claim"}.get(claim, "invalid_claim")
    assert await reason(verifier, f"Bearer {raw}") == expected


async def test_well_typed_optional_claims_pass(verifier):
    now = time.time()
    caller = await verifier.verify(
        "Bearer "
        + token(
            aud=["other", "authenticated"],
            email="owner@demo-merchant.test",
            exp=now + 300.5,  # NumericDate may carry a fraction
            nbf=now - 1,
            sub="00000000-0000-4000-8000-00000000ABCD",
        )
    )
    assert caller.role == "authenticated" and caller.claims["email"] == "owner@demo-merchant.test"


async def test_a_service_token_with_a_sub_must_name_a_uuid(verifier):
    bad = token(role="service_role", aud=None, sub="service")
    assert await reason(verifier, f"Bearer {bad}") == "invalid_claim"
    good = token(role="service_role", aud=None, sub="00000000-0000-4000-8000-000000000009")
    assert (await verifier.verify(f"Bearer {good}")).role == "service_role"


@pytest.mark.parametrize("claim", ["api_key_id", "merchant_id", "key_mode"])
@pytest.mark.parametrize("role", ["authenticated", "service_role"])
async def test_adapter_only_claims_cannot_come_from_a_token(verifier, claim, role):
    value = "00000000-0000-4000-8000-0000000000aa" if claim != "key_mode" else "live"
    forged = token(role=role, **{claim: value})
    assert await reason(verifier, f"Bearer {forged}") == "reserved_claim"
    # ... even with a null value: the database tests for the key's presence.
    now = int(time.time())
    raw = jwt.encode(
        {
            "sub": "00000000-0000-4000-8000-000000000001",
            "role": role,
            "aud": "authenticated",
            "exp": now + 60,
            claim: None,
        },
        SECRET,
        algorithm="HS256",
    )
    assert await reason(verifier, f"Bearer {raw}") == "reserved_claim"


async def test_an_iat_in_the_future_is_not_yet_valid(verifier):
    assert await reason(verifier, f"Bearer {token(iat=int(time.time()) + 600)}") == (
        "token_not_yet_valid"
    )


async def test_the_leeway_still_applies_to_the_times():
    verifier = JwtVerifier(Settings(jwt_secret=SECRET, jwt_leeway_s=30))
    now = int(time.time())
    assert (await verifier.verify(f"Bearer {token(exp=now - 10)}")).role == "authenticated"
    assert (await verifier.verify(f"Bearer {token(nbf=now + 10)}")).role == "authenticated"
    assert await reason(verifier, f"Bearer {token(exp=now - 60)}") == "token_expired"


class LifetimeSettings(Settings):
    """Settings with the maximum-lifetime field (the lead adds it to settings.py)."""

    jwt_max_lifetime_s: int | None = None


async def test_without_a_maximum_lifetime_long_tokens_pass(verifier):
    now = int(time.time())
    assert (await verifier.verify(f"Bearer {token(exp=now + 10 * 365 * 86400)}")).role
    assert (await verifier.verify(f"Bearer {token(iat=None)}")).role == "authenticated"


async def test_a_token_living_longer_than_the_maximum_is_refused():
    verifier = JwtVerifier(LifetimeSettings(jwt_secret=SECRET, jwt_max_lifetime_s=3600))
    now = int(time.time())
    long_lived = token(iat=now, exp=now + 3601)
    assert await reason(verifier, f"Bearer {long_lived}") == "token_lifetime_too_long"
    # A token issued long ago and still valid is judged on exp - iat, not on what is left.
    old = token(iat=now - 7000, exp=now + 100)
    assert await reason(verifier, f"Bearer {old}") == "token_lifetime_too_long"
    assert await reason(verifier, f"Bearer {token(iat=None)}") == "token_lifetime_too_long"
    exactly = token(iat=now, exp=now + 3600)
    assert (await verifier.verify(f"Bearer {exactly}")).role == "authenticated"


async def test_the_maximum_lifetime_applies_to_service_tokens_too():
    verifier = JwtVerifier(LifetimeSettings(jwt_secret=SECRET, jwt_max_lifetime_s=3600))
    now = int(time.time())
    service = token(role="service_role", aud=None, sub=None, iat=now, exp=now + 10 * 365 * 86400)
    assert await reason(verifier, f"Bearer {service}") == "token_lifetime_too_long"


async def test_a_refused_token_is_not_remembered(verifier):
    forged = token(merchant_id="00000000-0000-4000-8000-0000000000aa")
    for _ in range(2):
        assert await reason(verifier, f"Bearer {forged}") == "reserved_claim"
