"""Prints template.yaml as JSON (CloudFormation's short tags, !Sub and the like, become their
long form, Fn::Sub…), for tests that read the template without a YAML library of their own.
Usage: template_json.py [template.yaml]"""

import json
import sys

from samtranslator.yaml_helper import yaml_parse

with open(sys.argv[1] if len(sys.argv) > 1 else "template.yaml") as f:
    print(json.dumps(yaml_parse(f.read())))
