"""Cross-cutting HTTP: auth, rate limiting, errors, paging envelope, case-insensitive input, middleware."""
