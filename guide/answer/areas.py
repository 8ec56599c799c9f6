"""Recognise local authority areas named in a question."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Local authorities with education and SEND duties in England (county councils, unitary authorities,
# metropolitan boroughs and London boroughs), used only to notice that a question names a place the
# knowledge base may not cover. Smaller names come after the larger names that contain them.
ENGLISH_AREAS = """
Barking and Dagenham|Barnet|Bexley|Brent|Bromley|Camden|City of London|Croydon|Ealing|Enfield|Greenwich|Hackney|
Hammersmith and Fulham|Haringey|Harrow|Havering|Hillingdon|Hounslow|Islington|Kensington and Chelsea|
Kingston upon Thames|Lambeth|Lewisham|Merton|Newham|Redbridge|Richmond upon Thames|Southwark|Sutton|
Tower Hamlets|Waltham Forest|Wandsworth|Westminster|Barnsley|Birmingham|Bolton|Bradford|Bury|Calderdale|
Coventry|Doncaster|Dudley|Gateshead|Kirklees|Knowsley|Leeds|Liverpool|Manchester|Newcastle upon Tyne|
North Tyneside|Oldham|Rochdale|Rotherham|Salford|Sandwell|Sefton|Sheffield|Solihull|South Tyneside|St Helens|
Stockport|Sunderland|Tameside|Trafford|Wakefield|Walsall|Wigan|Wirral|Wolverhampton|Bath and North East Somerset|
Bedford|Blackburn with Darwen|Blackpool|Bournemouth, Christchurch and Poole|Bracknell Forest|Brighton and Hove|
Bristol|Buckinghamshire|Central Bedfordshire|Cheshire East|Cheshire West and Chester|Cornwall|Cumberland|
Darlington|Derby|Dorset|Durham|East Riding of Yorkshire|Halton|Hartlepool|Herefordshire|Isle of Wight|
Isles of Scilly|Kingston upon Hull|Hull|Leicester|Luton|Medway|Middlesbrough|Milton Keynes|North East Lincolnshire|
North Lincolnshire|North Northamptonshire|North Somerset|North Yorkshire|Nottingham|Peterborough|Plymouth|
Portsmouth|Reading|Redcar and Cleveland|Rutland|Shropshire|Slough|Somerset|South Gloucestershire|Southampton|
Southend-on-Sea|Southend|Stockton-on-Tees|Stoke-on-Trent|Swindon|Telford and Wrekin|Thurrock|Torbay|Warrington|
West Berkshire|West Northamptonshire|Westmorland and Furness|Wiltshire|Windsor and Maidenhead|Wokingham|York|
Cambridgeshire|Derbyshire|Devon|East Sussex|Essex|Gloucestershire|Hampshire|Hertfordshire|Kent|Lancashire|
Leicestershire|Lincolnshire|Norfolk|Nottinghamshire|Oxfordshire|Staffordshire|Suffolk|Surrey|Warwickshire|
West Sussex|Worcestershire|Northamptonshire|Cumbria|Northumberland|Cheshire|Yorkshire|Sussex|Berkshire|
Bedfordshire|Lincoln|Oxford|Cambridge|Gloucester|Exeter|Norwich|Ipswich|Northampton|Canterbury|Bournemouth|Poole|
Isle of Man|Jersey|Guernsey
"""


@dataclass(frozen=True)
class AreaMatch:
    name: str
    doc_ids: tuple[str, ...]  # inspection documents for this area (empty when the knowledge base has none)


# Place names that are also everyday words only count when capitalised.
_COMMON_WORDS = {"Reading", "Bury", "Sutton", "Brent", "Halton", "Poole", "Jersey"}


def _alternatives(name: str) -> str:
    escaped = re.escape(name).replace(r"\ ", r"[\s-]+")
    if name in _COMMON_WORDS:
        return "(?-i:" + escaped + ")"
    return escaped


def _pattern(names: list[str]) -> re.Pattern:
    ordered = sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(_alternatives(n) for n in ordered) + r")\b", re.I)


class AreaFinder:
    """Finds the areas a question names: those with an inspection document, and any other English area."""

    def __init__(self, inspection_areas: dict[str, tuple[str, ...]]):
        # inspection_areas: lower-cased area name or alias -> inspection doc ids
        self.known = {k.lower(): v for k, v in inspection_areas.items()}
        self._known_re = _pattern(list(inspection_areas)) if inspection_areas else None
        names = [a.strip() for a in ENGLISH_AREAS.replace("\n", "").split("|") if a.strip()]
        self._any_re = _pattern(names)
        self._canonical = {n.lower(): n for n in names}

    def find(self, text: str) -> list[AreaMatch]:
        found: dict[str, AreaMatch] = {}
        spans: list[tuple[int, int]] = []
        if self._known_re:
            for m in self._known_re.finditer(text):
                key = re.sub(r"[\s-]+", " ", m.group(1).lower())
                found.setdefault(key, AreaMatch(m.group(1), self.known.get(key, ())))
                spans.append(m.span())
        for m in self._any_re.finditer(text):
            if any(s <= m.start() < e for s, e in spans):
                continue  # part of a longer known name, e.g. "Somerset" inside "North Somerset"
            key = re.sub(r"[\s-]+", " ", m.group(1).lower())
            found.setdefault(key, AreaMatch(self._canonical.get(key, m.group(1)), self.known.get(key, ())))
        return list(found.values())
