"""The account's Alephee B2B portal: token login, wholesale catalog, cart and orders (server-rendered HTML)."""
