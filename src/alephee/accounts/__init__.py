"""Accounts: tenants, API keys, users, marketplaces per account, price lists, stores, login tokens."""
