"""Write the small flights-like table this example tunes on: ``data/date=YYYY-MM-DD/part-0.csv``.

Three months of daily partitions (2026-01-01 .. 2026-03-31), four flights a day, with
what a real export has: text columns the model should not read (``flight``, ``note``,
with commas inside quotes), categories (``carrier``, ``origin``, ``dest``), numbers
(``dep_delay``, ``distance``) with a few missing values, and the value to predict,
``arr_delay`` (minutes), missing on a few rows too. The committed ``data/`` folder was
written by this script; run it again (``python make_data.py``) to get the same files.

Only the standard library is used, so it runs anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

FIRST_DAY = dt.date(2026, 1, 1)
DAYS = 90
FLIGHTS_PER_DAY = 4
CARRIERS = {"UA": 4.0, "AA": 7.0, "DL": 2.0, "WN": 9.0}
AIRPORTS = ["SFO", "JFK", "ORD", "SEA", "DEN"]
OUT = Path(__file__).with_name("data")
COLUMNS = ["flight", "carrier", "origin", "dest", "dep_delay", "distance", "note", "arr_delay"]


def main(out: Path = OUT) -> None:
    """Write every day's partition under ``out``."""
    rng = random.Random(14)
    for i in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=i)
        winter = 6.0 if day.month == 1 else 0.0  # January storms: every flight later
        path = out / f"date={day.isoformat()}" / "part-0.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            for _ in range(FLIGHTS_PER_DAY):
                carrier = rng.choice(list(CARRIERS))
                origin, dest = rng.sample(AIRPORTS, 2)
                dep_delay = max(-10.0, rng.gauss(8.0 + winter, 12.0))
                distance = rng.randint(300, 2600)
                arr_delay = (0.9 * dep_delay + CARRIERS[carrier] + distance / 400
                             + (5.0 if dest == "ORD" else 0.0) + rng.gauss(0.0, 4.0))
                writer.writerow([
                    f"{carrier}{rng.randint(100, 999)}", carrier, origin, dest,
                    "" if rng.random() < 0.05 else f"{dep_delay:.0f}",
                    "NA" if rng.random() < 0.03 else distance,
                    rng.choice(["on time, smooth", "gate change", "", "crew swap, late"]),
                    "" if rng.random() < 0.02 else f"{arr_delay:.0f}",
                ])


if __name__ == "__main__":
    main()
