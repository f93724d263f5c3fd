"""Write the Seattle weather sample the user's-case test tunes on: ``data/date=YYYY-MM-DD``.

The table is vega_datasets' ``seattle-weather.csv`` (daily weather in Seattle,
2012-2015: precipitation, temp_max, temp_min, wind, weather), the public table of issue
22. Each day's partition holds that day's row plus the value to predict,
``next_temp_max`` (the next day's maximum temperature), so a model predicts tomorrow
from today. Only the days the test's windows read are written (April to December
2015), to keep the repository small. The committed ``data/`` folder was written by::

    pip install vega_datasets==0.9.0
    python tests/local/seattle/make_sample.py

and this script writes the same files again (``--source`` reads a copy of the CSV
instead of the installed package).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

OUT = Path(__file__).with_name("data")
FIRST, LAST = dt.date(2015, 4, 1), dt.date(2015, 12, 31)
COLUMNS = ["date", "precipitation", "temp_max", "temp_min", "wind", "weather", "next_temp_max"]


def _source() -> Path:
    from vega_datasets import local_data  # type: ignore[import-not-found]  # only to regenerate

    return Path(local_data.seattle_weather.filepath)


def main(source: Path | None = None, out: Path = OUT) -> None:
    """Write one partition per day from ``FIRST`` to ``LAST`` under ``out``."""
    with (source or _source()).open(newline="", encoding="utf-8") as handle:
        rows = {dt.date.fromisoformat(r["date"].replace("/", "-")): r for r in csv.DictReader(handle)}
    day = FIRST
    while day <= LAST:
        today, tomorrow = rows[day], rows[day + dt.timedelta(days=1)] if day < LAST else None
        path = out / f"date={day.isoformat()}" / "part-0.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            # The last day's next day is outside the sample: its target is missing,
            # and the trainer drops the row (a row without a target is not trained on).
            writer.writerow([day.isoformat(), *(today[c] for c in COLUMNS[1:6]),
                             tomorrow["temp_max"] if tomorrow else ""])
        day += dt.timedelta(days=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="seattle-weather.csv (default: vega_datasets')")
    main(parser.parse_args().source)
