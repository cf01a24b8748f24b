"""API: contacts, lists, the suppression list and CSV imports."""
