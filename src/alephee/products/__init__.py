"""Products: catalog, stock and prices per price list, fiscal data (spec 40)."""
