"""Unit tests of the redaction applied to every recorded exchange."""

import pytest

from django_oneclick.redaction import REDACTED, Redactor, mask_card_numbers

VISA = "4242424242424242"
AMEX = "378282246310005"  # 15 digits
NOT_LUHN = "4242424242424241"


@pytest.mark.parametrize("key", [
    "password", "Passwd", "client_secret", "access_token", "Authorization", "X-Api-Key", "apikey",
    "cvv", "CVC", "card_number", "cardNumber", "number", "pan", "encryptedCardNumber", "signature",
    "Cookie", "sessionId", "verification_value", "passwordHash",
])
def test_sensitive_keys_are_redacted_at_any_depth(key):
    data = {"outer": [{"inner": {key: "s3cr3t-value"}}], "amount": "10.00"}
    assert Redactor()(data) == {"outer": [{"inner": {key: REDACTED}}], "amount": "10.00"}


@pytest.mark.parametrize("key", ["amount", "currency", "order_id", "numbers_seen", "status", "label"])
def test_ordinary_keys_are_kept(key):
    assert Redactor()({key: "value"}) == {key: "value"}


def test_extra_keys_of_a_provider():
    redactor = Redactor(extra_keys=["Riskified-Fingerprint"])
    assert redactor({"riskified-fingerprint": "abc", "other": "abc"}) == {
        "riskified-fingerprint": REDACTED, "other": "abc",
    }


def test_known_secrets_are_removed_from_any_text():
    redactor = Redactor(secrets=["sk_test_ABCDEF123456", "", "abc"])
    data = {"url": "https://x.test/pay?key=sk_test_ABCDEF123456", "note": ["Bearer sk_test_ABCDEF123456!"]}
    assert redactor(data) == {"url": f"https://x.test/pay?key={REDACTED}", "note": [f"Bearer {REDACTED}!"]}
    # Secrets shorter than 4 characters are not searched for (they would mangle everything).
    assert redactor("abc") == "abc"


def test_longer_secret_is_replaced_before_a_shorter_one_it_contains():
    redactor = Redactor(secrets=["SECRET", "SECRET-PLUS-MORE"])
    assert redactor.text("x SECRET-PLUS-MORE y") == f"x {REDACTED} y"


@pytest.mark.parametrize(("text", "expected"), [
    (VISA, "[card •••• 4242]"),
    ("4242 4242 4242 4242", "[card •••• 4242]"),
    ("4242-4242-4242-4242", "[card •••• 4242]"),
    (f"card {AMEX} ok", "card [card •••• 0005] ok"),
    (f"pan={VISA}&x=1", "pan=[card •••• 4242]&x=1"),
    # A card number followed by the expiry month or the CVV must not slip through.
    ("Visa 4242 4242 4242 4242 12/26", "Visa [card •••• 4242] 12/26"),
    (f"{VISA} 123", "[card •••• 4242] 123"),
    (f"12 {VISA}", "12 [card •••• 4242]"),
])
def test_luhn_valid_card_numbers_are_masked(text, expected):
    assert mask_card_numbers(text) == expected
    assert Redactor()(text) == expected


@pytest.mark.parametrize("text", [
    NOT_LUHN,
    "order 1234567890123",  # 13 digits, not Luhn-valid
    "12345678901234567890123",  # too long to be a card number
    "phone +1 212 555 1234",
    "2026-11-25 12:00",
    "424242424242",  # 12 digits: too short
])
def test_other_digits_are_kept(text):
    assert mask_card_numbers(text) == text


def test_numbers_and_other_values_pass_through():
    assert Redactor()({"n": 4242424242424242, "ok": True, "none": None, "x": 1.5}) == {
        "n": "[card •••• 4242]", "ok": True, "none": None, "x": 1.5,
    }
    assert Redactor()(("a", b"4242424242424242")) == ["a", "b'[card •••• 4242]'"]
