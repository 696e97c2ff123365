"""Embedded default market: a seeded stochastic-volatility-with-jumps simulator of SPX,
its option chains, the VIX family, VX futures and NYSE breadth (pure code, no I/O)."""

from features.simulate.market import DailyMarket, SimulationConfig, simulate_chain, simulate_daily

__all__ = ["DailyMarket", "SimulationConfig", "simulate_chain", "simulate_daily"]
