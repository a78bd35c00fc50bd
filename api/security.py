"""API keys and who may call what.

Two scopes: ``read`` (the GET endpoints and ``POST /anomaly/score``) and ``admin`` (configuration
and silences); an admin key can also read. Keys arrive as ``Authorization: Bearer <key>``. Only the
SHA-256 of each configured key is kept; a presented key is hashed and compared in constant time
with every known hash. A key's id, for logs and the audit trail, is the first 8 hex digits of its
hash, so the key itself is never written anywhere.

With no key configured at all, the read endpoints are open and the write endpoints answer only
clients on this machine (127.0.0.1, ::1): a fresh ``make run`` works from the same host and is
not writable from the network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import HTTPException

log = logging.getLogger(__name__)

READ = "read"
ADMIN = "admin"
SCOPES_OF = {READ: frozenset({READ}), ADMIN: frozenset({READ, ADMIN})}
MIN_KEY_LENGTH = 16

NO_KEY_WRITE_REFUSED = (
    "no API key is configured, so this endpoint answers only clients on the engine's own machine "
    "(127.0.0.1 or ::1); to call it from elsewhere, start the engine with ANOMALY_ADMIN_KEY set "
    "and send 'Authorization: Bearer <key>'"
)


def hash_key(key: str) -> str:
    """The SHA-256 of a key, in hex.

    Examples
    --------
    >>> hash_key("s3cret-admin-key-0001")[:8]
    '3f662729'
    """
    return hashlib.sha256(key.encode()).hexdigest()


def split_keys(text: str) -> list[str]:
    """Keys from a comma-separated setting, blanks dropped.

    Examples
    --------
    >>> split_keys(" k1 , ,k2,")
    ['k1', 'k2']
    """
    return [key.strip() for key in text.split(",") if key.strip()]


def is_loopback(host: str | None) -> bool:
    """Whether a client address is this machine (IPv4 127/8, ::1, or IPv4-mapped 127/8).

    Examples
    --------
    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.1", "testclient")]
    [True, True, True, False, False]
    """
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and scopes, or no key (``key_id`` None) and the address."""

    scopes: frozenset[str]
    key_id: str | None
    client: str

    @property
    def actor(self) -> str:
        """For the audit trail: the key id, else ``loopback`` (or ``anonymous`` for a reader)."""
        if self.key_id is not None:
            return self.key_id
        return "loopback" if is_loopback(self.client) else "anonymous"

    @property
    def rate_key(self) -> str:
        """Whose budget a rate-limited request spends: the key's, else the client address's."""
        return f"key:{self.key_id}" if self.key_id is not None else f"addr:{self.client}"


class KeyRing:
    """The hashes of the configured keys, with their scopes.

    Examples
    --------
    >>> ring = KeyRing(admin_keys=["admin-key-0123456789"], read_keys=["read-key-0123456789"])
    >>> ring.identify("read-key-0123456789")[1] == frozenset({"read"})
    True
    >>> ring.identify("guess") is None
    True
    """

    def __init__(self, admin_keys: Iterable[str] = (), read_keys: Iterable[str] = ()) -> None:
        scopes: dict[str, frozenset[str]] = {}
        for scope, keys in ((READ, read_keys), (ADMIN, admin_keys)):
            for key in keys:
                if len(key) < MIN_KEY_LENGTH:
                    log.warning(
                        "an API key (id %s) is shorter than %d characters; generate one with "
                        "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                        hash_key(key)[:8],
                        MIN_KEY_LENGTH,
                    )
                digest = hash_key(key)
                scopes[digest] = scopes.get(digest, frozenset()) | SCOPES_OF[scope]
        self._entries = [(bytes.fromhex(d), d[:8], s) for d, s in sorted(scopes.items())]

    @classmethod
    def from_text(cls, admin_keys: str = "", read_keys: str = "") -> KeyRing:
        return cls(split_keys(admin_keys), split_keys(read_keys))

    @property
    def configured(self) -> bool:
        return bool(self._entries)

    @property
    def has_admin(self) -> bool:
        return any(ADMIN in scopes for _, _, scopes in self._entries)

    def ids(self, scope: str) -> list[str]:
        return [key_id for _, key_id, scopes in self._entries if scope in scopes]

    def identify(self, key: str) -> tuple[str, frozenset[str]] | None:
        """The id and scopes of ``key``, or None. Compares with every hash, in constant time."""
        digest = hashlib.sha256(key.encode()).digest()
        found: tuple[str, frozenset[str]] | None = None
        for known, key_id, scopes in self._entries:
            if hmac.compare_digest(digest, known):
                found = (key_id, scopes)
        return found


def authenticate(ring: KeyRing, needed: str, authorization: str | None, client: str) -> Principal:
    """The caller of an endpoint that needs the ``needed`` scope; raises a 401 or 403."""
    if not ring.configured:
        if needed == READ:
            return Principal(SCOPES_OF[READ], None, client)
        if is_loopback(client):
            return Principal(SCOPES_OF[ADMIN], None, client)
        raise HTTPException(status_code=403, detail=NO_KEY_WRITE_REFUSED)
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status_code=401,
            detail="this endpoint needs an API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    found = ring.identify(token)
    if found is None:
        raise HTTPException(
            status_code=401,
            detail="the API key is not known to this engine; check ANOMALY_ADMIN_KEY and "
            "ANOMALY_READ_KEY",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    key_id, scopes = found
    if needed not in scopes:
        detail = f"this endpoint needs an {needed} key; key {key_id} has the read scope only"
        if needed == ADMIN and not ring.has_admin:
            detail += ", and no admin key is configured (ANOMALY_ADMIN_KEY)"
        raise HTTPException(
            status_code=403,
            detail=detail,
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
        )
    return Principal(scopes, key_id, client)


def usage_hint(ring: KeyRing, base_url: str) -> str:
    """How to call the API, for the start-up message; names the variables, never a key.

    Examples
    --------
    >>> print(usage_hint(KeyRing(), "http://127.0.0.1:8000"))
    no API key configured (ANOMALY_ADMIN_KEY, ANOMALY_READ_KEY): read endpoints are open and write endpoints answer loopback clients only, e.g. curl -s http://127.0.0.1:8000/anomaly/config
    >>> print(usage_hint(KeyRing(admin_keys=["x" * 32]), "http://127.0.0.1:8000"))
    API keys required (1 admin, 0 read): curl -s -H "Authorization: Bearer $ANOMALY_ADMIN_KEY" http://127.0.0.1:8000/anomaly/config
    """
    if not ring.configured:
        return (
            "no API key configured (ANOMALY_ADMIN_KEY, ANOMALY_READ_KEY): read endpoints are open "
            "and write endpoints answer loopback clients only, e.g. "
            f"curl -s {base_url}/anomaly/config"
        )
    admins, readers = len(ring.ids(ADMIN)), len(ring.ids(READ)) - len(ring.ids(ADMIN))
    variable = "ANOMALY_ADMIN_KEY" if admins else "ANOMALY_READ_KEY"
    hint = (
        f"API keys required ({admins} admin, {readers} read): "
        f'curl -s -H "Authorization: Bearer ${variable}" {base_url}/anomaly/config'
    )
    if not admins:
        hint += "; no admin key is configured, so configuration and silences cannot be changed"
    return hint
