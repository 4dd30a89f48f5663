"""What each customer earns us once the cost to serve and to acquire them is counted."""
