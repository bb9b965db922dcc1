"""Product listings: publications per marketplace, price/stock propagation, status, discounts (spec 50)."""
