"""Performance and portfolio analytics (SPEC 11.3), pure: definitions, calendar, roll-up
algebra, ratios, dashboard blocks, allocation, ladder tuning and the Risk Engine ledger.

The shell (``actors/analytics/``) records the facts and the equity snapshots; the read side
(``actors/read/analytics.py``) sums roll-up rows and asks these modules for the blocks.
"""
