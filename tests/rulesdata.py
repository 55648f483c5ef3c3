"""Rules texts and paths shared by the tests."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "rules.yaml"

BASE_RULES = """\
version: 1
defaults:
  profile: external
  status_ttl: 60
acls:
  trunk_peers:
    default: deny
    nodes:
      - allow: 172.16.221.0/24
      - deny: 172.16.221.99/32
ingress_acl: trunk_peers
groups:
  gw_group_1:
    gateways:
      - {name: gw1, weight: 1}
      - {name: gw2, weight: 2}
routes:
  - name: out through gw1
    match: {destination_number: '^9(10[01][0-9])$'}
    number: '$1'
    gateway: gw1
  - name: default
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    group: gw_group_1
"""
