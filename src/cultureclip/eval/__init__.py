"""The evaluator: zero-shot concept, twin and general accuracy, and the comparison report."""
