"""Connectors to real marketplaces: one package per connector (``mercadolibre/``), plus the tables they share."""
