/*
 * django-oneclick: progressive enhancement of the Buy-now form rendered by {% oneclick_button %}.
 *
 * Without this script the form posts to the buy view and the server redirects to the order page.
 * With it, the same form posts JSON to the API and follows the order in place:
 *  - one Idempotency-Key per purchase intent: kept when retrying after a network error or a 409
 *    (so a retry can never buy twice), replaced only once the order reached a final result;
 *  - the button is disabled while a purchase is under way (a double click sends one request);
 *  - progress and the result are written to the form's aria-live region.
 */
(() => {
  "use strict";

  const POLL_INTERVAL_MS = 1000;
  const MAX_POLLS = 45;
  const MAX_IN_FLIGHT_RETRIES = 10;
  const FIELD_LABELS = {
    product: "Product",
    quantity: "Quantity",
    payment_method: "Payment method",
    "Idempotency-Key": "Request",
  };

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** A random UUID v4, also where crypto.randomUUID is missing (older browsers, plain http). */
  function newIdempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  /** Only http(s) links from the provider, never javascript: and the like. */
  function safeUrl(url) {
    if (typeof url !== "string") return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  /** "Quantity: Choose a quantity from 1 to 20." for each message of a DRF error body. */
  function errorMessages(body) {
    if (!body || typeof body !== "object") return [];
    if (typeof body.detail === "string") return [body.detail];
    const lines = [];
    for (const [field, messages] of Object.entries(body)) {
      const label = field === "non_field_errors" ? "" : (FIELD_LABELS[field] || field) + ": ";
      for (const message of [].concat(messages)) lines.push(label + String(message));
    }
    return lines;
  }

  function enhance(form) {
    const button = form.querySelector("button[type=submit]");
    const status = document.getElementById(form.dataset.oneclickStatus);
    const placeholder = form.dataset.oneclickPlaceholder;
    const orderApiUrl = (id) => form.dataset.oneclickOrderApi.replace(placeholder, encodeURIComponent(id));
    const orderPageUrl = (id) => form.dataset.oneclickOrderPage.replace(placeholder, encodeURIComponent(id));
    let idempotencyKey = null;
    let busy = false;
    let shown = "";

    /** Write text and links ({text, href}) to the live region, only when they changed. */
    function show(...parts) {
      const signature = JSON.stringify(parts);
      if (signature === shown) return;
      shown = signature;
      status.replaceChildren(
        ...parts.map((part) => {
          if (typeof part === "string") return document.createTextNode(part);
          const link = document.createElement("a");
          link.href = part.href;
          link.textContent = part.text;
          return link;
        })
      );
    }

    /** Only the order's curated words (customer_message, progress): never a provider's text or state. */
    function showOrder(order) {
      const page = { text: "View your order", href: orderPageUrl(order.id) };
      switch (order.status) {
        case "completed":
          show(`Order completed: ${order.product_title} × ${order.quantity}. `, page);
          break;
        case "failed":
          show(`Payment failed: ${order.customer_message || "the order could not be placed."} `, page);
          break;
        case "requires_action": {
          const url = order.next_action && safeUrl(order.next_action.url);
          if (url) show("Confirm the payment to finish your order: ", { text: "Confirm the payment", href: url });
          else show("The payment needs your confirmation. ", page);
          break;
        }
        case "unknown":
          show("Checking the outcome with the payment provider… you will not be charged twice.");
          break;
        default:
          show(order.progress ? `${order.progress}…` : "Processing your order…");
      }
    }

    async function follow(order) {
      for (let polls = 0; ; polls += 1) {
        showOrder(order);
        if (order.is_final) {
          idempotencyKey = null; // the next click is a new purchase
          return;
        }
        if (polls >= MAX_POLLS) {
          if (order.status !== "requires_action") {
            show("Your order is still processing. ", { text: "See your order", href: orderPageUrl(order.id) });
          }
          return; // the key is kept: pressing again shows this order, never buys twice
        }
        await sleep(POLL_INTERVAL_MS);
        try {
          const response = await fetch(orderApiUrl(order.id), {
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          });
          const polled = response.ok ? await readJson(response) : null;
          if (polled && polled.id) order = polled;
        } catch {
          // A network blip while polling: try again on the next round.
        }
      }
    }

    async function purchase() {
      const fields = form.elements;
      const body = JSON.stringify({
        product: fields.product.value,
        quantity: Number(fields.quantity.value),
        payment_method: fields.payment_method.value ? Number(fields.payment_method.value) : null,
      });
      show("Placing your order…");
      for (let attempt = 0; ; attempt += 1) {
        let response;
        try {
          response = await fetch(form.dataset.oneclickApi, {
            method: "POST",
            credentials: "same-origin",
            headers: {
              Accept: "application/json",
              "Content-Type": "application/json",
              "Idempotency-Key": idempotencyKey,
              "X-CSRFToken": fields.csrfmiddlewaretoken.value,
            },
            body,
          });
        } catch {
          show("The shop could not be reached. Press the button again to retry: you will not be charged twice.");
          return;
        }
        const data = await readJson(response);
        if (response.ok && data) return follow(data);
        if (response.status === 409) {
          // The first request with this key is still being placed: ask again with the same key.
          if (attempt < MAX_IN_FLIGHT_RETRIES) {
            await sleep(POLL_INTERVAL_MS);
            continue;
          }
          const link = data && data.order ? [{ text: "See your order", href: orderPageUrl(data.order) }] : [];
          show("Your order is still being placed. ", ...link);
          return;
        }
        if (response.status >= 500 || response.status === 429) {
          const messages = errorMessages(data);
          show(messages.length ? messages.join(" ") : "The shop had a problem. Press the button again to retry: you will not be charged twice.");
          return;
        }
        // Refused (400 field errors, 422 key reused, 403 ...): nothing was bought with this key.
        idempotencyKey = null;
        const messages = errorMessages(data);
        show(messages.length ? messages.join(" ") : `The order could not be placed (error ${response.status}).`);
        return;
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      idempotencyKey = idempotencyKey || newIdempotencyKey();
      try {
        await purchase();
      } finally {
        busy = false;
        button.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
  }

  document.querySelectorAll("form[data-oneclick]").forEach(enhance);
})();
