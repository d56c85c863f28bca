"""Certified upper bounds of the true local constants by branch and bound with arb
(docs/theory.md §1–§3): :func:`certify` returns a :class:`Certificate` whose proof
:func:`replay_certificate` re-checks from scratch."""
from symlip.certify.api import certify
from symlip.certify.certificate import Certificate, replay_certificate

__all__ = ["certify", "Certificate", "replay_certificate"]
