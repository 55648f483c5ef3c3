"""Every outcome of a call has exactly one action, in one place (model.action_for)."""

import pytest

from fsroute.core.model import Action, Defaults, Lcr, Outcome, Route, action_for


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_an_action(outcome):
    assert isinstance(action_for(outcome, Defaults()), Action)


def test_refusals_and_errors_take_their_configured_action():
    defaults = Defaults(on_no_route=Action(None), on_denied=Action("USER_BUSY"), on_error=Action("SWITCH_CONGESTION"))
    assert action_for(Outcome.NO_ROUTE, defaults) == Action(None)
    assert action_for(Outcome.DENIED, defaults) == Action("USER_BUSY")
    assert action_for(Outcome.ERROR, defaults) == Action("SWITCH_CONGESTION")
    assert action_for(Outcome.ALL_DOWN, defaults) == Action("NORMAL_TEMPORARY_FAILURE")
    assert action_for(Outcome.INVALID_NUMBER, defaults) == Action("INVALID_NUMBER_FORMAT")
    assert action_for(Outcome.ALL_BUSY, defaults) == Action("NORMAL_CIRCUIT_CONGESTION")
    assert action_for(Outcome.ALL_BUSY, Defaults(on_all_busy=Action("USER_BUSY"))) == Action("USER_BUSY")


def test_no_carrier_takes_the_lcr_routes_own_action_else_the_default():
    defaults = Defaults(on_no_carrier=Action("USER_BUSY"))
    assert action_for(Outcome.NO_CARRIER, Defaults()) == Action("NO_ROUTE_DESTINATION")
    assert action_for(Outcome.NO_CARRIER, defaults) == Action("USER_BUSY")
    route = Route("r", 1, None, (), None, None, None, None, lcr=Lcr((), None, None))
    assert action_for(Outcome.NO_CARRIER, defaults, route=route) == Action("USER_BUSY")
    own = route._replace(lcr=Lcr((), None, Action(None)))
    assert action_for(Outcome.NO_CARRIER, defaults, route=own) == Action(None)
    assert action_for(Outcome.NO_ROUTE, defaults, route=own) == Action("NO_ROUTE_DESTINATION")


def test_a_failed_bridge_hangs_up_with_its_cause_or_the_fallback():
    assert action_for(Outcome.FAILED, Defaults(), "USER_BUSY") == Action("USER_BUSY")
    assert action_for(Outcome.FAILED, Defaults(), "SUCCESS") == Action("NORMAL_TEMPORARY_FAILURE")
    assert action_for(Outcome.FAILED, Defaults(), "NOT_A_CAUSE") == Action("NORMAL_TEMPORARY_FAILURE")
    assert action_for(Outcome.BRIDGED, Defaults()) == Action(None)


def test_outcomes_are_the_strings_calls_leave_behind():
    assert [o.value for o in Outcome] == ["bridged", "no_route", "denied", "all_down", "invalid_number",
                                          "all_busy", "no_carrier", "failed", "error", "blocked", "transferred",
                                          "continued", "no_margin", "over_limit", "fraud_blocked"]
    assert "%s" % Outcome.NO_ROUTE == "no_route"


def test_accounts_and_fraud_outcomes_take_on_over_limit_and_the_rules_on_block():
    from fsroute.core.model import FraudRule
    assert action_for(Outcome.OVER_LIMIT, Defaults()) == Action("NORMAL_CIRCUIT_CONGESTION")
    assert action_for(Outcome.FRAUD_BLOCKED, Defaults()) == Action("OUTGOING_CALL_BARRED")
    rule = FraudRule("r", 1, on_block=Action(None))
    assert action_for(Outcome.FRAUD_BLOCKED, Defaults(), fraud_rule=rule) == Action(None)


def test_route_actions_take_the_blocking_rules_cause_or_let_the_call_go_on():
    assert action_for(Outcome.BLOCKED, Defaults(), "USER_BUSY") == Action("USER_BUSY")
    assert action_for(Outcome.TRANSFERRED, Defaults()) == Action(None)
    assert action_for(Outcome.CONTINUED, Defaults()) == Action(None)
