"""breachdash: one live record of a security breach for architects, Legal, PR and executives."""
__version__ = "0.1.0"
