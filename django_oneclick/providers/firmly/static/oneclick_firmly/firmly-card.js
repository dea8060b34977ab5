/*
 * django-oneclick: the Firmly card form ({% firmly_card_form %}).
 * Firmly's public key comes from the shop's key view (the form's data-key-url), fetched when the
 * page loads and again on saving if that failed. The card is encrypted here, in the browser, as a
 * compact JWE for that key (RSA-OAEP-256 wraps a random AES-256-GCM key), with WebCrypto and no
 * library. Only the JWE, its key id, the brand, the last four digits and the expiry are sent to
 * the shop.
 */
(function () {
  "use strict";
  const utf8 = new TextEncoder();

  /* Firmly's key could not be had: card entry is unavailable for now. */
  class KeyUnavailable extends Error {}

  /* Firmly's public JWK ({kid, kty, n, e}) from the key view. */
  async function fetchKey(form) {
    const response = await fetch(form.dataset.keyUrl, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    }).catch(() => null);
    if (!response || !response.ok) throw new KeyUnavailable(form.dataset.unavailable);
    return response.json();
  }

  function base64url(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach((byte) => { text += String.fromCharCode(byte); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /* The card object ({number, name, verification_value, month, year}) as a compact JWE. */
  async function encryptCard(card, jwk) {
    const header = base64url(utf8.encode(JSON.stringify({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: jwk.kid })));
    const rsaKey = await crypto.subtle.importKey(
      "jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RSA-OAEP-256", ext: true },
      { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
    const contentKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt"]);
    const wrappedKey = await crypto.subtle.encrypt(
      { name: "RSA-OAEP" }, rsaKey, await crypto.subtle.exportKey("raw", contentKey));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: utf8.encode(header), tagLength: 128 },
      contentKey, utf8.encode(JSON.stringify(card))));
    const ciphertext = sealed.slice(0, -16), tag = sealed.slice(-16);
    return [header, base64url(wrappedKey), base64url(iv), base64url(ciphertext), base64url(tag)].join(".");
  }

  function luhnValid(digits) {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let digit = Number(digits[digits.length - 1 - i]);
      if (i % 2) { digit *= 2; if (digit > 9) digit -= 9; }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function brandOf(number) {
    if (/^4/.test(number)) return "visa";
    if (/^(5[1-5]|2[2-7])/.test(number)) return "mastercard";
    if (/^3[47]/.test(number)) return "amex";
    if (/^6(011|5)/.test(number)) return "discover";
    return "card";
  }

  /* The card from the inputs, or an error message for the customer. */
  function readCard(form) {
    const value = (name) => form.querySelector(`[data-card="${name}"]`).value.trim();
    const number = value("number").replace(/[\s-]/g, ""), month = value("month").padStart(2, "0");
    const year = value("year"), cvc = value("verification_value"), now = new Date();
    if (!value("name")) return { error: "Enter the name on the card." };
    if (!/^\d{13,19}$/.test(number) || !luhnValid(number)) return { error: "Check the card number." };
    if (!/^(0[1-9]|1[0-2])$/.test(month) || !/^\d{4}$/.test(year)) return { error: "Enter the expiry as MM and YYYY." };
    if (Number(year) * 12 + Number(month) < now.getFullYear() * 12 + now.getMonth() + 1) return { error: "This card has expired." };
    if (!/^\d{3,4}$/.test(cvc)) return { error: "Check the security code." };
    return { card: { number: number, name: value("name"), verification_value: cvc, month: month, year: year } };
  }

  async function save(form, status, key) {
    const { card, error } = readCard(form);
    if (error) { status.textContent = error; return; }
    const jwk = await key;
    const details = {
      jwe: await encryptCard(card, jwk), kid: jwk.kid, brand: brandOf(card.number),
      last4: card.number.slice(-4), exp_month: Number(card.month), exp_year: Number(card.year),
    };
    form.querySelectorAll("[data-card]").forEach((input) => { input.value = ""; });
    const response = await fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value },
      body: JSON.stringify({ provider: form.dataset.provider, data: details }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      status.textContent = Object.values(answer).flat().join(" ") || "The card could not be saved.";
      return;
    }
    status.textContent = `Saved: ${answer.label}.`;
    form.dataset.saved = String(answer.id);
    if (form.dataset.next) window.location.assign(form.dataset.next);
  }

  document.querySelectorAll("form[data-firmly-card-form]").forEach((form) => {
    const status = form.querySelector("[data-card-status]"), button = form.querySelector("button");
    let key = fetchKey(form);
    key.catch((error) => { status.textContent = error.message; });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      button.disabled = true;
      status.textContent = "Encrypting and saving your card…";
      key = key.catch(() => fetchKey(form));  // the key failed before: ask once more
      save(form, status, key)
        .catch((error) => {
          status.textContent = error instanceof KeyUnavailable
            ? error.message : "The card could not be saved. Please try again.";
        })
        .finally(() => { button.disabled = false; });
    });
  });
})();
