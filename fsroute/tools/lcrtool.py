"""``fsroute lcr``: which carriers a number would go to, cheapest first, and why.

Reads the rules file and the decks its carriers name (in this process: no
switch needed), finds the number's route like a call would, and prints each
carrier's matched prefix, rate, effective dates and dial string, the ones
above max_rate marked, then the carriers that do not serve the number.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

from fsroute.core import decks, lcr, loader, margin, router
from fsroute.core.accounts import own_sell_deck
from fsroute.core.calendars import Moment
from fsroute.core.decks import Deck, date_text, rate_text
from fsroute.core.model import Problem, RuleSet, RulesError
from fsroute.core.timespec import read_at
from fsroute.runtime.accounts import read_table


def load_decks(rules: RuleSet) -> Dict[str, Deck]:
    """{deck path: Deck} of every carrier in ``rules``, read here, apart from the process's shared decks
    (runtime.deckstore); raises RulesError listing every bad row of all."""
    loaded: Dict[str, Deck] = {}
    problems: List[Problem] = []
    for path in rules.deck_paths():
        try:
            loaded[path] = decks.load(path)
        except RulesError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RulesError(problems)
    return loaded


def ranking_text(path: str, number: str, at: Optional[str] = None, sell: Optional[str] = None,
                 account: Optional[str] = None) -> Tuple[bool, str]:
    """(whether ``number`` reaches a least-cost route at ``at`` (timespec.read_at; None: now), the ranking
    or why not as text); raises RulesError for bad rules or decks, SpecError for ``at``. Time conditions of
    the routes are judged at that instant too. Each carrier's cost of the expected call is shown with how it
    was reached; with a sell side (the route's default sell deck, or ``sell`` as the call's variable would
    name it; else the sell deck of ``account``'s row, read with the accounts table) the margin of each, and
    which break the route's min_margin."""
    rules = loader.load(path)
    by_path = load_decks(rules)
    if at is None:
        now = int(time.time())
        shown = date_text(now)
    else:
        seconds, shown = read_at(at, rules.defaults.tz)
        now = int(seconds)
    route, match, _ = router.find_route(rules, {"destination_number": number}.get, number, None, Moment(now))
    if route is None or route.lcr is None:
        return False, "%s: %s\n" % (number, "no route matches" if route is None
                                    else "route '%s' is not a least-cost route" % route.name)
    digits = route.rewrite(match, number)
    if not lcr.is_lookup_number(digits):
        return False, "%s: route '%s' gives %r, which is not all digits\n" % (number, route.name, digits)
    spec = route.lcr
    length = lcr.call_length(spec)
    call_seconds = length.seconds
    measured_in_switch = rules.defaults.quality is not None and length.source == lcr.DEFAULT
    ranking = lcr.rank(spec.carriers, lambda c: by_path[c.deck], digits, now, call_seconds)
    lines = ["number %s -> route '%s' looks up %s at %s; max_rate %s"
             % (number, route.name, digits, shown,
                rate_text(spec.max_rate) if spec.max_rate is not None else "none"),
             "each carrier priced as a %d s call (%s): connect_fee + rate x billed seconds / 60, the seconds "
             "billed in the row's increments (initial/next; none: 1/1)"
             % (call_seconds, length.why() + (UNMEASURED if measured_in_switch else ""))]
    sale = None
    if spec.margin is not None:
        variables = {spec.margin.sell_variable: sell} if sell else {}
        accounts = rules.accounts
        account_deck: Optional[margin.AccountDeck] = None
        if accounts is not None and account:
            named = (account, own_sell_deck(accounts, read_table(accounts, rules.sell_decks).sell_decks, account))
            account_deck = lambda get: named  # noqa: E731
        sale, unsold = margin.sale_for(spec.margin, rules.sell_decks, variables.get, lambda d: by_path[d.deck],
                                       digits, now, call_seconds, account_deck,
                                       accounts.sell_deck if accounts is not None else None)
        lines.append("sold at: %s" % ("sell deck %s (%s), prefix %s: %s" % (
            sale.deck, "--sell" if sell else sale.source, sale.prefix, sale.tariff.explain(call_seconds))
            if sale is not None else "unknown, %s" % unsold))
    lines.append("%-3s %-16s %-15s %-10s %-7s %-8s %-10s %-4s %-21s %-21s %s" % (
        "#", "carrier", "prefix", "rate", "incr", "fee", "cost", "cur", "effective_from", "effective_to", "dial"))
    for place, quote in enumerate(ranking.quotes, 1):
        carrier, row, tariff = quote.carrier, quote.details(), quote.tariff()
        target = carrier.gateway or "group %s" % carrier.group
        notes = []
        if spec.max_rate is not None and quote.rate > spec.max_rate:
            notes.append("above max_rate: not used")
        if sale is not None:
            notes.append("margin %s" % margin.margin_text(sale.revenue, quote.cost))
        if spec.margin is not None and spec.margin.guarded and (
                sale is None or not margin.keeps(spec.margin, sale.revenue, quote.cost)):
            notes.append("below %s: not used" % margin.minimum_text(spec.margin))
        lines.append("%-3d %-16s %-15s %-10s %-7s %-8s %-10s %-4s %-21s %-21s %s/%s%s" % (
            place, carrier.name, row.prefix, rate_text(row.rate), "%d/%d" % tariff.increments,
            rate_text(tariff.connect_fee), rate_text(quote.cost), carrier.currency or "-",
            date_text(row.effective_from), date_text(row.effective_to), target,
            carrier.dial_number(digits, _unfilled), "  (%s)" % "; ".join(notes) if notes else ""))
    served = {q.carrier.name for q in ranking.quotes}
    for carrier in spec.carriers:
        if carrier.name not in served:
            lines.append("-   %-16s no prefix of %s in force" % (carrier.name, digits))
    return True, "\n".join(lines) + "\n"


# The rules measure quality, but only the switch has the windows: the default stands here.
UNMEASURED = ("; the destination's measured ACD is known inside the switch only: 'python fsroute.ctl test' "
              "prices with it")


def _unfilled(name: str) -> str:
    """A carrier format's ${name} as written: there is no call to fill it in from."""
    return "${%s}" % name
