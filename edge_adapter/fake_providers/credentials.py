"""The credentials each fake provider accepts; anything else gets the provider's own
rejection. The seeded sandbox gateway uses the sandbox's pair."""

import json

FAKE_CREDENTIALS: dict[str, dict[str, str]] = {
    "sandbox": {
        "api_key": "sandbox_key_demo",
        "api_secret": "sandbox_secret_demo",
        "webhook_secret": "whsec_ZmFrZS1zYW5kYm94LXdlYmhvb2stc2lnbmluZy1rMDE=",
    },
    "razorpay": {
        "key_id": "rzp_test_fakeKey01",
        "key_secret": "fake_razorpay_secret_01",
        "webhook_secret": "fake_razorpay_webhook_secret_01",
    },
    "cashfree": {"client_id": "TEST_fake_app_id", "client_secret": "cfsk_ma_test_fake_secret"},
    "payu": {"merchant_key": "fakeKy", "merchant_salt": "fakeSaltValue123"},
    "phonepe": {
        "client_id": "FAKE_CLIENT",
        "client_version": "1",
        "client_secret": "fake-phonepe-secret",
        "webhook_username": "fake_phonepe_hook_user",
        "webhook_password": "fake-phonepe-hook-password",
    },
    "paytm": {"mid": "FAKEMID12345678", "merchant_key": "fake&merchant#16"},
    "stripe": {
        "secret_key": "sk_test_fake_stripe_secret",
        "webhook_secret": "whsec_fake_stripe_webhook_secret_01",
    },
}


def overrides(base: str) -> str:
    """LSP_PROVIDER_BASE_URLS for a fake server at `base`."""
    return json.dumps({p: f"{base}/{p}" for p in FAKE_CREDENTIALS})
