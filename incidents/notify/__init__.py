"""Delivery of incident events to the people on call, as stages.

    dedup -> silence -> rate limit -> retry (honouring Retry-After) -> channel

- :mod:`incidents.notify.dispatcher`: the stages, run per event and channel (:class:`Dispatcher`);
- :mod:`incidents.notify.channels`: PagerDuty, Slack, a generic webhook and Alertmanager, each one
  class whose ``send`` makes one request and says whether a failure is worth a retry, and the
  settings that build them;
- :mod:`incidents.notify.retry`: the backoff policy; :mod:`incidents.notify.ratelimit`: the
  per-target spacing a channel asks for with ``min_interval``.
"""

from incidents.notify.dispatcher import Dispatcher, ledger_key

__all__ = ["Dispatcher", "ledger_key"]
