"""The HTTP contract every answer keeps: problem+json errors, the JSON encoding, the request id, the client's address
behind proxies, security headers and the docs' assets. Imports nothing else of the project (.importlinter)."""
