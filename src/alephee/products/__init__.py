"""Products: catalog, stock and prices per price list, fiscal data (CF-40)."""
