"""The modules of tools/bench, one concern each.

- common: where the repository, the binaries and the logs are; the brokers; log and die.
- build: installing what the bench needs and building the brokers and load generators.
- procs: child processes (started, read line by line, always killed) and /proc sampling
  (CPU, RSS, listening ports); a broker under test.
- cases: the load cases, and one run of a case against one broker.
- isolation: the forwarder cases that are not a rate (100,000 subscriptions arriving and
  leaving, a slow sender beside a timed flow), zedge and libzmq only.
- memory: the memory cases (idle RSS, one 64 MiB message, 10,000 idle peers).
- report: medians over the runs, ratios, the tables, the machine description.
- goals: the issue's goals as PASS/FAIL lines, and the warnings about the measurements.
- docs: docs/benchmarks.md and docs/benchmarks.svg.

Each module uses only the ones above it in this list. Python 3 standard library only.
"""
