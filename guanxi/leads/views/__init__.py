"""The lead pages: lists, records and conversion, settings, and the public web form."""
