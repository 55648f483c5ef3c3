"""Readers of the rules file's sections, one module each, sharing grammar.Builder's key converters."""
