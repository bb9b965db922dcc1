"""The Tiendanube / Nuvemshop connector and its local stand-in."""
