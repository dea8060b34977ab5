"""The strict Content-Security-Policy that the test settings and the example shop send, and how a
test reads one from a response header."""

from __future__ import annotations

HEADER = "Content-Security-Policy"

#: Scripts and styles only from the site's own files: no inline script, style or event handler.
STRICT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "connect-src": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
    "base-uri": {"'none'"},
    "object-src": {"'none'"},
}


def parse(header: str) -> dict[str, set[str]]:
    """``"default-src 'self'; img-src 'self' data:"`` as ``{directive: {sources}}``."""
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0].lower()] = set(words[1:])
    return policy


def assert_strict(header: str | None, where: str = "") -> None:
    """``header`` is the strict policy: exactly :data:`STRICT`, nothing let in beside it."""
    assert header, f"no {HEADER} header{where}"
    policy = parse(header)
    assert policy == STRICT, f"{where}: {header}"
    unsafe = [source for sources in policy.values() for source in sources if source.startswith("'unsafe-")]
    assert not unsafe, f"{where}: {header}"
