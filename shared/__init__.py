"""autoattach: makes tagged AKS and Arc clusters usable as Azure Machine Learning compute."""

# The one place the version is written: pyproject.toml reads it (the console's wheel), the
# Function App reports it, and `autoattach --version` names the app version it matches.
__version__ = "0.2.0"
