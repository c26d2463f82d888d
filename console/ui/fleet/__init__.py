"""The Fleet page: every registered device in one grid and the actions on them."""
