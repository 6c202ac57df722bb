"""nyeshc: a compiler that turns a screenplay (.nysh) into a film."""

__version__ = "0.1.0"
