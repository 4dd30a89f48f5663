"""Pages of the commerce app: `catalogue` (products, price lists) and `orders`."""
