"""Analytics: RFM scores, rule-based segments and tags, precomputed reports and the dashboard (issue #9)."""
