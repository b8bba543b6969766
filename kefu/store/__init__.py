"""The shop's data Kefu works on: stores, catalogue, customers, orders, shipments, reviews."""
