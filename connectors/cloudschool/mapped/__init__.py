"""The mapped layout: any export described in YAML (sources, joins, filters, expressions)."""
