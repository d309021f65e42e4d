"""The release number, in one place every stage may read (the cache key, generated headers)."""

__version__ = "0.1.0"
