"""Models by config: build and check (building), fit (training), predict, save and load (persistence).

The backends (pipeline/backends/) hold each library's code; these modules choose between them.
"""
