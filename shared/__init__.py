"""autoattach: makes tagged AKS and Arc clusters usable as Azure Machine Learning compute."""
