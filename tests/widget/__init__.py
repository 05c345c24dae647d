"""The published livechat widget in a real browser against the mock (issue 11)."""
