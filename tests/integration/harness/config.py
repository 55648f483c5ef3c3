"""The switch's configuration, written from scratch for one test run.

Everything listens on 127.0.0.1 only. ``freeswitch.xml`` includes
``acl.conf.xml`` and ``dialplan.xml`` so tests can rewrite those and
``reloadxml``.
"""

from xml.sax.saxutils import quoteattr

MODULES = ("mod_console", "mod_logfile", "mod_event_socket", "mod_commands", "mod_dptools",
           "mod_sofia", "mod_dialplan_xml", "mod_python3", "mod_cdr_csv", "mod_hash",
           "mod_distributor")

# The columns of every A-leg CDR (cdr_csv), for asserting what fsroute left on the channel.
CDR_FIELDS = ("sip_call_id", "uuid", "destination_number", "network_addr", "hangup_cause",
              "fsroute_result", "fsroute_route", "fsroute_number", "fsroute_gateway",
              "fsroute_attempts", "fsroute_rules_sha", "originate_disposition", "DIALSTATUS",
              "originate_failed_cause", "bridge_hangup_cause", "last_bridge_hangup_cause",
              "sip_term_status", "proto_specific_hangup_cause", "fsroute_lcr_carrier", "fsroute_lcr_rate",
              "start_epoch", "billsec", "caller_id_number", "fsroute_lcr_cost", "fsroute_lcr_sell_rate",
              "fsroute_lcr_margin", "fsroute_skipped")


def a(value):
    return quoteattr(str(value))


def cdr_template():
    return ",".join('"${%s}"' % f for f in CDR_FIELDS)


def gateway_xml(name, host, port, ping=5):
    return """      <gateway name=%s>
        <param name="realm" value=%s/>
        <param name="proxy" value=%s/>
        <param name="register" value="false"/>
        <param name="ping" value=%s/>
        <param name="caller-id-in-from" value="true"/>
      </gateway>""" % (a(name), a("%s:%d" % (host, port)), a("%s:%d" % (host, port)), a(ping))


def acl_xml(lists=None):
    """acl.conf.xml: ``lists`` = {name: (default "allow"|"deny", [(allow|deny, cidr), ...])}."""
    out = ['<configuration name="acl.conf" description="Network Lists">', "  <network-lists>"]
    for name, (default, nodes) in (lists or {}).items():
        out.append("    <list name=%s default=%s>" % (a(name), a(default)))
        out += ["      <node type=%s cidr=%s/>" % (a(kind), a(cidr)) for kind, cidr in nodes]
        out.append("    </list>")
    out += ["  </network-lists>", "</configuration>"]
    return "\n".join(out) + "\n"


def dialplan_xml(rules_path, extra_extensions=""):
    """The public context: probe extensions, then every other call through fsroute.

    ``probe-<gw>-<number>`` bridges once to a gateway without fsroute, for
    reading what a failed bridge leaves in the channel variables.
    A caller's ``X-Call-Timeout: N`` header sets ``call_timeout``, so a test
    can have a ringing gateway fail with NO_ANSWER after N s, not 60.
    """
    return """<include>
  <context name="public">
    <extension name="call_timeout" continue="true">
      <condition field="${sip_h_X-Call-Timeout}" expression="^([0-9]+)$">
        <action application="set" data="call_timeout=$1"/>
      </condition>
    </extension>
%s
    <extension name="probe">
      <condition field="destination_number" expression="^probe-([A-Za-z0-9_.-]+?)-(\\w+)$">
        <action application="set" data="continue_on_fail=true"/>
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="bridge" data="sofia/gateway/$1/$2"/>
        <action application="hangup" data="${originate_disposition}"/>
      </condition>
    </extension>
    <extension name="fsroute">
      <condition>
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="python" data=%s/>
      </condition>
    </extension>
  </context>
</include>
""" % (extra_extensions, a("fsroute.route " + rules_path))


def distributor_xml(lists=None):
    """mod_distributor's lists: ``lists`` = {name: [(gateway, weight), ...]}."""
    out = []
    for name, nodes in (lists or {}).items():
        out.append("        <list name=%s>" % a(name))
        out += ["          <node name=%s weight=%s/>" % (a(gw), a(w)) for gw, w in nodes]
        out.append("        </list>")
    return "\n".join(out)


def freeswitch_xml(ports, gateways, rtp_range, log_dir, python_startup=None, log_level="info",
                   distributor_lists=None, extra_modules=(), extra_config=""):
    """The main file. ``ports``: sip, esl; ``gateways``: {name: (host, port)};
    ``extra_modules`` are loaded after MODULES; ``extra_config``: more <configuration> elements."""
    gateway_text = "\n".join(gateway_xml(n, h, p) for n, (h, p) in sorted(gateways.items()))
    modules = "\n".join('        <load module="%s"/>' % m for m in MODULES + tuple(extra_modules))
    startup = ('<param name="startup-script" value=%s/>' % a(python_startup)) if python_startup else ""
    return """<?xml version="1.0"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="set" data="domain=127.0.0.1"/>
  <section name="configuration" description="Various Configuration">
    <configuration name="switch.conf" description="Core Configuration">
      <settings>
        <param name="colorize-console" value="false"/>
        <param name="max-sessions" value="2000"/>
        <param name="sessions-per-second" value="1000"/>
        <param name="loglevel" value="debug"/>
        <param name="rtp-start-port" value="%(rtp_start)d"/>
        <param name="rtp-end-port" value="%(rtp_end)d"/>
        <param name="dump-cores" value="no"/>
      </settings>
    </configuration>
    <configuration name="modules.conf" description="Modules">
      <modules>
%(modules)s
      </modules>
    </configuration>
    <configuration name="console.conf" description="Console Logger">
      <mappings><map name="all" value="console,debug,info,notice,warning,err,crit,alert"/></mappings>
      <settings><param name="colorize" value="false"/><param name="loglevel" value="info"/></settings>
    </configuration>
    <configuration name="logfile.conf" description="File Logging">
      <settings><param name="rotate-on-hup" value="true"/></settings>
      <profiles>
        <profile name="default">
          <settings>
            <param name="rollover" value="0"/>
            <param name="uuid" value="true"/>
          </settings>
          <mappings><map name="all" value="%(log_level)s,notice,warning,err,crit,alert"/></mappings>
        </profile>
      </profiles>
    </configuration>
    <configuration name="event_socket.conf" description="Socket Client">
      <settings>
        <param name="nat-map" value="false"/>
        <param name="listen-ip" value="127.0.0.1"/>
        <param name="listen-port" value="%(esl)d"/>
        <param name="password" value="ClueCon"/>
      </settings>
    </configuration>
    <configuration name="cdr_csv.conf" description="CDR CSV Format">
      <settings>
        <param name="log-base" value=%(log_dir)s/>
        <param name="default-template" value="fsroute"/>
        <param name="rotate-on-hup" value="true"/>
        <param name="legs" value="a"/>
      </settings>
      <templates>
        <template name="fsroute">%(cdr)s</template>
      </templates>
    </configuration>
    <configuration name="python.conf" description="Python">
      <settings>%(startup)s</settings>
    </configuration>
    <configuration name="distributor.conf" description="Distributor">
      <lists>
%(distributor)s
      </lists>
    </configuration>
    <X-PRE-PROCESS cmd="include" data="acl.conf.xml"/>
%(extra_config)s
    <configuration name="sofia.conf" description="sofia Endpoint">
      <global_settings>
        <param name="log-level" value="0"/>
        <param name="debug-presence" value="0"/>
      </global_settings>
      <profiles>
        <profile name="external">
          <gateways>
%(gateways)s
          </gateways>
          <settings>
            <param name="sip-ip" value="127.0.0.1"/>
            <param name="rtp-ip" value="127.0.0.1"/>
            <param name="ext-sip-ip" value="127.0.0.1"/>
            <param name="ext-rtp-ip" value="127.0.0.1"/>
            <param name="sip-port" value="%(sip)d"/>
            <param name="context" value="public"/>
            <param name="dialplan" value="XML"/>
            <param name="auth-calls" value="false"/>
            <param name="inbound-codec-prefs" value="PCMU"/>
            <param name="outbound-codec-prefs" value="PCMU"/>
            <param name="dtmf-type" value="rfc2833"/>
            <param name="manage-presence" value="false"/>
            <param name="disable-register" value="true"/>
            <param name="rtp-timer-name" value="soft"/>
            <param name="inbound-late-negotiation" value="false"/>
            <param name="aggressive-nat-detection" value="false"/>
            <param name="media-option" value="none"/>
          </settings>
        </profile>
      </profiles>
    </configuration>
  </section>
  <section name="dialplan" description="Regex/XML Dialplan">
    <X-PRE-PROCESS cmd="include" data="dialplan.xml"/>
  </section>
  <section name="directory" description="User Directory">
    <domain name="127.0.0.1"/>
  </section>
</document>
""" % {"rtp_start": rtp_range[0], "rtp_end": rtp_range[1], "modules": modules, "log_level": log_level,
       "esl": ports["esl"], "sip": ports["sip"], "cdr": cdr_template(), "startup": startup,
       "gateways": gateway_text, "log_dir": a(log_dir),
       "distributor": distributor_xml(distributor_lists), "extra_config": extra_config}
