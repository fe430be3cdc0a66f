"""The comparison: the same Locust load against every store, then the checker and the report.

``python -m comparison`` (also ``python -m loadtests``, the README's main command) starts each
store's server (``server.process``), runs Locust on the scenarios in ``loadtests/`` as a child
process, then checks every history and writes the report with ``analysis``. It never imports
Locust itself: Locust's gevent patching stays in the child.

- ``settings``: the one settings object, read from the command line;
- ``load``: one target under load (its server, Locust, progress lines, the nemesis if asked);
- ``nemesis``: faults injected into a server while it is loaded (kill, pause), each recorded;
- ``progress``: Locust's running totals, read from its stats CSV;
- ``campaign``: the steps, in order, and what is judged at the end.
"""
