# The module entry point runs the CLI when imported; keep doctest collection away from it.
collect_ignore = ["app/__main__.py"]
