"""Parses Prometheus text from stdin with prometheus_client's own parser (strict: a malformed line
raises) and prints the samples as JSON: [{"name", "labels", "value"}, ...] plus each family's type."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = list(text_string_to_metric_families(sys.stdin.read()))
print(json.dumps({
    "types": {f.name: f.type for f in families},
    "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for f in families for s in f.samples],
}))
