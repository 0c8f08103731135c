"""The algorithm area: synchronous calls (/invoke) and the algorithm catalogue (/algorithms)."""
