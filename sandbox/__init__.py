"""The local Azure double and the sandbox that runs the real pipeline against it."""
