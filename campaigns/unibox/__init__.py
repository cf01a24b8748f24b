"""The unified inbox ("Unibox"): every reply from every mailbox of a workspace, one
conversation at a time, answered from FluenzR in the same thread.

selectors.py: the list of conversations and one conversation in order; services.py: read
state, lead status, and answers sent through the mailbox that received the reply.
"""
