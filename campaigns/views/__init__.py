"""Dashboard: campaigns — the list, the editor (sequence, contacts, preview, schedule and
options, stats) and the launch/pause/resume actions. Views are thin: every write goes through
campaigns.services, every read of numbers through campaigns.selectors."""
