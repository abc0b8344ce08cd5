"""Models by config: build and check (building), fit (training), predict, save and load (persistence).

Each family is declared once in `families` (its settings, the data it accepts, its builder and checks,
its backend and so its MLflow flavor); `backends` says what each library does with a fitted model. The
backends (pipeline/backends/) hold each library's code; these modules choose between them.
"""
