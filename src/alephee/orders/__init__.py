"""Orders: the order model, GET orders, carts, documents, shipping labels and the write side (CF-20, CF-21)."""
