"""Signals a shop connects to for fulfilment. Each is sent once per order, by the process that
moved the order into that state. Arguments: ``order`` and ``previous_status``."""

from django.dispatch import Signal

order_status_changed = Signal()
order_completed = Signal()
order_failed = Signal()
