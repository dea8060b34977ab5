"""The card as Firmly takes it: a compact JWE (RSA-OAEP-256 + A256GCM) for Firmly's public key.

The browser card form (``firmly-card.js``) builds it with WebCrypto; :func:`encrypt_card` builds
the same token for shops allowed to handle card numbers (and for the tests). :func:`jwe_header`
checks the shape of a token the shop receives, without being able to decrypt it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from jwcrypto import jwe, jwk

JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256GCM"
#: What the card JSON inside the JWE holds (Firmly's documented card object).
CARD_FIELDS = ("number", "name", "verification_value", "month", "year")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def encrypt_card(card: Mapping[str, str], jwk_data: Mapping[str, Any]) -> str:
    """The card as Firmly wants it: a compact JWE of its JSON for Firmly's public key.

    For shops allowed to handle card numbers; others use the browser card form, which builds
    the same JWE with WebCrypto. ``jwk_data`` is Firmly's JWK (which may lack ``alg``).
    """
    missing = [name for name in CARD_FIELDS if not card.get(name)]
    if missing:
        raise ValueError(f"The card lacks {', '.join(missing)}.")
    key = jwk.JWK(kty="RSA", n=jwk_data["n"], e=jwk_data["e"])
    plaintext = json.dumps({name: str(card[name]) for name in CARD_FIELDS})
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": str(jwk_data["kid"])}
    token = jwe.JWE(plaintext.encode(), protected=json.dumps(header))
    token.add_recipient(key)
    return token.serialize(compact=True)


def _b64decode(part: str) -> bytes:
    if not _B64URL.match(part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwe_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE made for Firmly, after checking its shape:
    five parts, RSA-OAEP-256 + A256GCM, a ``kid``, a 96-bit IV and a 128-bit tag."""
    parts = token.split(".")
    if len(parts) != 5 or not all(parts[:2]) or not all(parts[2:]):
        raise ValueError("A compact JWE has five non-empty parts.")
    try:
        header = json.loads(_b64decode(parts[0]))
        encrypted_key, iv, ciphertext, tag = (_b64decode(part) for part in parts[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"The JWE is not valid base64url JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ValueError("The JWE header is not a JSON object.")
    if header.get("alg") != JWE_ALG or header.get("enc") != JWE_ENC:
        raise ValueError(f"The JWE must use alg {JWE_ALG} and enc {JWE_ENC}.")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise ValueError("The JWE header has no kid.")
    if len(iv) != 12 or len(tag) != 16:
        raise ValueError("The JWE needs a 96-bit IV and a 128-bit tag for A256GCM.")
    if len(encrypted_key) < 128 or not ciphertext:
        raise ValueError("The JWE lacks an RSA-wrapped key or a ciphertext.")
    return header
