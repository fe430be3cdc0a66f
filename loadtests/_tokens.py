"""Unique tokens for every value written, and finding them again in what the server returns.

A token is 19 digits: 5 from the host, 7 from the pid, 7 from a per-process counter, so values
are unique across the run's processes and machines without coordination. Digits fit both places
a token travels: the SDP origin line's session id (``o=- <token> 2 IN IP4 127.0.0.1``) and the ICE
candidate's foundation (``candidate:<token> 1 udp ...``). See ``docs/history.md``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from typing import Any

from loadtests._identity import host_digits

_SDP_ORIGIN = re.compile(r"^o=\S+ (\d+) \d+ IN ", re.MULTILINE)
_FOUNDATION = re.compile(r"^(?:a=)?candidate:([A-Za-z0-9]{1,32}) ")


class TokenSource:
    """Hands out this process's tokens; re-reads the pid so a forked child never repeats one."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._counter = itertools.count(1)

    def next(self) -> str:
        pid = os.getpid()
        if pid != self._pid:
            self._pid, self._prefix = pid, host_digits(5) + str(pid % 10**7).zfill(7)
            self._counter = itertools.count(1)
        return f"{self._prefix}{next(self._counter) % 10**7:07d}"


def sdp_token(sdp: Any) -> str | None:
    """The session id of an SDP's origin line, or None."""
    if not isinstance(sdp, str):
        return None
    found = _SDP_ORIGIN.search(sdp)
    return found.group(1) if found else None


def candidate_token(value: Any) -> str | None:
    """The foundation of a candidate sent as the browser sends it (JSON of ``toJSON()``)."""
    if not isinstance(value, str):
        return None
    line: Any = value
    if value.startswith("{"):
        try:
            line = json.loads(value).get("candidate")
        except (ValueError, AttributeError):
            return None
    if not isinstance(line, str):
        return None
    found = _FOUNDATION.match(line)
    return found.group(1) if found else None


def recorded(value: Any, token: str | None) -> str:
    """What a read records for one returned value: its token, or the value whole.

    A value that is not a string (a server returning candidates as objects, say) is recorded as
    its canonical JSON, so the checker sees one comparable string nobody wrote (a phantom).
    """
    if token is not None:
        return token
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def offerer_view(body: Any) -> dict[str, Any]:
    """The tokens of an offerer's poll: ``{"answer": token|null, "candidates": [...]}``."""
    answer = body.get("answer")
    return {
        "answer": None if answer is None else recorded(answer, sdp_token(answer)),
        "candidates": [recorded(c, candidate_token(c)) for c in body.get("answerCandidates") or []],
    }


def answerer_view(body: Any) -> dict[str, Any]:
    """The tokens of an answerer's poll: ``{"offer": token, "candidates": [...]}``."""
    offer = body.get("offer")
    return {
        "offer": recorded(offer, sdp_token(offer)),
        "candidates": [recorded(c, candidate_token(c)) for c in body.get("offerCandidates") or []],
    }
