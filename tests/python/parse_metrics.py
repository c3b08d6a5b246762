"""Parses an OpenMetrics text exposition (stdin) with the reference Python
parser and prints its families as JSON: {name: {"type", "samples": [[name,
labels, value]]}}. A malformed exposition raises, so the exit status fails."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "unit": family.unit,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
json.dump(families, sys.stdout)
