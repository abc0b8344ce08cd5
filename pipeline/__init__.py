"""Importable library behind the DVC stages; importing it changes nothing in the process.

core/ (errors, atomic files, metric values) and config/ (the params schema) sit at the bottom;
datasets/, models/ with backends/, evaluation/, tracking/ and decisions/ build on them; workflow/
holds the tools that drive DVC around the stages.
"""
