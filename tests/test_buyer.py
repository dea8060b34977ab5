"""The common checks of a buyer's shipping details, shared by the providers that ship goods."""

from dataclasses import replace

import pytest

from django_oneclick.providers.base import Buyer, buyer_problems

GOOD = Buyer("Ada", "Lovelace", "ada@example.com", "+44 20 7946 0958", "1 Main St", "London", "LDN", "N1 9GU", "GB")


def test_a_complete_buyer_has_no_problems():
    assert buyer_problems(GOOD) == []


def test_no_buyer_is_asked_for_an_address():
    assert buyer_problems(None) == ["Add a shipping address to your account before buying."]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"city": " ", "first_name": ""}, "Your shipping details lack: first name, city."),
        ({"email": "ada@"}, "Enter a valid email address."),
        ({"phone": "12 34"}, "Enter a phone number with 8 to 15 digits, country code included."),
        ({"phone": "+1 212 555 1234 56789"}, "Enter a phone number with 8 to 15 digits, country code included."),
        ({"country": "GBR"}, "Use a two-letter country code such as US."),
        ({"address2": "x" * 256}, "Shorten your address2 to 255 characters."),
    ],
)
def test_each_problem_is_named(change, expected):
    assert buyer_problems(replace(GOOD, **change)) == [expected]
