"""Admin accounts, access control and the admin JSON API."""
