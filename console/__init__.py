"""The operator console: the `autoattach` commands operators run on their machines. Not deployed."""
