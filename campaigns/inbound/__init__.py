"""Inbound: what arrives in the sending mailboxes and concerns a campaign.

`sync` reads each mailbox incrementally (headers first, bodies only for what may concern us),
the classifier (`email_accounts.inbound`) says what each message is, `matching` finds the
outbound message and enrollment it answers, and `effects` stops, pauses or bounces — in that
order, so a sequence stops at the right moment and never on our own mail.
"""
