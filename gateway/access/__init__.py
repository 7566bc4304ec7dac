"""Who may sign in and see whom: accounts, passwords, sessions, holds, invitations, entitlement."""
