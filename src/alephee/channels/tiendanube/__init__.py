"""The Tiendanube/Nuvemshop connector: the app install, the API client, the webhooks and the channel."""
