"""One adapter per Azure service; each turns SDK errors into TransientError or PermanentError."""
