"""Web pages for accounts and contacts (people), and the settings pages for tags and custom attributes."""
