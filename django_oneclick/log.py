"""A logging filter that masks card numbers in any log record, for shops to put on their handlers.

django-oneclick redacts what it logs itself; a shop's own code, a library or Django's error
reports may still log a request field a customer typed a card number into. Add the filter to every
handler::

    LOGGING = {
        "version": 1,
        "filters": {"no_card_numbers": {"()": "django_oneclick.log.CardNumberFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_card_numbers"]}},
        ...
    }
"""

from __future__ import annotations

import logging

from django_oneclick.redaction import mask_card_numbers


class CardNumberFilter(logging.Filter):
    """Rewrites each record's message (arguments merged in) and any exception text with card
    numbers masked to their last four digits. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_card_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_card_numbers(text)
            record.exc_info = None
        return True
