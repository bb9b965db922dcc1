"""The operator console: server-rendered pages under ``/console`` for the people who run the hub."""
