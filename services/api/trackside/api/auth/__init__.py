"""Authentication: access keys (configuration and database), fixed web users, and the JWTs clients carry."""
