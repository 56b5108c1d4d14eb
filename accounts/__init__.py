"""Users, customer accounts, plans, and the login and sign-up pages."""
