"""The routes, one blueprint per resource. Each is built by a function: nothing happens at import."""
