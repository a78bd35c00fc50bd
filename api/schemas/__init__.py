"""Request and response schemas of the REST API, one per direction, a module per router.

Validation errors become 422 responses naming the field (see ``api.errors``); detector parameters
are checked by the detectors themselves, so the API and the stream agree on what is valid.

- ``strict``: the base of every request body;
- ``config`` (``config_sections``: its nested forecast, suppression and seasonality): detector
  configurations in and out;
- ``score``: a telemetry batch to score and its outcome;
- ``alerts``: the dispatched incidents and feedback on one;
- ``silences``, ``series``, ``stats``, ``health``: what their routers take and answer;
- ``errors``: the body of a refusal.
"""
