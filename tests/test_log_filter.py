"""The logging filter shops put on their handlers: card numbers never reach a log line."""

import logging

from django_oneclick.log import CardNumberFilter

PAN = "4242 4242 4242 4242"


def format_through_filter(record):
    CardNumberFilter().filter(record)
    return logging.Formatter("%(message)s").format(record)


def make_record(msg, args=None, exc_info=None):
    return logging.LogRecord("shop", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_a_card_number_in_the_message_or_its_arguments_is_masked():
    line = format_through_filter(make_record("form posted card=%s note=%s", (PAN, "hi")))

    assert PAN not in line and "4242 4242" not in line
    assert "[card •••• 4242]" in line and "note=hi" in line


def test_a_card_number_in_an_exception_is_masked():
    try:
        int(f"card {PAN}")
    except ValueError as exc:
        record = make_record("failed", exc_info=(type(exc), exc, exc.__traceback__))

    line = format_through_filter(record)

    assert PAN not in line and "[card •••• 4242]" in line and "ValueError" in line


def test_a_record_without_card_data_is_left_as_it_is():
    record = make_record("order %s placed", ("abc",))

    assert format_through_filter(record) == "order abc placed"
    assert record.args == ("abc",)
