"""The background refresh task: unsettled orders reach a final state through Django's Tasks
framework (a deferring backend: the dummy one, run here the way a worker would)."""

from datetime import timedelta
from importlib.util import find_spec

import pytest
from django.utils import timezone

from django_oneclick.models import OneClickOrder
from django_oneclick.tasks import GAVE_UP, recover_interrupted_order_task, refresh_order_task, schedule_refresh
from tests import test_provider_rye
from tests.conftest import add_method
from tests.test_provider_rye import ORDERS, add_rye_method, buy, purchases, status_fetches

rye_fake = test_provider_rye.rye_fake
rye = test_provider_rye.rye

TASKS_MODULE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
BACKOFF = (timedelta(seconds=10), timedelta(seconds=30), timedelta(minutes=2))


@pytest.fixture
def worker(settings):
    """A task backend that defers tasks, and a worker that runs whatever it holds."""
    settings.TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}}
    settings.ONECLICK = {**settings.ONECLICK, "REFRESH_BACKOFF": BACKOFF, "REFRESH_MAX_ATTEMPTS": 5}
    return Worker(refresh_order_task.get_backend())


class Worker:
    def __init__(self, backend):
        self.backend = backend
        self.delays = []

    def _of(self, task):
        return [r for r in self.backend.results if r.task.func is task.func]

    @property
    def queued(self):
        """Queued status checks (the one-off interruption checks are in ``recoveries``)."""
        return self._of(refresh_order_task)

    @property
    def recoveries(self):
        return self._of(recover_interrupted_order_task)

    def run(self, limit=50):
        """Run queued status checks in order, each as if its ``run_after`` had come; returns the count."""
        ran = 0
        while self.queued and ran < limit:
            result = self.queued[0]
            self.backend.results.remove(result)
            self.delays.append(result.task.run_after - result.enqueued_at)
            result.task.call(*result.args, **result.kwargs)
            ran += 1
        return ran


def place(api, django_capture_on_commit_callbacks, **body):
    with django_capture_on_commit_callbacks(execute=True):
        response = buy(api, **body)
    assert response.status_code == 201, response.content
    return response.json()


def rounded(delays):
    return [round(delay.total_seconds()) for delay in delays]


@pytest.mark.django_db
def test_a_rye_order_completes_in_the_background(api, customer, rye, worker, django_capture_on_commit_callbacks):
    add_rye_method(customer)
    data = place(api, django_capture_on_commit_callbacks)
    assert data["status"] == "processing"
    assert status_fetches(rye) == [], "the purchase request returns without polling"
    assert [r.args for r in worker.queued] == [[data["id"]]]
    assert worker.run() == 2
    order = api.get(f"{ORDERS}{data['id']}/").json()
    intent = next(iter(rye.intents.values()))
    assert (order["status"], order["provider_order_id"]) == ("completed", intent.order_id)
    assert rounded(worker.delays) == [10, 30]
    assert worker.queued == []


@pytest.mark.django_db
def test_a_rye_order_fails_in_the_background(api, customer, rye, worker, django_capture_on_commit_callbacks):
    add_rye_method(customer)
    rye.fail_next_purchase("product_out_of_stock")
    data = place(api, django_capture_on_commit_callbacks)
    worker.run()
    order = api.get(f"{ORDERS}{data['id']}/").json()
    assert (order["status"], order["error_code"]) == ("failed", "rye_product_out_of_stock")
    assert order["customer_message"] == "This product is out of stock."
    assert worker.queued == []


@pytest.mark.django_db
def test_a_timed_out_purchase_is_reconciled_in_the_background(
    api, customer, rye, worker, django_capture_on_commit_callbacks
):
    add_rye_method(customer)
    rye.hang_seconds = 2
    rye.fail_next("timeout")
    data = place(api, django_capture_on_commit_callbacks)
    assert data["status"] == "unknown"
    worker.run()
    assert OneClickOrder.objects.get(public_id=data["id"]).status == "completed"
    assert len(purchases(rye)) == 1


@pytest.mark.django_db
def test_the_bound_stops_checking_and_leaves_a_clear_state(
    api, customer, rye, worker, django_capture_on_commit_callbacks
):
    add_rye_method(customer)
    rye.plan_next("retrieving_offer", *["placing_order"] * 20, "completed")
    data = place(api, django_capture_on_commit_callbacks)
    assert worker.run() == 5
    assert worker.queued == []
    order = OneClickOrder.objects.get(public_id=data["id"])
    assert (order.status, order.error_code, order.refresh_attempts) == ("processing", GAVE_UP, 5)
    assert "Still processing after 5 background status checks" in order.error_message
    assert order.provider_order_id in order.error_message
    assert rounded(worker.delays) == [10, 30, 120, 120, 120]


@pytest.mark.django_db
def test_failed_fetches_count_once_towards_the_bound(api, customer, rye, worker, django_capture_on_commit_callbacks):
    add_rye_method(customer)
    data = place(api, django_capture_on_commit_callbacks)
    for _ in range(3):
        rye.reject_next(503, **{"Retry-After": "5"})
    assert worker.run(limit=3) == 3
    order = OneClickOrder.objects.get(public_id=data["id"])
    assert (order.status, order.refresh_attempts) == ("processing", 3)
    assert len(worker.queued) == 1
    worker.run()
    assert OneClickOrder.objects.get(public_id=data["id"]).status == "completed"


@pytest.mark.django_db
def test_an_async_sandbox_order_is_refreshed_the_same_way(api, customer, worker, django_capture_on_commit_callbacks):
    add_method(customer, "async")
    data = place(api, django_capture_on_commit_callbacks, product="book")
    assert data["status"] == "processing"
    assert worker.run() == 1
    assert OneClickOrder.objects.get(public_id=data["id"]).status == "completed"


@pytest.mark.django_db
def test_settled_orders_enqueue_nothing(api, customer, worker, django_capture_on_commit_callbacks):
    add_method(customer, "approved")
    assert place(api, django_capture_on_commit_callbacks, product="book")["status"] == "completed"
    assert worker.queued == []


@pytest.mark.django_db
def test_a_backend_that_cannot_defer_never_polls_in_the_request(
    api, customer, rye, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"}}
    add_rye_method(customer)
    data = place(api, django_capture_on_commit_callbacks)
    assert data["status"] == "processing"
    assert status_fetches(rye) == []
    assert schedule_refresh(OneClickOrder.objects.get(public_id=data["id"])) is False


@pytest.mark.django_db
def test_a_broken_task_backend_does_not_break_the_purchase(
    api, customer, rye, settings, caplog, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "no.such.Backend"}}
    add_rye_method(customer)
    data = place(api, django_capture_on_commit_callbacks)
    assert data["status"] == "processing"
    assert "could not be enqueued" in caplog.text


@pytest.mark.django_db
def test_the_task_ignores_an_order_that_is_gone_or_settled(customer, worker):
    assert refresh_order_task.call("00000000-0000-0000-0000-000000000000") == "missing"
    order = OneClickOrder.objects.create(
        owner=customer, provider="sandbox", product_reference="book", product_title="A good book",
        provider_product_id="book", quantity=1, unit_price=1, total=1, currency="EUR", status="completed",
        idempotency_key="k", request_fingerprint="f", created_at=timezone.now(),
    )
    assert refresh_order_task.call(str(order.public_id)) == "completed"
    assert worker.queued == []


@pytest.mark.django_db
def test_the_providers_retry_hint_is_honoured(api, customer, rye, worker, django_capture_on_commit_callbacks):
    add_rye_method(customer)
    place(api, django_capture_on_commit_callbacks)
    rye.reject_next(429, **{"Retry-After": "600"})
    worker.run(limit=1)
    assert [round((r.task.run_after - r.enqueued_at).total_seconds()) for r in worker.queued] == [600]


@pytest.mark.django_db
def test_an_order_interrupted_mid_call_is_recovered_once_it_is_stale(
    api, customer, worker, monkeypatch, django_capture_on_commit_callbacks
):
    """The process dies during the provider call: the order stays pending, and the check that
    was enqueued when it was written reconciles it (the sandbox never saw it: not placed)."""
    from django_oneclick.providers.sandbox import SandboxProvider

    def die(self, request, log):
        raise SystemExit("worker killed")

    add_method(customer, "approved")
    monkeypatch.setattr(SandboxProvider, "purchase", die)
    with pytest.raises(SystemExit):
        buy(api, product="book")
    order = OneClickOrder.objects.get()
    assert order.status == "pending"
    [recovery] = worker.recoveries
    assert round((recovery.task.run_after - recovery.enqueued_at).total_seconds()) == 300
    OneClickOrder.objects.filter(pk=order.pk).update(created_at=order.created_at - timedelta(minutes=6))
    recovery.task.call(*recovery.args)
    order.refresh_from_db()
    assert (order.status, order.error_code) == ("failed", "not_placed")


@pytest.mark.django_db
def test_the_recovery_check_leaves_an_order_that_was_not_interrupted_alone(
    api, customer, worker, django_capture_on_commit_callbacks
):
    add_method(customer, "approved")
    data = place(api, django_capture_on_commit_callbacks, product="book")
    [recovery] = worker.recoveries
    assert recovery.task.call(*recovery.args) == "not needed"
    assert OneClickOrder.objects.get(public_id=data["id"]).status == "completed"
