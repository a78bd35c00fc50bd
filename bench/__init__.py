"""`make bench`: the engine's throughput, latency, memory and per-point costs, in one table.

Run ``python -m bench`` (``--quick`` for a smoke run, ``--only NAME`` for one measurement).
Everything runs on an embedded broker the bench starts itself, against real worker processes, and
the same run measures the references the figures are judged against (raw confluent-kafka and
aiokafka loops, a bare Faust agent, river's detectors), because on a shared machine ratios
measured together are worth more than absolute numbers. See ``docs/PERFORMANCE.md`` for the latest full run.
"""
