"""DVC stage `report`: the leaderboard across all experiments (reports/leaderboard.md and .png), each
dataset ranked by the test metric `promote.metrics` names for its task."""

from __future__ import annotations

from pipeline import config
from pipeline.core import paths, storage
from pipeline.decisions import report
from pipeline.tracking import ui_links
from stages import cli


def result_entry(name: str) -> report.ResultEntry:
    """What `train` and `evaluate` wrote for one experiment, as a leaderboard entry."""
    trained = cli.read_result(name, paths.TRAIN_SUMMARY)
    tracked = cli.read_result(name, paths.RUN_RECORD)
    is_completion = trained["family"] == "face_completion"
    return report.ResultEntry(
        experiment=name,
        # face completion predicts pixels, not classes: it gets a table of its own
        dataset=f"{trained['dataset']} (face completion)" if is_completion else trained["dataset"],
        model=trained["model"],
        family=trained["family"],
        task="regression" if is_completion else trained["task"],
        metrics=cli.read_result(name, paths.METRICS)["test"],
        train_seconds=trained["fit_seconds"],
        run_id=tracked.get("run_id"),
        run_url=tracked.get("url"),
        experiment_url=ui_links.experiment_link(tracked),
    )


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    args = parser.parse_args(argv)
    params = config.load(args.params)
    entries = [result_entry(name) for name in params.experiments]
    rows = report.leaderboard_rows(entries, ranked_by=params.promote.metrics)
    storage.write_text(paths.LEADERBOARD, report.render_markdown(rows))
    report.plot_leaderboard(paths.LEADERBOARD_PLOT, rows)


if __name__ == "__main__":
    cli.run(main)
