"""Locust scenarios that load a signaling server and record a history for the checker.

Run ``locust -f loadtests --host http://127.0.0.1:8080`` (see ``docs/loadtests.md``). Locust's
directory loader imports every module here whose name does not start with ``_``: those are the
scenarios (``ice_trickle``, ``answer_race``, ``handshake``). The ``_``-prefixed modules are the
helpers they share, so Locust never mistakes them for locustfiles.
"""
