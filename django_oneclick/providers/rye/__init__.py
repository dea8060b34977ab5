"""Rye Universal Checkout (see provider.py); the customer's words are in words.py."""

from django_oneclick.providers.rye.provider import (
    BUYER_KEYS,
    INTENTS_PATH,
    PRODUCTION_BASE_URL,
    PURCHASE_PATH,
    STAGING_BASE_URL,
    RyeOptions,
    RyeProvider,
    payment_method_body,
    rye_buyer_problems,
)
from django_oneclick.providers.rye.words import FAILURE_MESSAGES, INTENT_STEPS

__all__ = [
    "BUYER_KEYS",
    "FAILURE_MESSAGES",
    "INTENTS_PATH",
    "INTENT_STEPS",
    "PRODUCTION_BASE_URL",
    "PURCHASE_PATH",
    "STAGING_BASE_URL",
    "RyeOptions",
    "RyeProvider",
    "payment_method_body",
    "rye_buyer_problems",
]
