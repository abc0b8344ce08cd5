"""Foundations every layer uses: errors, atomic files, metric values, stage output paths, markdown tables."""
