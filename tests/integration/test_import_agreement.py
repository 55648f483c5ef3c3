"""Extensions the importer reads, run as XML in the real switch and as the rules it writes: the same calls
reach the same gateways (or the importer says why it left an extension out)."""

import os

from fsroute.migrate.importer import import_files

# A field without ${} reads the caller profile only: 'sip_from_user' reads '' (the extension never
# matches), 'CALLER_ID_NUMBER' the caller's number (case ignored), '${sip_from_user}' the variable.
EXTENSIONS = """    <extension name="bare">
      <condition field="sip_from_user" expression="^1000$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw3/bare$1"/>
      </condition>
    </extension>
    <extension name="braced">
      <condition field="${sip_from_user}" expression="^2000$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw3/braced$1"/>
      </condition>
    </extension>
    <extension name="profile">
      <condition field="CALLER_ID_NUMBER" expression="^3000$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw3/profile$1"/>
      </condition>
    </extension>
"""
CALLERS = ("1000", "2000", "3000")


def dialled(fs):
    """What gw3 received for a call from each of CALLERS (None: the call did not reach it)."""
    out = []
    for user in CALLERS:
        before = len(fs.gateways["gw3"].uri_users())
        assert fs.call("5551234", from_user=user).code == 200
        users = fs.gateways["gw3"].uri_users()
        out.append(users[-1] if len(users) > before else None)
    return out


def test_bare_braced_and_profile_fields_route_as_the_xml_did(fs, tmp_path):
    fs.switch.write_config(extra_extensions=EXTENSIONS)
    fs.switch.api("reloadxml")
    try:
        by_xml = dialled(fs)
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")
    assert by_xml == [None, "braced5551234", "profile5551234"]  # the switch itself: 'bare' never matches

    xml = os.path.join(str(tmp_path), "public.xml")
    with open(xml, "w") as handle:
        handle.write('<include>\n  <context name="public">\n%s  </context>\n</include>\n' % EXTENSIONS)
    result = import_files([xml])
    assert "extension 'bare' is not imported" in "\n".join(str(r) for r in result.reports)
    fs.use_rules(result.text + "  - {name: rest, match: {destination_number: '^(\\d+)$'}, gateway: gw2}\n")
    assert dialled(fs) == by_xml
