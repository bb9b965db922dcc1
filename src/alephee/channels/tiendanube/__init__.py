"""The Tiendanube/Nuvemshop connector: the app install, the API client, the webhooks, the channel and the local
stand-in."""
