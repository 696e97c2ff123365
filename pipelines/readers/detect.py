"""Recognising a vendor format from a file's content (never from its name)."""

from __future__ import annotations

from collections.abc import Callable

from pipelines.readers import (
    breadth, cboe_datashop, cboe_delayed_quotes, cboe_index_history, cfe_vx, daily_ohlcv, long_eod,
    macro_calendar, optionsdx,
)
from pipelines.readers import cboe_settlement_values, cboe_strategy_index, cfe_vx_long, fred_dtb3
from pipelines.readers.source import Source

#: format name -> (sniffer on the first lines, reader module); first match wins, so
#: the more specific signatures come first.
FORMATS: dict[str, tuple[Callable[[list[str]], bool], object]] = {
    cboe_delayed_quotes.FORMAT: (cboe_delayed_quotes.sniff, cboe_delayed_quotes),
    cboe_datashop.FORMAT: (cboe_datashop.sniff, cboe_datashop),
    optionsdx.FORMAT: (optionsdx.sniff, optionsdx),
    long_eod.FORMAT: (long_eod.sniff, long_eod),
    cfe_vx_long.FORMAT: (cfe_vx_long.sniff, cfe_vx_long),  # before cfe_vx: both start "Trade Date,"
    cfe_vx.FORMAT: (cfe_vx.sniff, cfe_vx),
    cboe_strategy_index.FORMAT: (cboe_strategy_index.sniff, cboe_strategy_index),  # before: DATE,<NAME> too
    fred_dtb3.FORMAT: (fred_dtb3.sniff, fred_dtb3),  # old FRED header DATE,DTB3 looks like an index history
    cboe_index_history.FORMAT: (cboe_index_history.sniff, cboe_index_history),
    breadth.FORMAT: (breadth.sniff, breadth),
    macro_calendar.FORMAT: (macro_calendar.sniff, macro_calendar),
    daily_ohlcv.FORMAT: (daily_ohlcv.sniff, daily_ohlcv),
    cboe_settlement_values.FORMAT: (cboe_settlement_values.sniff, cboe_settlement_values),
}


def detect_format(src: Source) -> str:
    """Name of the format of ``src``.

    Raises
    ------
    VendorFileError
        ``"unknown_header"`` when no known layout matches.
    """
    head = src.head[:12]
    for name, (sniff, _) in FORMATS.items():
        if sniff(head):
            return name
    first = next((i for i, l in enumerate(head) if l.strip()), 0)
    raise src.error("unknown_header", line=first + 1,
                    detail=f"no known vendor layout starts like {head[first][:80]!r}" if head else "no lines")
