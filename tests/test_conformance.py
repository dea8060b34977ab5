"""The money rules, for every built-in provider against its fake (django_oneclick.testing.conformance).

``ONECLICK_UPDATE_README=1 pytest tests/test_conformance.py`` rewrites the README's table of
faults and final states from the scenarios' outcomes.
"""

import os
from pathlib import Path

import pytest

from django_oneclick.testing import billerix, digitalriver, firmly, rye
from django_oneclick.testing import conformance as cf
from django_oneclick.testing.profiles import PROFILES
from tests.echo import fake as echo
from tests.echo.profile import EchoProfile

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent / "README.md"
#: The built-in providers (the README's table) and the providers of the tests (tests/echo/).
SCENARIO_PROFILES = [*PROFILES, EchoProfile()]
BY_NAME = {profile.name: profile for profile in SCENARIO_PROFILES}
FAILURES = [(profile, name) for profile in SCENARIO_PROFILES for name in profile.failures]
FAULTS = [(profile, fault) for profile in SCENARIO_PROFILES for fault in profile.after_send_faults]


def by_name(parameter):
    return getattr(parameter, "name", parameter)


def assert_never_on_two_orders(outcome):
    """One provider order never settles two of our orders, and ours are the provider's."""
    ids = outcome.provider_order_ids
    assert len(ids) == len(set(ids)), ids
    assert set(ids) <= set(outcome.provider_orders), (ids, outcome.provider_orders)


def assert_reconciled_by_lookup(profile, outcome):
    """The fake acted on the purchase once; the answer was lost; status refreshes (never a
    second purchase) led to the provider's documented lookup result."""
    assert outcome.states[0] == "unknown", "an answer lost after sending is neither failed nor completed"
    assert outcome.purchases_sent == 1, "reconciled by lookup, never by a second purchase"
    assert len(outcome.provider_orders) == 1, "the fake acted on the purchase"
    assert outcome.final == profile.lost_answer
    if outcome.status == "completed":
        assert outcome.provider_order_ids == outcome.provider_orders, "settled with the order the provider holds"
    else:
        assert outcome.provider_order_ids == ()
    assert set(outcome.orders[-1].candidates) <= set(outcome.provider_orders)


@pytest.mark.parametrize("profile", SCENARIO_PROFILES, ids=by_name)
def test_a_purchase_completes(profile):
    outcome = cf.purchase_completes(profile)

    assert outcome.final == cf.Expected(profile.purchase_states)
    assert outcome.purchases_sent == 1
    assert len(outcome.provider_orders) == 1
    assert outcome.provider_order_ids == outcome.provider_orders


@pytest.mark.parametrize(("profile", "failure"), FAILURES, ids=[f"{p.name}-{name}" for p, name in FAILURES])
def test_each_failure_ends_in_its_defined_state_and_code(profile, failure):
    spec = profile.failures[failure]

    outcome = cf.documented_failure(profile, failure)

    assert outcome.final == spec.expected
    assert outcome.purchases_sent == spec.purchases_sent
    assert len(outcome.provider_orders) == spec.provider_orders, "nothing placed unless the provider keeps it"
    assert_never_on_two_orders(outcome)
    if "failed" in outcome.states and not spec.documented:
        # "Nothing was charged" only on the provider's word: its complete records, after the wait.
        assert (outcome.states[-2:], outcome.error_code) == ((cf.WAIT, "failed"), "not_placed")


@pytest.mark.parametrize(("profile", "fault"), FAULTS, ids=[f"{p.name}-{fault}" for p, fault in FAULTS])
def test_an_answer_lost_after_sending_is_unknown_then_reconciled_by_lookup(profile, fault):
    outcome = cf.after_send_fault(profile, fault)

    assert_reconciled_by_lookup(profile, outcome)


@pytest.mark.parametrize("profile", SCENARIO_PROFILES, ids=by_name)
def test_a_lost_answer_clicked_again_is_one_order_reconciled_by_lookup(profile):
    outcome = cf.lost_answer_reconciled(profile)

    assert len(outcome.orders) == 1
    assert_reconciled_by_lookup(profile, outcome)


@pytest.mark.parametrize("profile", SCENARIO_PROFILES, ids=by_name)
def test_the_same_product_twice_never_lands_one_provider_order_on_two_orders(profile):
    outcome = cf.same_product_twice(profile)

    first, second = outcome.orders
    assert first.final == cf.Expected(profile.purchase_states)
    assert second.final == profile.lost_answer
    assert outcome.purchases_sent == 2
    assert len(outcome.provider_orders) == 2
    assert_never_on_two_orders(outcome)
    assert first.provider_order_id not in second.candidates, "an order settling another is no candidate"


@pytest.mark.parametrize(
    ("name", "documented"),
    [
        ("digitalriver", set(digitalriver.ERRORS)),
        ("billerix", set(billerix.ERRORS) | {f"charge_result_{code}" for code in billerix.CHARGE_FAILURES}),
        ("rye", set(rye.FAILURE_REASONS)),
        ("firmly", set(firmly.ERROR_DESCRIPTIONS)),
        ("echo", set(echo.ERRORS)),
    ],
)
def test_every_failure_a_fake_documents_has_a_scenario(name, documented):
    assert documented <= set(BY_NAME[name].failures)


def test_the_readme_table_is_what_the_scenarios_show():
    table = cf.render_table(PROFILES, cf.table_outcomes(PROFILES))
    text = README.read_text(encoding="utf-8")
    if os.environ.get("ONECLICK_UPDATE_README") == "1":
        text = cf.replace_table(text, table)
        README.write_text(text, encoding="utf-8")

    assert cf.table_in(text) == table, "run ONECLICK_UPDATE_README=1 pytest tests/test_conformance.py"
