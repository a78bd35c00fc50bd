"""One router per concern, included by `api.create_api`."""
