"""The ``autoattach`` subcommands other than ``sandbox``: one module each, with ``register`` (adds
its parser) and ``run`` (does the work, returns the exit code). ``console.cli`` lists them."""
