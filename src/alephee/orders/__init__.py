"""Orders: the order model, GET orders, carts, documents, shipping labels and the write side (spec 20, 21)."""
