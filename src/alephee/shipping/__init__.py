"""Orders shipping (CF-30): packaging, scheduling and transportation of an order's shipment."""
