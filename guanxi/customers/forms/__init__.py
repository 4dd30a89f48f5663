"""Web forms for customer records: they parse and show input; every write goes through `customers.services`."""
