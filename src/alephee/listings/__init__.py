"""Product listings: publications per marketplace, price/stock propagation, status, discounts (CF-50)."""
