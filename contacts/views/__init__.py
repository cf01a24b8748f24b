"""Dashboard: contacts, lists, imports and the suppression list."""
