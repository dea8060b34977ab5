"""Signals a shop connects to for fulfilment. Each is sent once per order, by the process that
moved the order into that state. Arguments: ``order`` and ``previous_status``."""

from django.dispatch import Signal

order_status_changed = Signal()
order_completed = Signal()
order_failed = Signal()

#: The provider reported an order (it may charge) for an order already settled ``failed``: an
#: operator must refund or fulfil. Arguments: ``order`` and ``provider_order_id`` (may be empty).
late_charge_detected = Signal()
