"""Foundations every layer uses: errors, atomic files, metric values."""
