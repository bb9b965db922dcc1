"""The Mercado Libre connector: OAuth link of a seller account, its API client and a local stand-in."""
