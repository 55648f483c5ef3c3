"""The metrics page: the call counters plus the state in force when it is scraped.

Served by ``python fsroute.ctl metrics`` and by the HTTP endpoint
(``defaults.metrics_listen``). Gauges are read here from the stores and the
poller's readings, so calls pay nothing for them.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

from . import events, metrics, quality
from .poller import Poller
from .store import RulesStore


def text(stores: Iterable[RulesStore], poller: Poller) -> str:
    """Everything, in the Prometheus text exposition format."""
    info: List[metrics.Sample] = []
    routes: List[metrics.Sample] = []
    loaded_at: List[metrics.Sample] = []
    reload_error: List[metrics.Sample] = []
    up: Dict[Tuple[str, str], int] = {}
    readable: Dict[str, int] = {}
    held: List[metrics.Sample] = []
    measured: Dict[str, List[metrics.Sample]] = {name: [] for name, _ in quality.FAMILIES}
    bridging: List[metrics.Sample] = []
    readings = poller.readings()
    for profile, (down, _, trusted) in readings.items():
        readable[profile] = 1 if down is not None and trusted else 0
    for store in stores:
        path = (store.path,)
        reload_error.append(("fsroute_rules_reload_error", ("path",), path, 1 if store.last_error else 0))
        generation = store.generation
        if generation is None:
            continue
        rules = generation.rules
        info.append(("fsroute_rules_info", ("path", "sha"), path + (rules.sha,), 1))
        routes.append(("fsroute_rules_routes", ("path",), path, len(rules.routes)))
        loaded_at.append(("fsroute_rules_loaded_timestamp_seconds", ("path",), path, generation.loaded_at))
        admin = generation.admin
        if generation.quality is not None:
            for name, found in quality.samples(generation.quality, store.path).items():
                measured[name] += found
        for name, why in sorted(admin.all_held().items()):
            held.append(("fsroute_gateway_out_of_service", ("path", "gateway", "state"), path + (name, why.state), 1))
        for name in sorted(rules.gateway_names()):
            bridging.append(("fsroute_gateway_bridging", ("path", "gateway"), path + (name,), admin.bridging(name)))
        for name in rules.gateway_names():
            profile = rules.profile_of(name)
            down, _, trusted = readings.get(profile, (None, 0.0, False))
            if down is not None and trusted:
                up[(name, profile)] = 0 if name in down else 1
    families: List[Tuple[str, str, List[metrics.Sample]]] = [
        ("fsroute_rules_info", "The rules file in force and its sha (value 1).", info),
        ("fsroute_rules_routes", "Routes in the rules in force.", routes),
        ("fsroute_rules_loaded_timestamp_seconds", "When the rules in force were loaded (Unix time).", loaded_at),
        ("fsroute_rules_reload_error", "1 while the newest version of the file is refused "
         "(the last good rules stay in force).", reload_error),
        ("fsroute_gateway_up", "1 when the newest gwlist reading has the gateway up, 0 when down "
         "(absent while its profile's reading is unknown or stale).",
         [("fsroute_gateway_up", ("gateway", "profile"), key, value) for key, value in sorted(up.items())]),
        ("fsroute_gwlist_readable", "1 when the newest 'sofia profile P gwlist down' reading is usable and recent enough to be trusted.",
         [("fsroute_gwlist_readable", ("profile",), (p,), v) for p, v in sorted(readable.items())]),
        ("fsroute_gateway_out_of_service", "1 while the operator has the gateway drained or disabled "
         "(python fsroute.ctl drain|disable|enable).", held),
        ("fsroute_gateway_bridging", "Calls of this rules file in a bridge through the gateway now (ringing or up).",
         bridging),
    ]
    families += [(name, help_text, measured[name]) for name, help_text in quality.FAMILIES]
    dropped = metrics.family("fsroute_route_events_dropped_total", "counter", "fsroute::route events not fired "
                             "because %d calls' events were already waiting for the events thread." % events.MAX_UNFIRED,
                             [("fsroute_route_events_dropped_total", (), (), events.dropped())])
    return metrics.text() + dropped + "".join(metrics.family(name, "gauge", help_text, samples)
                                              for name, help_text, samples in families)
