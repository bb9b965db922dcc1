"""A local Mercado Libre for the seller API the connector uses (OAuth, items, orders, packs, shipments, labels,
fiscal documents, messages, notifications), its state in one SQLite file shared by every process that opens it."""
