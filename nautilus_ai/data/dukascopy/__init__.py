"""Dukascopy datafeed: URL layout, price scales, ``.bi5`` decoding, downloader and cache reader.

All pure (numpy / requests); no Nautilus import. See ``nautilus_ai.data.ingest`` for the
catalog import.
"""

from __future__ import annotations

from nautilus_ai.data.dukascopy.decode import (
    CANDLE_DTYPE,
    TICK_DTYPE,
    decode_candles,
    decode_ticks,
    decompress_bi5,
)
from nautilus_ai.data.dukascopy.download import (
    CACHE_DIR_ENV,
    DownloadConfig,
    DownloadSummary,
    FileOutcome,
    ServerUnreachableError,
    default_cache_dir,
    download_files,
)
from nautilus_ai.data.dukascopy.load import (
    LoadFailure,
    file_from_path,
    find_files,
    load_candles,
    load_ticks,
)
from nautilus_ai.data.dukascopy.scales import DUKASCOPY_PRICE_SCALES, price_scale
from nautilus_ai.data.dukascopy.source import (
    DataSource,
    HttpDataSource,
    PermanentFetchError,
    TransientFetchError,
    UnreachableError,
)
from nautilus_ai.data.dukascopy.urls import (
    DUKASCOPY_BASE_URL,
    DukascopyFile,
    dukascopy_files,
    parse_key,
)

# Plain sorted() order, as tests/test_public_api.py checks.
__all__ = [
    "CACHE_DIR_ENV",
    "CANDLE_DTYPE",
    "DUKASCOPY_BASE_URL",
    "DUKASCOPY_PRICE_SCALES",
    "DataSource",
    "DownloadConfig",
    "DownloadSummary",
    "DukascopyFile",
    "FileOutcome",
    "HttpDataSource",
    "LoadFailure",
    "PermanentFetchError",
    "ServerUnreachableError",
    "TICK_DTYPE",
    "TransientFetchError",
    "UnreachableError",
    "decode_candles",
    "decode_ticks",
    "decompress_bi5",
    "default_cache_dir",
    "download_files",
    "dukascopy_files",
    "file_from_path",
    "find_files",
    "load_candles",
    "load_ticks",
    "parse_key",
    "price_scale",
]
