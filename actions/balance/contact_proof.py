"""The proof that a phone number was shared by the owner of a conversation.

Telegram can send a contact card that is the sender's own: the gateway, which alone sees
Telegram's update, checks that and vouches for it by signing `(conversation id, phone, expiry)`
with a secret it shares with the action server (SANAD_CONTACT_SECRET on both sides). The balance
form accepts the phone in place of the one-time code only with a valid, unexpired signature for
its own conversation: metadata written by whoever reaches Rasa's REST channel, or the action
server, proves nothing without the secret.

Standard library only: the gateway (FastAPI environment) imports this module too."""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Optional

VERSION = "v1"
TTL_SECONDS = 300  # long enough for a queued message to reach Rasa, short enough to be useless later
SECRET_ENV = "SANAD_CONTACT_SECRET"


def _mac(secret: str, conversation_id: str, phone: str, expires: int) -> str:
    message = "|".join((VERSION, conversation_id, phone, str(expires))).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, conversation_id: str, phone: str, now: Optional[float] = None,
         ttl: int = TTL_SECONDS) -> str:
    """The proof to send as `metadata.contact_proof` beside `metadata.shared_phone`."""
    expires = int(now if now is not None else time.time()) + ttl
    return f"{VERSION}.{expires}.{_mac(secret, conversation_id, phone, expires)}"


def verify(secret: Optional[str], conversation_id: str, phone: str, proof: object,
           now: Optional[float] = None) -> bool:
    """True only for a proof signed with `secret` for this conversation and phone, not expired.
    No secret configured means no contact is ever accepted (fail closed)."""
    if not secret or not isinstance(proof, str) or not phone:
        return False
    parts = proof.split(".")
    if len(parts) != 3 or parts[0] != VERSION or not parts[1].isdigit():
        return False
    expires, now = int(parts[1]), now if now is not None else time.time()
    if not now < expires <= now + TTL_SECONDS + 5:  # expired, or from a signer with a longer clock
        return False
    return hmac.compare_digest(parts[2], _mac(secret, conversation_id, phone, expires))


def secret_from_env() -> Optional[str]:
    return os.environ.get(SECRET_ENV) or None
