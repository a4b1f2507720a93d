"""The direct Arrow writer produces Nautilus' exact tables; the pure modules stay Nautilus-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data import QuoteArrays, fx_instrument, write_quotes
from nautilus_ai.data.catalog import int128_times_power_of_ten


@given(
    values=st.lists(
        st.integers(min_value=-(2**62) + 1, max_value=2**62 - 1), min_size=1, max_size=20
    ),
    shift=st.integers(min_value=0, max_value=18),
)
def test_int128_matches_python_integers(values: list[int], shift: int) -> None:
    words = int128_times_power_of_ten(np.array(values, dtype=np.int64), shift)
    got = [int(low) % 2**64 + int(high) * 2**64 for low, high in words]
    assert got == [v * 10**shift for v in values]


def test_quotes_match_nautilus_write_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    ts = np.sort(rng.integers(1_550_000_000, 1_550_003_600, n)) * 10**9
    bid = np.round(1.14 + rng.normal(0, 1e-4, n).cumsum(), 5)
    ask = np.round(bid + rng.integers(0, 5, n) * 1e-5, 5)
    sizes = np.rint(rng.random(n) * 9e6)
    quotes = QuoteArrays(ts.astype(np.int64), bid, ask, sizes, sizes[::-1].copy())
    ours = write_quotes(tmp_path / "ours", fx_instrument("EUR/USD"), quotes)
    reference = QuoteTick.from_raw_arrays_to_list(
        InstrumentId.from_str("EUR/USD.SIM"),
        5,
        0,
        bid,
        ask,
        quotes.bid_size,
        quotes.ask_size,
        ts.astype(np.uint64),
        ts.astype(np.uint64),
    )
    ParquetDataCatalog(str(tmp_path / "theirs")).write_data(reference)
    (theirs,) = (tmp_path / "theirs").rglob("*.parquet")
    (ours_file,) = Path(ours.directory).glob("*.parquet")
    assert ours_file.name == theirs.name
    assert ours_file.parent.relative_to(tmp_path / "ours") == theirs.parent.relative_to(
        tmp_path / "theirs"
    )
    assert pq.read_table(ours_file).equals(pq.read_table(theirs), check_metadata=True)
    back = ParquetDataCatalog(str(tmp_path / "ours")).quote_ticks()
    # Compare by value: in 1.221 QuoteTick.__eq__ aborts the process (a Rust assert) on any
    # difference instead of returning False.
    assert [str(q) for q in back] == [str(q) for q in reference]
    assert [q.bid_price.raw for q in back] == [q.bid_price.raw for q in reference]


def test_pure_modules_do_not_import_nautilus() -> None:
    code = (
        "import sys\n"
        "import nautilus_ai.data, nautilus_ai.data.dukascopy, nautilus_ai.data.validation\n"
        "import nautilus_ai.data.lean, nautilus_ai.data.generic_csv, nautilus_ai.data.histdata\n"
        "import nautilus_ai.cli.data\n"
        "bad = sorted(m for m in sys.modules if m.startswith('nautilus_trader'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
