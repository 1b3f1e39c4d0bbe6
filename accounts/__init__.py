"""Staff accounts: session login with a second factor, API tokens, lockout, password change."""
