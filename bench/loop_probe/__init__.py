"""A probe of a worker's event loop and garbage collector: see sitecustomize.py."""
