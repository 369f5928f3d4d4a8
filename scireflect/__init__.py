"""scireflect: verified, self-reflective reasoning data for science and math models."""

__version__ = "0.1.0"
