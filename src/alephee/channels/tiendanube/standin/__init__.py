"""A local Tiendanube / Nuvemshop for the app API the connector uses (install, store, products and variants, the
stock-price batch, categories, orders with their fulfilment, webhooks), its state in one SQLite file."""
