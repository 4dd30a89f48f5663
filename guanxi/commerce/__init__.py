"""Products, price lists, orders (buyer and user per line) and payments."""
