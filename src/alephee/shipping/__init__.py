"""Orders shipping (spec 30): packaging, scheduling and transportation of an order's shipment."""
