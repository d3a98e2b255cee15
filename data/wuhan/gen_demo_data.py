#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates the Wuhan demo data set: data/wuhan/districts/<id>.csv.

A development tool, not needed at run time. Python 3, standard library only,
deterministic (no clock, no random state: per-district variation comes from
fixed hashes of the names).

    python3 data/wuhan/gen_demo_data.py             # write the 14 CSV files
    python3 data/wuhan/gen_demo_data.py --verify    # check them against the seed

Generation needs nothing outside this directory: the city-wide totals are
embedded below. They were chosen so that the catalog's formulas, applied to the
sums over all reporters and rounded to the indicator's decimals, give exactly
the figures of the mid-term report (seed-table.csv). --verify recomputes every
series and period from the files on disk, parsing catalog.conf and
seed-table.csv (default ../shared/reference beside the repository, or
--seed-dir DIR), and fails loudly on any difference.
"""

import argparse
import csv
import hashlib
import os
import re
import sys
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(HERE, "districts")
CATALOG = os.path.join(HERE, "catalog.conf")
DEFAULT_SEED_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "reference"))

PERIODS = ["2015", "2016", "2017", "2018H1"]
MONTHS = {"2015": 12, "2016": 12, "2017": 12, "2018H1": 6}

# ---------------------------------------------------------------------------
# Reporters. Resident population 2017 in 10 000 (weights for the split),
# central (中心城区) or outer (新城区).
# ---------------------------------------------------------------------------
DISTRICTS = [
    # id, name_zh, name_en, residents 2017 (10k), central?
    ("jiangan", "江岸区", "Jiang'an", 96, True),
    ("jianghan", "江汉区", "Jianghan", 73, True),
    ("qiaokou", "硚口区", "Qiaokou", 87, True),
    ("hanyang", "汉阳区", "Hanyang", 65, True),
    ("wuchang", "武昌区", "Wuchang", 128, True),
    ("qingshan", "青山区", "Qingshan", 53, True),
    ("hongshan", "洪山区", "Hongshan", 172, True),
    ("dongxihu", "东西湖区", "Dongxihu", 56, False),
    ("hannan", "汉南区", "Hannan", 13, False),
    ("caidian", "蔡甸区", "Caidian", 74, False),
    ("jiangxia", "江夏区", "Jiangxia", 97, False),
    ("huangpi", "黄陂区", "Huangpi", 113, False),
    ("xinzhou", "新洲区", "Xinzhou", 87, False),
]
DIDS = [d[0] for d in DISTRICTS]
CITY = ("wuhan", "武汉市(市本级)", "Wuhan city office")

# Element ids in catalog order, with their level (district / city) and kind.
ELEMENTS = [
    ("assistance_applicants", "district", "flow"),
    ("verified_applicants", "district", "flow"),
    ("dibao_audited_cases", "district", "count"),
    ("dibao_precise_cases", "district", "count"),
    ("urban_dibao_standard", "city", "amount"),
    ("urban_consumption", "city", "amount"),
    ("rural_dibao_standard", "city", "amount"),
    ("rural_consumption", "city", "amount"),
    ("communities", "district", "count"),
    ("demo_communities", "district", "count"),
    ("streets", "district", "count"),
    ("streets_with_service_center", "district", "count"),
    ("households", "district", "count"),
    ("community_service_area", "district", "amount"),
    ("urban_communities", "district", "count"),
    ("rural_communities", "district", "count"),
    ("urban_community_orgs", "district", "count"),
    ("rural_community_orgs", "district", "count"),
    ("new_orgs", "district", "flow"),
    ("registered_orgs", "district", "count"),
    ("residents", "district", "count"),
    ("incubator_bases", "district", "count"),
    ("district_level_units", "city", "count"),
    ("volunteers", "district", "count"),
    ("social_workers", "district", "count"),
    ("urban_community_social_workers", "district", "count"),
    ("rural_community_social_workers", "district", "count"),
    ("care_beds", "district", "count"),
    ("elderly", "district", "count"),
    ("nursing_beds", "district", "count"),
    ("urban_communities_with_home_care", "district", "count"),
    ("rural_communities_with_care_station", "district", "count"),
    ("marriage_registrations", "district", "flow"),
    ("marriage_ceremonies", "district", "flow"),
    ("adoption_registrations", "district", "flow"),
    ("adoptions_compliant", "district", "flow"),
]
ELEMENT_ORDER = [e[0] for e in ELEMENTS]

# ---------------------------------------------------------------------------
# City-wide totals per period (None = not reported: the seed prints no figure
# this element would produce). The comment names the seed figure reproduced.
# ---------------------------------------------------------------------------
_ = None
TOTALS = {
    #                                    2015      2016      2017    2018H1
    # row 1: verified / applicants = 99 100 100 100 %
    "assistance_applicants":         [32400,    35800,    38200,    19600],
    "verified_applicants":           [32076,    35800,    38200,    19600],
    # row 2: precise / audited = 93 94.1 95.2 95.7 %
    "dibao_audited_cases":           [12000,    12000,    13000,     8000],
    "dibao_precise_cases":           [11160,    11292,    12376,     7656],
    # row 3 (city office): standard * 1200 / consumption
    #   urban 32 30.07 30.29 30.05, rural 32 33.38 40.67 44
    "urban_dibao_standard":          [620,      650,      700,      740],
    "urban_consumption":             [23250,    25939,    27732,    29551],
    "rural_dibao_standard":          [400,      430,      540,      605],
    "rural_consumption":             [15000,    15458,    15933,    16500],
    # row 4: demo / communities = 40 51 56 56 %
    "communities":                   [3300,     3300,     3300,     3300],
    "demo_communities":              [1320,     1683,     1848,     1848],
    # row 5: 100 % throughout (streets: fixed table below)
    "streets":                       [157,      157,      157,      157],
    "streets_with_service_center":   [157,      157,      157,      157],
    # row 6: area / households * 100 = 26 27 28 28 m2
    "households":                    [3520000,  3600000,  3680000,  3710000],
    "community_service_area":        [915200,   972000,   1030400,  1038800],
    # rows 7, 15, 20 (urban) and 8, 16, 21 (rural)
    "urban_communities":             [1380,     1400,     1400,     1400],
    "rural_communities":             [1920,     1900,     1900,     1900],
    # row 7: 10 11 12 13 per urban community
    "urban_community_orgs":          [13800,    15400,    16800,    18200],
    # row 8: 3.5 per rural community, 2018H1 only
    "rural_community_orgs":          [_,        _,        _,        6650],
    # row 9: 2000 1190 1598 per year, 892 in the half year (annualised 1784)
    "new_orgs":                      [2000,     1190,     1598,     892],
    # row 10: 5200 5563 6177 6392
    "registered_orgs":               [5200,     5563,     6177,     6392],
    # rows 11, 13, 14: 2015 = 10 M makes row 11 exactly 5.2 there
    "residents":                     [10000000, 10700000, 11880000, 11020000],
    # row 12: 7 7 9 of 15 district-level units (fixed table below)
    "incubator_bases":               [_,        7,        7,        9],
    "district_level_units":          [_,        15,       15,       15],
    # row 13: volunteers / residents = 12 (2016 missing) 10 14.01 %
    "volunteers":                    [1200000,  _,        1188000,  1543902],
    # row 14: social workers per 10k residents = 8.6 8.8 (rounded to 1 decimal)
    "social_workers":                [_,        _,        10217,    9698],
    # row 15: 1.25 1.65 1.7 per urban community
    "urban_community_social_workers": [_,       1750,     2310,     2380],
    # row 16: 0.5 0.6 0.65 0.75 per rural community
    "rural_community_social_workers": [960,     1140,     1235,     1425],
    # row 17: 6.1 6.3 6.48 6.96 x 10k beds
    "care_beds":                     [61000,    63000,    64800,    69600],
    # row 18: beds per 1000 elderly = 37 37.4 36.4 38.7 (rounded to 1 decimal)
    "elderly":                       [1648600,  1684500,  1780200,  1798450],
    # row 19: nursing / beds = 15 28.35 32 39 % (28.35 % of 63000 is 17860.5:
    # 17860 gives 28.3492, rounded 28.35)
    "nursing_beds":                  [9150,     17860,    20736,    27144],
    # row 20: 95 100 100 100 %
    "urban_communities_with_home_care": [1311,  1400,     1400,     1400],
    # row 21: 35 38 44 49 %
    "rural_communities_with_care_station": [672, 722,     836,      931],
    # row 22: ceremonies / registrations = (not started) 95 95 100 %
    "marriage_registrations":        [_,        86000,    82000,    40600],
    "marriage_ceremonies":           [_,        81700,    77900,    40600],
    # row 23: 100 % throughout
    "adoption_registrations":        [118,      104,      97,       46],
    "adoptions_compliant":           [118,      104,      97,       46],
}

# Streets per district (constant over the period).
STREETS = {
    "jiangan": 16, "jianghan": 13, "qiaokou": 11, "hanyang": 11, "wuchang": 14,
    "qingshan": 10, "hongshan": 14, "dongxihu": 12, "hannan": 3, "caidian": 11,
    "jiangxia": 14, "huangpi": 16, "xinzhou": 12,
}

# Urban and rural communities per district, 2016 onwards (sums 1400 and 1900).
URBAN_COMMUNITIES = {
    "jiangan": 200, "jianghan": 118, "qiaokou": 140, "hanyang": 125, "wuchang": 160,
    "qingshan": 105, "hongshan": 195, "dongxihu": 80, "hannan": 22, "caidian": 60,
    "jiangxia": 85, "huangpi": 65, "xinzhou": 45,
}
RURAL_COMMUNITIES = {
    "jiangan": 0, "jianghan": 0, "qiaokou": 0, "hanyang": 12, "wuchang": 0,
    "qingshan": 8, "hongshan": 62, "dongxihu": 75, "hannan": 38, "caidian": 270,
    "jiangxia": 330, "huangpi": 580, "xinzhou": 525,
}
# In 2015, 20 of the communities were still villages (converted in 2016).
CONVERTED_2016 = {"hongshan": 6, "dongxihu": 5, "jiangxia": 5, "caidian": 4}

INCUBATORS_2016 = ["jiangan", "jianghan", "qiaokou", "hanyang", "wuchang", "qingshan", "hongshan"]
INCUBATORS_2018H1 = INCUBATORS_2016 + ["dongxihu", "jiangxia"]

CENTRAL = {d[0] for d in DISTRICTS if d[4]}


def profile(central, outer, dids=None):
    """A per-district multiplier: `central` for central districts, else `outer`."""
    return {d: (central if d in CENTRAL else outer) for d in DIDS}


# How each remaining district-level element is split: the parent element whose
# per-district figure is the base of the weight, the spread of the per-district
# variation (a factor in [1 - spread, 1 + spread], fixed per district, plus a
# small per-period jitter), whether the parent caps the figure, and a profile
# (central / outer multiplier). Elements are split in this order, parents first.
SPLITS = [
    # element, parent, spread, capped, profile
    ("residents", None, 0.0, False, None),
    ("households", "residents", 0.08, False, profile(1.08, 0.93)),
    ("community_service_area", "households", 0.25, False, None),
    ("elderly", "residents", 0.15, False, profile(1.08, 0.93)),
    ("care_beds", "elderly", 0.25, False, None),
    ("nursing_beds", "care_beds", 0.30, True, None),
    ("assistance_applicants", "residents", 0.25, False, profile(0.85, 1.2)),
    ("verified_applicants", "assistance_applicants", 0.01, True, None),
    ("dibao_audited_cases", "assistance_applicants", 0.20, False, None),
    ("dibao_precise_cases", "dibao_audited_cases", 0.03, True, None),
    ("demo_communities", "communities", 0.20, True, None),
    ("urban_community_orgs", "urban_communities", 0.30, False, None),
    ("rural_community_orgs", "rural_communities", 0.30, False, None),
    ("registered_orgs", "residents", 0.30, False, profile(1.15, 0.8)),
    ("new_orgs", "registered_orgs", 0.25, False, None),
    ("volunteers", "residents", 0.25, True, profile(1.1, 0.9)),
    ("social_workers", "residents", 0.30, False, profile(1.15, 0.85)),
    ("urban_community_social_workers", "urban_communities", 0.30, False, None),
    ("rural_community_social_workers", "rural_communities", 0.30, False, None),
    ("urban_communities_with_home_care", "urban_communities", 0.05, True, None),
    ("rural_communities_with_care_station", "rural_communities", 0.30, True, None),
    ("marriage_registrations", "residents", 0.12, False, None),
    ("marriage_ceremonies", "marriage_registrations", 0.04, True, None),
    ("adoption_registrations", "residents", 0.40, False, None),
    ("adoptions_compliant", "adoption_registrations", 0.0, True, None),
]

CITY_ELEMENTS = [e for e, lvl, _k in ELEMENTS if lvl == "city"]


def unit_hash(*parts):
    """A deterministic number in [0, 1) from the given strings."""
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / float(1 << 64)


def variation(element, district, period, spread):
    """Per-district factor: fixed part plus a small per-period jitter."""
    fixed = 1 + spread * (2 * unit_hash("fixed", element, district) - 1)
    jitter = 1 + (spread / 6) * (2 * unit_hash("jitter", element, district, period) - 1)
    return fixed * jitter


def apportion(total, weights, caps=None):
    """Splits the whole number total over the keys of weights in proportion to
    the weights (largest-remainder method, exact integers; ties go to the key
    listed first). With caps, no key gets more than its cap: capped keys are
    fixed at their cap and the rest is split again among the others."""
    keys = list(weights)
    result = {}
    free = list(keys)
    remaining = total
    while True:
        w = {k: Fraction(weights[k]) for k in free}
        wsum = sum(w.values())
        if remaining and not wsum:
            raise ValueError("cannot split %d over zero weights" % remaining)
        quota = {k: (remaining * w[k] / wsum if wsum else Fraction(0)) for k in free}
        share = {k: int(quota[k]) for k in free}  # floor (quotas are >= 0)
        left = remaining - sum(share.values())
        order = sorted(free, key=lambda k: (-(quota[k] - share[k]), keys.index(k)))
        for k in order[:left]:
            share[k] += 1
        over = [k for k in free if caps is not None and share[k] > caps[k]]
        if not over:
            result.update(share)
            return {k: result[k] for k in keys}
        for k in over:
            result[k] = caps[k]
            remaining -= caps[k]
            free.remove(k)
        if remaining < 0:
            raise ValueError("caps below total")


def communities_table(period):
    urban = dict(URBAN_COMMUNITIES)
    rural = dict(RURAL_COMMUNITIES)
    if period == "2015":
        for d, n in CONVERTED_2016.items():
            urban[d] -= n
            rural[d] += n
    return urban, rural


def generate():
    """Returns {reporter: {period: {element: value}}}."""
    data = {r: {p: {} for p in PERIODS} for r in DIDS + [CITY[0]]}
    for pi, period in enumerate(PERIODS):
        tot = {e: v[pi] for e, v in TOTALS.items()}
        per = {}  # element -> {district: value}

        urban, rural = communities_table(period)
        per["urban_communities"] = urban
        per["rural_communities"] = rural
        per["communities"] = {d: urban[d] + rural[d] for d in DIDS}
        per["streets"] = dict(STREETS)
        per["streets_with_service_center"] = dict(STREETS)
        if tot["incubator_bases"] is not None:
            have = INCUBATORS_2018H1 if period == "2018H1" else INCUBATORS_2016
            per["incubator_bases"] = {d: (1 if d in have else 0) for d in DIDS}

        for element, parent, spread, capped, prof in SPLITS:
            total = tot[element]
            if total is None:
                continue
            if parent is None:  # residents: by the 2017 population table
                weights = {d[0]: d[3] for d in DISTRICTS}
                per[element] = apportion(total, weights)
                continue
            base = per[parent]
            weights = {}
            for d in DIDS:
                f = variation(element, d, period, spread) if spread else 1.0
                if prof:
                    f *= prof[d]
                # integer weights: exact, platform-independent arithmetic
                weights[d] = base[d] * int(round(f * 1000000))
            per[element] = apportion(total, weights, base if capped else None)

        for element, _lvl, _kind in ELEMENTS:
            if element in CITY_ELEMENTS:
                if tot[element] is not None:
                    data[CITY[0]][period][element] = tot[element]
                continue
            if tot[element] is None:
                continue
            vals = per[element]
            assert sum(vals.values()) == tot[element], element
            for d in DIDS:
                data[d][period][element] = vals[d]
    return data


def fmt(value):
    if isinstance(value, int):
        return str(value)
    q = Fraction(value).limit_denominator(100)
    s = "%.2f" % (q.numerator / q.denominator)
    return s.rstrip("0").rstrip(".")


def render(reporter, table):
    if reporter == CITY[0]:
        zh, en = CITY[1], CITY[2]
        what = "the city office's own elements (level = city)"
    else:
        _id, zh, en, _r, central = next(d for d in DISTRICTS if d[0] == reporter)
        en = "%s district (%s)" % (en, "central" if central else "outer")
        what = "district-level elements"
    lines = [
        "# %s %s: planwatch demo data, %s" % (zh, en, what),
        "# Synthetic figures whose city-wide sums reproduce the 2018 mid-term report;",
        "# generated by data/wuhan/gen_demo_data.py (see data/wuhan/README.md), do not edit.",
        "period,element,value",
    ]
    for period in PERIODS:
        for element in ELEMENT_ORDER:
            if element in table[period]:
                lines.append("%s,%s,%s" % (period, element, fmt(table[period][element])))
    return "\n".join(lines) + "\n"


def write_all():
    os.makedirs(OUT_DIR, exist_ok=True)
    data = generate()
    for reporter in DIDS + [CITY[0]]:
        path = os.path.join(OUT_DIR, reporter + ".csv")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(render(reporter, data[reporter]))
        print("wrote", os.path.relpath(path, REPO))


# ---------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------

# Seed cells that were not printed in the report (ASSUMED / DERIVED in the
# seed-table's cells column): no data is generated for them. Row 11's 2015
# base is one of them, but its elements are there for rows 10 and 13, so a
# value is computed: it must then equal the assumed 5.2.
NOT_PRINTED = {(8, "2015"), (11, "2015"), (14, "2015"), (15, "2015")}
# Printed but not reproducible from whole counts: row 12's base 30 % of 15
# district-level units would be 4.5 bases.
UNREPRODUCIBLE = {(12, "2015")}

SEED_COLUMNS = {"2015": "base_2015", "2016": "v2016", "2017": "v2017", "2018H1": "v2018H1"}


class VerifyError(Exception):
    pass


def parse_catalog(path):
    sections = []
    cur = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^\[(\w+)(?:\s+(\w+))?\]$", line)
            if m:
                cur = {"_type": m.group(1), "_id": m.group(2)}
                sections.append(cur)
                continue
            k, v = line.split("=", 1)
            cur[k.strip()] = v.strip()
    reporters = [s for s in sections if s["_type"] == "district"]
    elements = [s for s in sections if s["_type"] == "element"]
    indicators = [s for s in sections if s["_type"] == "indicator"]
    return reporters, elements, indicators


def parse_formula(text):
    """-> (kind, [elements], K as Fraction)."""
    t = text.split()
    k = Fraction(1)
    if "*" in t:
        i = t.index("*")
        k = Fraction(t[i + 1])
        t = t[:i]
    if t[0] in ("sum", "annualised") and len(t) == 2:
        return t[0], [t[1]], k
    if t[0] in ("ratio", "share") and len(t) == 4 and t[2] == "/":
        if t[0] == "share":
            k *= 100
        return "ratio", [t[1], t[3]], k
    raise VerifyError("formula not handled: %r" % text)


NUM_RE = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


def read_reporter_file(path, kinds):
    """Strict reading of one CSV -> {period: {element: Fraction}}."""
    out = {}
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if "\r" in text or "\ufeff" in text:
        raise VerifyError("%s: CR or BOM" % path)
    header_seen = False
    last_key = None
    comments = 0
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            if header_seen:
                raise VerifyError("%s:%d: comment after header" % (path, n))
            comments += 1
            continue
        if not header_seen:
            if line != "period,element,value":
                raise VerifyError("%s:%d: bad header %r" % (path, n, line))
            header_seen = True
            continue
        parts = line.split(",")
        if len(parts) != 3:
            raise VerifyError("%s:%d: %r" % (path, n, line))
        period, element, value = parts
        if period not in PERIODS or element not in kinds:
            raise VerifyError("%s:%d: unknown period or element" % (path, n))
        if not NUM_RE.match(value):
            raise VerifyError("%s:%d: bad value %r" % (path, n, value))
        if kinds[element] in ("count", "flow") and "." in value:
            raise VerifyError("%s:%d: count not whole: %r" % (path, n, value))
        key = (PERIODS.index(period), ELEMENT_ORDER.index(element))
        if last_key is not None and key <= last_key:
            raise VerifyError("%s:%d: out of order or duplicate" % (path, n))
        last_key = key
        out.setdefault(period, {})[element] = Fraction(value)
    if not header_seen or not 2 <= comments <= 3:
        raise VerifyError("%s: header or comment block missing" % path)
    return out


def round_half_away(x, decimals):
    scale = Fraction(10) ** decimals
    q = abs(x) * scale
    n = (q + Fraction(1, 2)).__floor__()
    return (n if x >= 0 else -n) / scale


def verify(seed_dir):
    reporters, elements, indicators = parse_catalog(CATALOG)
    kinds = {e["_id"]: e["kind"] for e in elements}
    levels = {e["_id"]: e["level"] for e in elements}
    if [e["_id"] for e in elements] != ELEMENT_ORDER:
        raise VerifyError("element order differs from the catalog")
    rep_ids = [r["_id"] for r in reporters]
    if rep_ids != DIDS + [CITY[0]]:
        raise VerifyError("reporters differ from the catalog: %r" % rep_ids)

    seed = {}
    with open(os.path.join(seed_dir, "seed-table.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            seed[(int(row["row"]), row["series"])] = row

    files = {}
    for r in reporters:
        path = os.path.join(OUT_DIR, r["_id"] + ".csv")
        files[r["_id"]] = read_reporter_file(path, kinds)

    # Files on disk are what the generator writes now.
    data = generate()
    for r in rep_ids:
        with open(os.path.join(OUT_DIR, r + ".csv"), encoding="utf-8") as f:
            if f.read() != render(r, data[r]):
                raise VerifyError("%s.csv is stale: regenerate" % r)

    # Level and completeness: every reporter of the level reports every element
    # present in a period.
    present = {p: set() for p in PERIODS}
    for r in reporters:
        for p, obs in files[r["_id"]].items():
            for e in obs:
                if levels[e] != r["level"]:
                    raise VerifyError("%s reports %s (level %s)" % (r["_id"], e, levels[e]))
                present[p].add(e)
    for p in PERIODS:
        for e in present[p]:
            who = [r["_id"] for r in reporters if r["level"] == levels[e]]
            missing = [r for r in who if e not in files[r].get(p, {})]
            if missing:
                raise VerifyError("%s %s: not reported by %s" % (p, e, missing))

    sums = {p: {} for p in PERIODS}
    for r in rep_ids:
        for p, obs in files[r].items():
            for e, v in obs.items():
                sums[p][e] = sums[p].get(e, 0) + v

    # Series of the catalog.
    series = []
    for ind in indicators:
        for k, v in ind.items():
            if k == "value" or k.startswith("value."):
                name = k[6:] if k.startswith("value.") else ""
                series.append((int(ind["row"]), ind["_id"], name, int(ind["decimals"]),
                               parse_formula(v)))

    def printed(row, name, p):
        cell = seed[(row, name)][SEED_COLUMNS[p]]
        return cell != "" and (row, p) not in NOT_PRINTED and (row, p) not in UNREPRODUCIBLE

    # Elements present exactly where a printed figure needs them.
    for p in PERIODS:
        need = set()
        for row, _id, name, _dec, (_kind, els, _k) in series:
            if printed(row, name, p):
                need.update(els)
        if need != present[p]:
            raise VerifyError("%s: present %s, needed %s" % (
                p, sorted(present[p] - need), sorted(need - present[p])))

    checked = 0
    extra = []
    print("row  series                               period   computed  seed")
    for row, iid, name, dec, (kind, els, k) in series:
        for p in PERIODS:
            label = iid + ("." + name if name else "")
            cell = seed[(row, name)][SEED_COLUMNS[p]]
            if not all(e in sums[p] for e in els):
                if printed(row, name, p):
                    raise VerifyError("%s %s: printed %s but not computable" % (label, p, cell))
                continue
            if kind == "sum":
                exact = sums[p][els[0]] * k
            elif kind == "annualised":
                exact = sums[p][els[0]] * k * 12 / MONTHS[p]
            else:
                exact = sums[p][els[0]] / sums[p][els[1]] * k
            got = round_half_away(exact, dec)
            # Floating point must not be able to flip the rounding: the exact
            # value lies well away from a rounding boundary (a half step).
            scaled = exact * 10 ** dec
            frac = scaled - scaled.__floor__()
            if abs(frac - Fraction(1, 2)) < Fraction(1, 10 ** 6):
                raise VerifyError("%s %s: %s is too close to a rounding boundary" % (
                    label, p, float(exact)))
            target = Fraction(cell) if cell != "" else None
            if row == 9 and p == "2018H1":
                target = Fraction(cell) * 12 / MONTHS[p]  # 892 in half a year
            shown = "%.*f" % (dec, got)
            if target is None:
                extra.append((label, p, shown))
                print("%3d  %-36s %-7s %9s  (not printed)" % (row, label, p, shown))
                continue
            if got != target:
                raise VerifyError("%s %s: computed %s (exact %.6f), seed %s" % (
                    label, p, float(got), float(exact), cell))
            note = "" if printed(row, name, p) else "  (seed cell not printed; equal)"
            if row == 9 and p == "2018H1":
                note = "  (half-year count; annualised %s)" % target
            print("%3d  %-36s %-7s %9s  %s%s" % (row, label, p, shown, cell, note))
            checked += 1

    sanity(files)
    print("verify: OK: %d series/period values equal the seed; %d computed without a seed figure"
          % (checked, len(extra)))
    return extra


def sanity(files):
    """Plausibility of each district's own figures."""
    le = [
        ("verified_applicants", "assistance_applicants"),
        ("dibao_precise_cases", "dibao_audited_cases"),
        ("demo_communities", "communities"),
        ("streets_with_service_center", "streets"),
        ("urban_communities_with_home_care", "urban_communities"),
        ("rural_communities_with_care_station", "rural_communities"),
        ("nursing_beds", "care_beds"),
        ("marriage_ceremonies", "marriage_registrations"),
        ("adoptions_compliant", "adoption_registrations"),
        ("volunteers", "residents"),
        ("elderly", "residents"),
        ("households", "residents"),
        ("registered_orgs", "residents"),
    ]
    for d in DIDS:
        for p, obs in files[d].items():
            for a, b in le:
                if a in obs and not obs[a] <= obs[b]:
                    raise VerifyError("%s %s: %s > %s" % (d, p, a, b))
            if obs["communities"] != obs["urban_communities"] + obs["rural_communities"]:
                raise VerifyError("%s %s: communities != urban + rural" % (d, p))
            if obs["rural_communities"] == 0:
                for e in ("rural_community_orgs", "rural_community_social_workers",
                          "rural_communities_with_care_station"):
                    if obs.get(e, 0) != 0:
                        raise VerifyError("%s %s: %s without rural communities" % (d, p, e))
            if "social_workers" in obs and obs["social_workers"] < (
                    obs["urban_community_social_workers"] + obs["rural_community_social_workers"]):
                raise VerifyError("%s %s: fewer social workers than community ones" % (d, p))
            if obs.get("incubator_bases", 0) > 1:
                raise VerifyError("%s %s: more than one incubator" % (d, p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verify", action="store_true",
                    help="check the files against catalog.conf and seed-table.csv")
    ap.add_argument("--seed-dir", default=DEFAULT_SEED_DIR,
                    help="directory holding seed-table.csv (verify only; default %(default)s)")
    args = ap.parse_args()
    if not args.verify:
        write_all()
        return 0
    try:
        verify(args.seed_dir)
    except VerifyError as e:
        print("verify: FAILED:", e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
