"""prepbot: interview preparation from job postings, offline by default."""

__version__ = "0.1.0"
