"""Coarse shape generation (METHOD.md §1): shape VAE, code-book of rendered shapes, text query."""
