"""The real-path market: an SPX option chain for every real session, priced from that day's VIX family and SKEW."""
